/**
 * `tributary speed`: supervises one worker process per job — the platform jobs and every active
 * deployment in the control plane. Deployments are re-read every two seconds: a new or updated use
 * case is started (or restarted) on its own while every other job keeps running, an undeployed one is
 * stopped. A crashed worker is restarted with exponential backoff; a paused one is left paused and
 * reported. Per-job metrics arrive over IPC and are served on /metrics, job status on /jobs.
 * SIGTERM stops every worker gracefully (each finishes its batch and commits).
 *
 * With `--only`/`--except` a supervisor takes a share of the jobs and others, elsewhere, the rest.
 * Each refreshes its row in the control plane every two seconds (deploy/supervisors.ts): that is how
 * `tributary list` sees every job, and how a job that no supervisor takes, or two do, is found.
 */
import { randomUUID } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server, type ServerResponse } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { AggregatorRegistry, Counter, Gauge } from 'prom-client';
import type { Config } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import type { PgPool } from '../core/postgres/index.js';
import { jobName, listDeployments, type Deployment } from './deploy/deployments.js';
import {
  forgetLongGone,
  heartbeat,
  leave,
  liveSupervisors,
  missingSupervisorsTable,
  PEER_GRACE_MS,
  placement,
  placementProblems,
  supervisorName,
  takes,
  type Placement,
  type Share,
} from './deploy/supervisors.js';
import { EXIT_ELSEWHERE, EXIT_PAUSED, PLATFORM_JOBS } from './worker.js';

/**
 * `lacking` and `elsewhere`: this release lacks the job's code, and its worker is looking for, or has
 * found, another supervisor that runs it (deploy/supervisors.ts, LACKING_STATES).
 */
export type SlotState =
  'starting' | 'running' | 'backoff' | 'paused' | 'lacking' | 'elsewhere' | 'stopping' | 'stopped';

export interface JobStatus {
  readonly job: string;
  readonly generation: number;
  readonly state: SlotState;
  readonly pid: number | undefined;
  readonly restarts: number;
  readonly startedAt: string | undefined;
  readonly lastExit: number | null | undefined;
  readonly metrics: Readonly<Record<string, number>>;
}

interface Slot {
  readonly job: string;
  generation: number;
  state: SlotState;
  child: ChildProcess | undefined;
  restarts: number;
  nextStartAt: number;
  startedAt: number | undefined;
  lastExit: number | null | undefined;
  lastSignal: NodeJS.Signals | null;
  metrics: MetricJson[];
  exited: Promise<void> | undefined;
}

/** A metric as a worker's registry serialises it (`getMetricsAsJSON`). */
interface MetricJson {
  readonly name: string;
  readonly values?: readonly {
    value: number;
    labels?: Record<string, string | number>;
    metricName?: string;
  }[];
}

const RECONCILE_MS = 2_000;
const STOP_TIMEOUT_MS = 30_000;

export interface SupervisorOptions {
  readonly config: Config;
  readonly logger: Logger;
  readonly pool: PgPool;
  /** Extra environment for the workers. */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Which jobs this supervisor runs (default: every platform job and every active deployment):
   * another supervisor, on another machine, can run the rest.
   */
  readonly share?: Share;
}

/** The jobs that should run, each with its generation: the platform jobs and the active deployments. */
export function jobsToRun(deployments: readonly Deployment[]): Map<string, number> {
  const jobs = new Map<string, number>(PLATFORM_JOBS.map((job) => [job, 0]));
  for (const d of deployments)
    if (d.status === 'active') jobs.set(jobName(d.usecase, d.variant), d.generation);
  return jobs;
}

const HEARTBEAT_MS = 2_000;

/** While the control plane cannot be refreshed, how often that is warned about again. */
const CONTROL_PLANE_WARN_MS = 60_000;

/** A worker that ran this long before it crashed starts its backoff afresh. */
const HEALTHY_RUN_MS = 60_000;

/** How a worker ended, for the logs. */
function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal !== null) return `signal ${signal}`;
  return code === null ? 'could not be started' : `exit code ${String(code)}`;
}

export class Supervisor {
  private readonly slots = new Map<string, Slot>();
  private timer: NodeJS.Timeout | undefined;
  private server: Server | undefined;
  private reconciling: Promise<void> = Promise.resolve();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private heartbeating: Promise<void> = Promise.resolve();
  /** The jobs that should run, this supervisor's or not, as of the last reconcile. */
  private wanted: readonly string[] = PLATFORM_JOBS;
  private stopping = false;
  private readonly id = randomUUID();
  private port = 0;
  private placed: Placement = { unplaced: [], standby: [], slotsDiffer: [] };
  /** When the placement was last checked (epoch ms), for the gauge that shows it going stale. */
  private checkedAt = 0;
  /** Heartbeats that failed, ever; and the current run of failures, if any. */
  private failures = 0;
  private failing: { count: number; since: number; warnedAt: number } | undefined;
  /** Placement problems seen, since when, and whether they were reported. */
  private readonly problems = new Map<string, { since: number; reported: boolean }>();
  /** The deployments as last read (readDeployments), and whether the last read failed. */
  private deployments: Deployment[] | undefined;
  private readFailing = false;

  constructor(private readonly options: SupervisorOptions) {}

  async start(port: number): Promise<number> {
    this.server = createServer((request, response) => {
      void this.answer(request.url ?? '/', response);
    });
    await new Promise<void>((resolve) => this.server?.listen(port, '127.0.0.1', resolve));
    const address = this.server.address();
    this.port = typeof address === 'object' && address !== null ? address.port : port;
    await forgetLongGone(this.options.pool).catch((error: unknown) => {
      this.options.logger.warn(
        { err: error },
        'could not clear long-gone supervisors from the control plane',
      );
    });
    this.reconciling = this.reconcile();
    await this.reconciling;
    this.heartbeating = this.beat();
    await this.heartbeating;
    if (this.stopping) return this.port; // closed while starting
    this.timer = setInterval(() => {
      this.reconciling = this.reconciling
        .then(() => this.reconcile())
        .catch((error: unknown) => {
          this.options.logger.error({ err: error }, 'reconciling deployments failed; retrying');
        });
    }, RECONCILE_MS);
    // Its own timer: a reconcile can wait up to STOP_TIMEOUT_MS for a worker to stop, longer than a
    // supervisor may stay silent before the others count it as gone.
    this.heartbeatTimer = setInterval(() => {
      this.heartbeating = this.heartbeating.then(() => this.beat());
    }, HEARTBEAT_MS);
    return this.port;
  }

  private async answer(url: string, response: ServerResponse): Promise<void> {
    if (url.startsWith('/metrics')) {
      const registry = AggregatorRegistry.aggregate([...this.slots.values()].map((s) => s.metrics));
      new Gauge({
        name: 'tributary_speed_unplaced_jobs',
        help: 'Jobs that should run and that no live supervisor takes (--only/--except shares) with a release that has their code',
        registers: [registry],
      }).set(this.placed.unplaced.length);
      new Gauge({
        name: 'tributary_speed_standby_jobs',
        help: 'Jobs more live supervisors take than they have slots (SPEED_SLOTS): the extra instances wait',
        registers: [registry],
      }).set(this.placed.standby.length);
      new Gauge({
        name: 'tributary_speed_slots_disagreeing_jobs',
        help: 'Jobs whose supervisors have different SPEED_SLOTS: the later instances cannot join the group',
        registers: [registry],
      }).set(this.placed.slotsDiffer.length);
      new Gauge({
        name: 'tributary_speed_placement_checked_timestamp_seconds',
        help: 'When this supervisor last refreshed its row and checked placement (0: never); the gauges above are as of then',
        registers: [registry],
      }).set(this.checkedAt / 1000);
      new Counter({
        name: 'tributary_speed_control_plane_failures_total',
        help: 'Heartbeats in which this supervisor could not refresh its row or check placement',
        registers: [registry],
      }).inc(this.failures);
      response.writeHead(200, { 'content-type': registry.contentType });
      response.end(await registry.metrics());
      return;
    }
    if (url.startsWith('/jobs')) {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify(this.jobs()));
      return;
    }
    response.writeHead(404, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ error: 'NOT_FOUND', message: 'try /metrics or /jobs' }));
  }

  jobs(): JobStatus[] {
    return [...this.slots.values()].map((slot) => ({
      job: slot.job,
      generation: slot.generation,
      state: slot.state,
      pid: slot.child?.pid,
      restarts: slot.restarts,
      startedAt: slot.startedAt === undefined ? undefined : new Date(slot.startedAt).toISOString(),
      lastExit: slot.lastExit,
      metrics: summarise(slot.metrics),
    }));
  }

  /**
   * The deployments. While the control plane cannot be read, the last ones read (none yet: the
   * platform jobs alone, which need no control plane to start), so that a worker that crashes
   * meanwhile is still restarted and nothing deployed is stopped for the outage. Said when it begins
   * and when it ends, not at every reconcile.
   */
  private async readDeployments(): Promise<Deployment[]> {
    try {
      const deployments = await listDeployments(this.options.pool);
      if (this.deployments === undefined || this.readFailing)
        this.options.logger.info({ deployments: deployments.length }, 'deployments read');
      this.readFailing = false;
      this.deployments = deployments;
    } catch (error) {
      if (!this.readFailing)
        this.options.logger.warn(
          { err: error, known: this.deployments?.length ?? 0 },
          'cannot read the deployments: running the jobs as last read (restarting those that crash) until it can',
        );
      this.readFailing = true;
    }
    return this.deployments ?? [];
  }

  private async reconcile(): Promise<void> {
    if (this.stopping) return;
    const deployments = await this.readDeployments();
    for (const deployment of deployments) {
      const slot = this.slots.get(jobName(deployment.usecase, deployment.variant));
      if (deployment.status === 'paused' && slot !== undefined && slot.state !== 'paused')
        await this.stop(slot, 'paused');
    }
    const all = jobsToRun(deployments);
    const share = this.options.share ?? {};
    const desired = new Map([...all].filter(([job]) => takes(share, job)));
    // Paused jobs stay listed (with why); undeployed ones leave /jobs, /metrics and `tributary list`
    // once stopped, so their last measurements (their lag, say) are not served as if current.
    const listed = new Set([
      ...PLATFORM_JOBS,
      ...deployments.filter((d) => d.status !== 'undeployed').map((d) => jobName(d.usecase, d.variant)),
    ]);
    for (const slot of [...this.slots.values()]) {
      if (!desired.has(slot.job) && slot.state !== 'stopped' && slot.state !== 'paused') {
        this.options.logger.info({ job: slot.job }, 'undeployed: stopping its worker');
        await this.stop(slot, 'stopped');
      }
      if (!listed.has(slot.job) && slot.child === undefined) this.slots.delete(slot.job);
    }
    for (const [job, generation] of desired) {
      let slot = this.slots.get(job);
      if (slot === undefined) {
        slot = {
          job,
          generation,
          state: 'stopped',
          child: undefined,
          restarts: 0,
          nextStartAt: 0,
          startedAt: undefined,
          lastExit: undefined,
          lastSignal: null,
          metrics: [],
          exited: undefined,
        };
        this.slots.set(job, slot);
      }
      if (slot.generation !== generation) {
        this.options.logger.info(
          { job, from: slot.generation, to: generation },
          'updated: replacing its worker',
        );
        if (slot.child !== undefined) await this.stop(slot, 'stopped');
        slot.generation = generation;
        slot.restarts = 0;
        slot.state = 'stopped';
      }
      if (
        slot.state === 'stopped' ||
        (slot.state === 'backoff' && Date.now() >= slot.nextStartAt) ||
        (slot.state === 'paused' &&
          slot.child === undefined &&
          desired.get(job) !== undefined &&
          slot.lastExit !== EXIT_PAUSED)
      ) {
        this.spawn(slot);
      }
    }
    this.wanted = [...all.keys()];
  }

  /**
   * One heartbeat; never throws. A control plane it cannot refresh is warned about when that starts,
   * once a minute while it lasts (not at every heartbeat), and when it ends.
   */
  private async beat(): Promise<void> {
    const { logger } = this.options;
    if (this.stopping) return; // its row is being removed: keep it removed
    try {
      await this.register(this.wanted);
      this.checkedAt = Date.now();
      if (this.failing !== undefined) {
        const seconds = Math.round((performance.now() - this.failing.since) / 1000);
        logger.info(
          { failures: this.failing.count, seconds },
          'control plane reachable again: this supervisor is refreshed and placement checked',
        );
        this.failing = undefined;
      }
    } catch (error) {
      this.failures += 1;
      const now = performance.now();
      const failing = (this.failing ??= { count: 0, since: now, warnedAt: -Infinity });
      failing.count += 1;
      if (now - failing.warnedAt < CONTROL_PLANE_WARN_MS) return;
      failing.warnedAt = now;
      logger.warn(
        { err: error, failures: failing.count },
        missingSupervisorsTable(error)
          ? 'the control plane has no speed_supervisors table (run `tributary db apply`): other supervisors and `tributary list` do not see this one, and placement goes unchecked; warned again every minute while it lasts'
          : 'could not refresh this supervisor in the control plane: other supervisors may count it as gone, and placement goes unchecked; warned again every minute while it lasts',
      );
    }
  }

  /** Refreshes this supervisor's row, then checks how the live supervisors' shares cover `jobs`. */
  private async register(jobs: Iterable<string>): Promise<void> {
    const { pool, logger } = this.options;
    await heartbeat(pool, {
      supervisorId: this.id,
      host: os.hostname(),
      pid: process.pid,
      port: this.port,
      share: this.options.share ?? {},
      slots: this.options.config.speed.slots,
      jobs: this.jobs(),
    });
    this.placed = placement(jobs, await liveSupervisors(pool));
    const now = performance.now();
    const current = new Map(placementProblems(this.placed).map((p) => [p.key, p.message]));
    for (const [key, problem] of this.problems)
      if (!current.has(key)) {
        this.problems.delete(key);
        if (problem.reported) logger.info({ problem: key }, 'job placement mended');
      }
    for (const [key, message] of current) {
      const problem = this.problems.get(key) ?? { since: now, reported: false };
      this.problems.set(key, problem);
      if (!problem.reported && now - problem.since >= PEER_GRACE_MS) {
        problem.reported = true;
        logger.warn(
          { problem: key, supervisor: supervisorName({ host: os.hostname(), port: this.port }) },
          message,
        );
      }
    }
  }

  private spawn(slot: Slot): void {
    const { config } = this.options;
    let child: ChildProcess;
    try {
      child = spawn(
        process.execPath,
        [
          path.join(config.projectRoot, 'bin', 'tributary.js'),
          'speed',
          '--job',
          slot.job,
          '--supervisor',
          this.id,
        ],
        {
          env: { ...process.env, ...this.options.env },
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        },
      );
    } catch (error) {
      // Some failures are thrown at once (E2BIG, ENOMEM): a failed start, retried with backoff.
      this.options.logger.error({ err: error, job: slot.job }, 'could not start the job worker');
      slot.child = undefined;
      slot.lastExit = null;
      slot.lastSignal = null;
      this.crashed(slot, null, null);
      return;
    }
    slot.child = child;
    slot.state = 'starting';
    slot.startedAt = Date.now();
    child.on('message', (message: unknown) => {
      if (typeof message !== 'object' || message === null) return;
      const m = message as { type?: unknown; metrics?: unknown };
      // Only a worker still starting: a late one must not undo a stop begun meanwhile (its exit would
      // then be taken for a crash).
      if (m.type === 'ready' && slot.state === 'starting') slot.state = 'running';
      if (m.type === 'lacking' && slot.state === 'starting') slot.state = 'lacking';
      if (m.type === 'metrics' && Array.isArray(m.metrics)) slot.metrics = m.metrics as MetricJson[];
    });
    slot.exited = new Promise((resolve) => {
      let gone = false;
      const onGone = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (gone) return;
        gone = true;
        slot.child = undefined;
        slot.lastExit = code;
        slot.lastSignal = signal;
        if (slot.state === 'stopping') slot.state = 'stopped';
        else if (code === EXIT_PAUSED) {
          slot.state = 'paused';
          this.options.logger.error(
            { job: slot.job },
            'job paused itself: not restarted until it is deployed again (`tributary list` says why)',
          );
        } else if (code === EXIT_ELSEWHERE) {
          // Not started again until it is deployed anew: if the other supervisor goes, the job is
          // reported as running nowhere (placement), as one no supervisor takes.
          slot.state = 'elsewhere';
          this.options.logger.warn(
            { job: slot.job },
            'this release lacks the job’s code and another supervisor runs it: left to that one',
          );
        } else if (!this.stopping) this.crashed(slot, code, signal);
        resolve();
      };
      child.once('exit', onGone);
      // Without a listener a child's 'error' (a failed spawn: EAGAIN, EMFILE; a failed kill or IPC
      // send) would kill the supervisor and with it every job's supervision.
      child.on('error', (error) => {
        this.options.logger.error({ err: error, job: slot.job, pid: child.pid }, 'job worker process error');
        if (child.pid === undefined) onGone(null, null); // never started: no 'exit' will come
      });
    });
    this.options.logger.info(
      { job: slot.job, pid: child.pid, generation: slot.generation },
      'job worker started',
    );
  }

  /** A worker that died or never started: started again after an exponential backoff. */
  private crashed(slot: Slot, code: number | null, signal: NodeJS.Signals | null): void {
    if (slot.startedAt !== undefined && Date.now() - slot.startedAt >= HEALTHY_RUN_MS) slot.restarts = 0;
    slot.restarts += 1;
    const delay = Math.min(60_000, 1_000 * 2 ** Math.min(slot.restarts - 1, 6));
    slot.state = 'backoff';
    slot.nextStartAt = Date.now() + delay;
    this.options.logger.warn(
      { job: slot.job, code, signal, restartInMs: delay, restarts: slot.restarts },
      'job crashed: restarting with backoff',
    );
  }

  private async stop(slot: Slot, finalState: 'stopped' | 'paused'): Promise<void> {
    const child = slot.child;
    if (child === undefined) {
      slot.state = finalState;
      return;
    }
    slot.state = 'stopping';
    child.kill('SIGTERM');
    const timeout = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await slot.exited;
    clearTimeout(timeout);
    slot.state = finalState;
    const { lastExit: code, lastSignal: signal } = slot;
    // Exit codes of a worker that ended on its own meanwhile (paused, left elsewhere) are clean too.
    if (code === 0 || code === EXIT_PAUSED || code === EXIT_ELSEWHERE)
      this.options.logger.info({ job: slot.job, pid: child.pid, code }, 'job worker stopped');
    else
      this.options.logger.warn(
        { job: slot.job, pid: child.pid, code, signal, exit: describeExit(code ?? null, signal) },
        'job worker did not stop cleanly: what it did since its last checkpoint is replayed at its next start',
      );
  }

  /** Stops every worker gracefully. Idempotent. */
  async close(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    clearInterval(this.heartbeatTimer);
    await this.reconciling;
    await this.heartbeating;
    await Promise.all([...this.slots.values()].map((slot) => this.stop(slot, 'stopped')));
    await leave(this.options.pool, this.id).catch((error: unknown) => {
      this.options.logger.warn({ err: error }, 'could not remove this supervisor from the control plane');
    });
    await new Promise<void>((resolve) => {
      if (this.server === undefined) resolve();
      else
        this.server.close(() => {
          resolve();
        });
    });
  }
}

/** The headline numbers of a worker's metrics, for `tributary list`. */
function summarise(metrics: readonly MetricJson[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of metrics) {
    const values =
      (
        m as unknown as {
          values?: { value: number; labels?: Record<string, string | number>; metricName?: string }[];
        }
      ).values ?? [];
    const total = (
      filter: (v: { metricName?: string; labels?: Record<string, string | number> }) => boolean,
    ): number => values.filter(filter).reduce((sum, v) => sum + v.value, 0);
    switch (m.name) {
      case 'tributary_job_records_in_total':
        out.in = total(() => true);
        break;
      case 'tributary_job_records_out_total':
        out.out = total(() => true);
        break;
      case 'tributary_job_findings_total':
        out.findings = total(() => true);
        break;
      case 'tributary_job_dead_letters_total':
        out.deadLetters = total(() => true);
        break;
      case 'tributary_job_consumer_lag':
        out.lag = total(() => true);
        break;
      case 'tributary_job_cpu_seconds_total':
        out.cpuSeconds = total(() => true);
        break;
      case 'tributary_job_resident_memory_bytes':
        out.rssBytes = total(() => true);
        break;
      case 'tributary_job_latency_seconds': {
        const count = total((v) => v.metricName?.endsWith('_count') === true);
        const sum = total((v) => v.metricName?.endsWith('_sum') === true);
        if (count > 0) out.meanLatencyMs = Math.round((sum / count) * 1000);
        break;
      }
      default:
        break;
    }
  }
  return out;
}
