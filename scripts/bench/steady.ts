/**
 * `npm run bench steady`: the whole diamond at a steady rate (default 2,000 records/s) for a while,
 * measured in windows: latency from produce to feedback and each process's share of a core. Every
 * other window runs with the bulk jobs (master and views, which no feedback waits for) stopped
 * (SIGSTOP), and is followed by an unmeasured pause while they catch up: what they cost the way to
 * feedback, in the same run, on the same noisy machine. `bench speed` measures latency once, after
 * its backlog run; this one measures it in steady state and says what disturbs it.
 * Runs in its own PostgreSQL database, keyspace, topics and namespace, removed afterwards.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Config } from '../../core/config.js';
import { createKafka } from '../../core/kafka/index.js';
import type { Logger } from '../../core/logger.js';
import { BULK_JOBS, type JobStatus } from '../../speed/index.js';
import {
  busyShare,
  cpuSpent,
  describeQuiet,
  machineCpu,
  processCpu,
  serverPids,
  serversQuiet,
} from './cpu.js';
import { DIAMOND_JOBS, listenToFeedback, percentile, serveAndDeploy, shortName } from './diamond.js';
import { tributary, type Proc } from './procs.js';
import { writeSection, type BenchRow } from './report.js';
import { createScratch } from '../scratch.js';

export interface SteadyBenchOptions {
  /** Records/s the generator sends throughout. */
  readonly rate: number;
  /** Measured windows, alternately with everything running and with the bulk jobs stopped. */
  readonly windows: number;
  readonly windowSeconds: number;
}

/**
 * Before the first window: processes started, connections made, V8 done optimising the hot paths
 * (with 20 s, every job's share of a core in the first window was a third above the later ones').
 */
const WARM_UP_MS = 40_000;
/** After a window, for the feedback of its last records to arrive before it is read. */
const SETTLE_MS = 3_000;
/** At most this long for the bulk jobs to catch up after a window without them. */
const CATCH_UP_MAX_MS = 120_000;
/** The processes whose share of a core must be back to their first window's for the next window. */
const CAUGHT_UP_WHEN = [...BULK_JOBS, 'cassandra'];
/** How much above its first window's share (in part of a core) a process may be and count as caught up. */
const CAUGHT_UP_SLACK = 0.03;

type Kind = 'everything' | 'bulk stopped';

/**
 * Waits until the bulk jobs have caught up after a window without them: their lag at most a second's
 * records, then, for two 2 s spans in a row, each of `baseline`'s processes at most its first
 * window's share of a core (×1.25, plus a slack) — a lag alone is not enough: their writes' flushes
 * and compactions go on after it. Returns how long it took, or undefined after CATCH_UP_MAX_MS.
 */
async function bulkCaughtUp(
  status: () => Promise<JobStatus[]>,
  pids: ReadonlyMap<string, number>,
  baseline: ReadonlyMap<string, number>,
  rate: number,
): Promise<number | undefined> {
  const began = Date.now();
  const lagged = (all: JobStatus[]): boolean =>
    all.filter((j) => BULK_JOBS.includes(j.job)).some((j) => (j.metrics.lag ?? Infinity) > rate);
  while (lagged(await status())) {
    if (Date.now() - began > CATCH_UP_MAX_MS) return undefined;
    await delay(500);
  }
  const watched = new Map([...pids].filter(([name]) => baseline.has(name)));
  let calm = 0;
  let before = await processCpu(watched);
  while (calm < 2) {
    if (Date.now() - began > CATCH_UP_MAX_MS) return undefined;
    const from = Date.now();
    await delay(2_000);
    const after = await processCpu(watched);
    const seconds = (Date.now() - from) / 1000;
    const busy = [...after].some(
      ([name, a]) =>
        (a - (before.get(name) ?? a)) / seconds > (baseline.get(name) ?? 0) * 1.25 + CAUGHT_UP_SLACK,
    );
    calm = busy ? 0 : calm + 1;
    before = after;
  }
  return Date.now() - began;
}

function latencyOf(ms: readonly number[]): string {
  const sorted = [...ms].sort((a, b) => a - b);
  return `${percentile(sorted, 50)} / ${percentile(sorted, 99)} / ${sorted.at(-1) ?? 0} ms`;
}

export async function benchSteady(
  baseConfig: Config,
  logger: Logger,
  { rate, windows, windowSeconds }: SteadyBenchOptions,
): Promise<string> {
  const scratch = await createScratch(baseConfig, logger, 'bench');
  const { name, env, config } = scratch;
  const kafka = createKafka({ brokers: config.kafka.brokers, logger });
  const procs: Proc[] = [];
  const stopped: number[] = [];
  const rows: BenchRow[] = [];
  let quiet: string;
  const byKind = new Map<Kind, number[]>([
    ['everything', []],
    ['bulk stopped', []],
  ]);
  try {
    const { serve } = await serveAndDeploy(config, env);
    procs.push(serve);
    const speed = tributary(config, ['speed', '--port', '0'], env);
    procs.push(speed);
    const speedUrl = await speed.line(/\/jobs on (\S+)/);
    const status = async (): Promise<JobStatus[]> =>
      (await (await fetch(`${speedUrl}/jobs`)).json()) as JobStatus[];
    while ((await status()).filter((j) => j.state === 'running').length < DIAMOND_JOBS.length + 1)
      await delay(200);
    // A stack just started (its JVMs compiling, Cassandra compacting at start-up) must not load the
    // first window, whose shares of a core are what the bulk jobs' catching up is judged against.
    const servers = await serverPids(baseConfig, logger);
    quiet = describeQuiet(await serversQuiet(servers));
    const listener = await listenToFeedback(kafka, config, `${name}.steady`);
    // Enough records for every window and the catching up after each; stopped when done.
    const records = rate * Math.ceil(WARM_UP_MS / 1000 + windows * (windowSeconds + 120));
    const generator = tributary(
      config,
      [
        'generate',
        ...['--records', String(records), '--rate', String(rate), '--customers', '100'],
        ...['--seed', '5', '--anomalies', '0.02'],
      ],
      env,
    );
    procs.push(generator);
    await delay(WARM_UP_MS);
    // Each bulk job's and Cassandra's share of a core in the first window, every job running: what
    // "caught up" means after a window without them.
    const baseline = new Map<string, number>();
    for (let i = 0; i < windows; i += 1) {
      const kind: Kind = i % 2 === 0 ? 'everything' : 'bulk stopped';
      const jobs = (await status()).filter((j) => j.pid !== undefined);
      const pids = new Map<string, number>(jobs.map((j) => [shortName(j.job), j.pid ?? 0]));
      if (generator.child.pid !== undefined) pids.set('generator', generator.child.pid);
      for (const [server, pid] of servers) pids.set(server, pid);
      if (kind === 'bulk stopped')
        for (const job of BULK_JOBS) {
          const pid = pids.get(job);
          if (pid === undefined) continue;
          process.kill(pid, 'SIGSTOP');
          stopped.push(pid);
        }
      const cpuBefore = await processCpu(pids);
      const machineBefore = await machineCpu();
      const from = Date.now();
      await delay(windowSeconds * 1000);
      const to = Date.now();
      const seconds = (to - from) / 1000;
      const machineBusy = busyShare(machineBefore, await machineCpu());
      const cpuAfter = await processCpu(pids);
      const shares = cpuSpent(cpuBefore, cpuAfter, (s) => ((100 * s) / seconds).toFixed(0));
      if (i === 0)
        for (const name of CAUGHT_UP_WHEN) {
          const [b, a] = [cpuBefore.get(name), cpuAfter.get(name)];
          if (a !== undefined && b !== undefined) baseline.set(name, (a - b) / seconds);
        }
      await delay(SETTLE_MS);
      const ms = listener.samples.filter((x) => x.at >= from && x.at < to).map((x) => x.ms);
      byKind.get(kind)?.push(...ms);
      let caughtUp = '';
      if (kind === 'bulk stopped') {
        for (const pid of stopped.splice(0)) process.kill(pid, 'SIGCONT');
        // Catching up what they missed loads the machine, and is not part of any window.
        const took = await bulkCaughtUp(status, pids, baseline, rate);
        caughtUp =
          took === undefined
            ? `; master, views and Cassandra not back to their first window's share of a core ${CATCH_UP_MAX_MS / 1000} s after resuming`
            : `; they caught up ${(took / 1000).toFixed(0)} s after resuming`;
        await delay(SETTLE_MS);
      }
      rows.push({
        metric: `window ${i + 1}, ${kind === 'everything' ? 'every job running' : 'master and views stopped'}: p50 / p99 / max`,
        value: latencyOf(ms),
        note: `${ms.length} feedback messages; the machine's CPU ${machineBusy} busy; % of a core: ${shares.join(', ')}${caughtUp}`,
      });
    }
    await listener.stop();
    for (const [kind, ms] of byKind)
      if (ms.length > 0)
        rows.push({
          metric: `all windows, ${kind === 'everything' ? 'every job running' : 'master and views stopped'}: p50 / p99 / max`,
          value: latencyOf(ms),
          note: `${ms.length} feedback messages; target p99 ≤ 100 ms`,
        });
  } finally {
    for (const pid of stopped) process.kill(pid, 'SIGCONT');
    for (const p of procs.reverse()) await p.stop();
    await scratch.drop();
  }
  return writeSection(
    baseConfig,
    'steady',
    `\`npm run bench steady -- --rate ${rate} --windows ${windows}\`: the whole diamond at ${rate.toLocaleString('en')} records/s (100 customers, 2 % anomalies), ${windowSeconds} s windows after ${WARM_UP_MS / 1000} s of warm-up, the servers quiet ${quiet} before it; every job in its own process (2 cores shared with Kafka, Cassandra and PostgreSQL, and the generator); latency from the broker's append of each record to \`records\` (LogAppendTime) to its feedback.`,
    rows,
  );
}
