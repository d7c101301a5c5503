/**
 * One job in one process (`tributary speed --job NAME`): the supervisor starts one of these per job,
 * so a job that crashes, throws or runs slow never stops or slows another, and each job's CPU and
 * memory are its own. Platform jobs: validation, master, views, delivery; use cases:
 * usecase.<name>[.<variant>].
 */
import os from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import { createCassandraClient, type CassandraClient } from '../core/cassandra/index.js';
import type { Config } from '../core/config.js';
import { TributaryError } from '../core/errors.js';
import { BULK_FETCH_MIN_BYTES, createKafka, ensureTopicsWith } from '../core/kafka/index.js';
import type { Logger } from '../core/logger.js';
import { createPgPool, type PgPool } from '../core/postgres/index.js';
import { ingestTopics, RegistryClient, speedTopics } from '../ingest/index.js';
import { ValidationJob } from '../ingest/validation/index.js';
import { MasterJob } from '../ingest/master/index.js';
import { DeliveryLogic } from './delivery/delivery-logic.js';
import { listDeployments, pauseGeneration, type Deployment } from './deploy/deployments.js';
import {
  controlPlaneNow,
  LackingWatch,
  liveSupervisors,
  missingSupervisorsTable,
  PEER_GRACE_MS,
} from './deploy/supervisors.js';
import { Job } from './runtime/job.js';
import { JobMetrics } from '../core/job-metrics.js';
import { UseCaseLogic } from './runtime/usecase-logic.js';
import { findUseCase, loadUseCaseModules, unknownVariant, type UseCase } from './usecases/index.js';
import { ViewsLogic } from './views/views-logic.js';

export const PLATFORM_JOBS = ['validation', 'master', 'views', 'delivery'] as const;

/** Exit code of a worker that paused its job (the supervisor does not restart it). */
export const EXIT_PAUSED = 3;

/**
 * A job paused before it started (its deployment is one this code cannot run, or no longer active):
 * exit EXIT_PAUSED.
 */
export class PausedAtStart extends TributaryError {
  constructor(readonly reason: string) {
    super('UNAVAILABLE', reason);
  }
}

/**
 * Exit code of a worker whose release lacks its job's code while another supervisor runs the job
 * (a release rolled out to some machines only): the supervisor leaves it to that one.
 */
export const EXIT_ELSEWHERE = 4;

/** The job's code is missing here and another supervisor runs it: exit EXIT_ELSEWHERE. */
export class RunsElsewhere extends TributaryError {
  constructor(supervisor: string, reason: string) {
    super('UNAVAILABLE', `it runs on ${supervisor}; this release lacks it: ${reason}`);
  }
}

/**
 * How long a worker whose release lacks its job waits for the other supervisors that take the job to
 * say whether they run it (each refreshes its row every two seconds; a job with much state can take
 * a while to restore) before it gives up for now: it then fails, and is retried with backoff (under a
 * minute, so that the backoff grows: see the supervisor's HEALTHY_RUN_MS).
 */
const LACKING_WAIT_MS = 45_000;
const LACKING_POLL_MS = 500;

/**
 * The supervisor that runs a deployed job this release lacks, if another one does; undefined when
 * nothing can run it (so it is paused). The worker's own supervisor is not asked, and only rows
 * refreshed since it began to look count.
 */
async function supervisorRunningIt(
  pool: PgPool,
  name: string,
  generation: number,
  reason: string,
  ownSupervisor: string | undefined,
): Promise<string | undefined> {
  const watch = new LackingWatch(name, generation, await controlPlaneNow(pool), performance.now(), {
    graceMs: PEER_GRACE_MS, // nothing able to run the job: one that runs it may be restarting
    giveUpMs: LACKING_WAIT_MS,
  });
  for (;;) {
    const rows = await liveSupervisors(pool).catch((error: unknown) => {
      if (missingSupervisorsTable(error)) return []; // a control plane from before 0004: no peers
      throw error;
    });
    const found = watch.step(
      rows.filter((s) => s.supervisorId !== ownSupervisor),
      performance.now(),
    );
    if (found.verdict === 'elsewhere') return found.supervisor;
    if (found.verdict === 'pause') return undefined;
    if (found.verdict === 'give-up') {
      throw new TributaryError(
        'UNAVAILABLE',
        `${name}: this release lacks it (${reason}), and another supervisor that takes it has not said whether it runs it for ${String(LACKING_WAIT_MS / 1000)} s; retrying later`,
      );
    }
    await delay(LACKING_POLL_MS);
  }
}

export interface RunningWorker {
  readonly metrics: JobMetrics;
  /** Resolves with a reason when the job pauses itself. */
  readonly paused: Promise<string>;
  /** Rejects when the job cannot go on (the worker exits with an error and is restarted). */
  readonly fatal: Promise<never>;
  stats(): Record<string, number>;
  close(): Promise<void>;
}

function parseUseCaseJob(name: string): { usecase: string; variant: string } | undefined {
  const match = /^usecase\.([a-z][a-z0-9-]*)(?:\.([A-Za-z0-9]+))?$/.exec(name);
  return match?.[1] === undefined ? undefined : { usecase: match[1], variant: match[2] ?? '' };
}

/** A platform job's name or a use case's (`usecase.<name>[.<variant>]`): what `--job` accepts. */
export function isJobName(name: string): boolean {
  return (PLATFORM_JOBS as readonly string[]).includes(name) || parseUseCaseJob(name) !== undefined;
}

/** Jobs off the way to feedback: they write Cassandra in bulk, at a lower CPU priority. */
export const BULK_JOBS: readonly string[] = ['master', 'views'];

function lowerPriority(logger: Logger, name: string, nice: number): void {
  if (!BULK_JOBS.includes(name) || nice === 0) return;
  try {
    os.setPriority(Math.max(os.getPriority(), nice));
  } catch (error) {
    logger.warn(
      { err: error, job: name },
      'could not lower the job’s CPU priority; it runs at the same as the others',
    );
  }
}

/**
 * A use-case job's use case, variant and deployment, before anything connects to Kafka: a job this
 * release cannot run is refused (usage) or, when deployed, paused with why.
 */
async function resolveUseCaseJob(
  config: Config,
  logger: Logger,
  pool: PgPool,
  name: string,
  hooks: WorkerHooks,
): Promise<{
  useCase: UseCase;
  parsed: { usecase: string; variant: string };
  deployment: Deployment | undefined;
}> {
  // Only use-case jobs load USECASE_MODULES, and a module that fails to load stops only the use
  // cases it could hold: the platform jobs and the others run on.
  const unloaded: string[] = [];
  await loadUseCaseModules(config.speed.useCaseModules, (file, error) => {
    unloaded.push(`${file}: ${error instanceof Error ? error.message : String(error)}`);
  });
  if (unloaded.length > 0)
    logger.warn({ job: name, unloaded }, 'use-case modules (USECASE_MODULES) that could not be loaded');
  const parsed = parseUseCaseJob(name);
  if (parsed === undefined) {
    throw new TributaryError(
      'USAGE',
      `unknown job ${JSON.stringify(name)}: validation, master, views, delivery or usecase.<name>[.<variant>]`,
    );
  }
  const useCase = findUseCase(parsed.usecase);
  const missing =
    useCase === undefined
      ? unloaded.length > 0
        ? `its module could not be loaded (${unloaded.join('; ')})`
        : `no use case named ${parsed.usecase} is registered (built in or in USECASE_MODULES)`
      : unknownVariant(useCase, parsed.variant);
  const deployments = await listDeployments(pool).catch((error: unknown) => {
    // Only a job this code cannot run still needs them, to tell a usage error from a pause.
    if (missing === undefined) throw error;
    logger.warn({ err: error, job: name }, 'could not read the deployments: taken as not deployed');
    return [];
  });
  const deployment = deployments.find((d) => d.usecase === parsed.usecase && d.variant === parsed.variant);
  if (missing !== undefined && deployment?.status === 'active') {
    // Deployed, but this release's code does not hold it (a module that fails to load, or that
    // dropped the use case or the variant, or a release older than the deployment). When another
    // supervisor runs it, with a release that has it, it is left to that one. Otherwise it is paused
    // and reported, not restarted in a loop. Only the generation it saw: a fixed release deployed
    // meanwhile is not paused by this one.
    hooks.onLacking?.();
    logger.warn(
      { job: name, generation: deployment.generation, reason: missing },
      'this release lacks the deployed job: asking the other supervisors whether one runs it',
    );
    const elsewhere = await supervisorRunningIt(
      pool,
      name,
      deployment.generation,
      missing,
      hooks.supervisorId,
    );
    if (elsewhere !== undefined) throw new RunsElsewhere(elsewhere, missing);
    const reason = `${missing}; fix it and deploy again`;
    const pausedNow = await pauseGeneration(
      pool,
      parsed.usecase,
      parsed.variant,
      deployment.generation,
      reason,
    );
    if (pausedNow) throw new PausedAtStart(reason);
    // Paused, undeployed or deployed anew while it waited: nothing of this generation left to pause.
    // Not a crash either: the supervisor's next look at the deployments stops, drops or restarts it.
    throw new PausedAtStart(
      `generation ${String(deployment.generation)} is no longer active (paused, undeployed or deployed again meanwhile)`,
    );
  }
  if (useCase === undefined || missing !== undefined) {
    throw new TributaryError('USAGE', `unknown job ${JSON.stringify(name)}: ${missing ?? ''}`);
  }
  return { useCase, parsed, deployment };
}

export interface WorkerHooks {
  /** The id of the supervisor that started this worker (its row in speed_supervisors), if one did. */
  readonly supervisorId?: string;
  /** Its release lacks the job's code: it looks for another supervisor that runs the job. */
  readonly onLacking?: () => void;
}

export async function startWorker(
  config: Config,
  logger: Logger,
  name: string,
  hooks: WorkerHooks = {},
): Promise<RunningWorker> {
  lowerPriority(logger, name, config.speed.bulkNice);
  const kafka = createKafka({ brokers: config.kafka.brokers, logger, clientId: `tributary-${name}` });
  const cassandra: CassandraClient = createCassandraClient({
    contactPoints: config.cassandra.contactPoints,
    localDataCenter: config.cassandra.localDataCenter,
    logger,
  });
  const pool: PgPool = createPgPool({
    url: config.postgres.url,
    logger,
    max: 3,
    applicationName: `tributary-${name}`,
  });
  const registry = new RegistryClient({ url: config.registry.url });
  const metrics = new JobMetrics(name);
  const cleanup = async (): Promise<void> => {
    await cassandra.shutdown();
    await pool.end();
  };
  const platform = (PLATFORM_JOBS as readonly string[]).includes(name);
  // Refused or paused before it waits on Kafka (which may be what is down).
  const useCaseJob = platform
    ? undefined
    : await resolveUseCaseJob(config, logger, pool, name, hooks).catch(async (error: unknown) => {
        await cleanup();
        throw error;
      });
  await ensureTopicsWith(kafka, [...ingestTopics(config), ...speedTopics(config)]);
  let pause: (reason: string) => void = () => undefined;
  const paused = new Promise<string>((resolve) => {
    pause = resolve;
  });
  let fail: (error: unknown) => void = () => undefined;
  const fatal = new Promise<never>((_, reject) => {
    fail = reject;
  });
  fatal.catch(() => undefined); // observed by the caller; never an unhandled rejection here

  if (name === 'validation' || name === 'master') {
    const job =
      name === 'validation'
        ? new ValidationJob({ config, kafka, cassandra, registry, logger, metrics, onFatal: fail })
        : new MasterJob({ config, kafka, cassandra, registry, logger, metrics, onFatal: fail });
    await job.start();
    return {
      metrics,
      paused,
      fatal,
      stats: () => ({ ...job.stats() }),
      close: async () => {
        await job.close();
        await cleanup();
      },
    };
  }

  const common = {
    namespace: config.namespace,
    kafka,
    logger,
    partitions: config.topics.partitions,
    metrics,
    slots: config.speed.slots,
    commitIntervalMs: config.speed.commitIntervalMs,
    fetchWaitMs: config.speed.fetchWaitMs,
    fetchMinBytes: config.speed.fetchMinBytes,
    fetchIntervalMs: config.speed.fetchIntervalMs,
    onFatal: fail,
  };
  let job: Job<unknown>;
  if (name === 'views') {
    job = new Job({
      ...common,
      name,
      inputTopic: config.topics.valid,
      dedupeUpstream: true,
      // Not on any record's way to its feedback: fewer, larger upserts at moderate rates.
      fetchWaitMs: config.speed.bulkFetchWaitMs,
      fetchMinBytes: BULK_FETCH_MIN_BYTES,
      logic: new ViewsLogic({ registry, cassandra, keyspace: config.cassandra.keyspace }),
    });
  } else if (name === 'delivery') {
    job = new Job({
      ...common,
      name,
      inputTopic: config.topics.findings,
      logic: new DeliveryLogic({
        cassandra,
        pool,
        keyspace: config.cassandra.keyspace,
        feedbackTopic: config.topics.feedback,
        retentionDays: config.cassandra.retentionDays,
      }),
    });
  } else {
    if (useCaseJob === undefined) throw new Error(`no job ${name}`); // every platform job is above
    const { useCase, parsed, deployment } = useCaseJob;
    job = new Job({
      ...common,
      name,
      inputTopic: config.topics.valid,
      dedupeUpstream: true,
      startFrom: deployment?.startFrom ?? 'earliest',
      logic: new UseCaseLogic({
        useCase,
        variant: parsed.variant,
        registry,
        pool,
        findingsTopic: config.topics.findings,
        metrics,
        defaults: deployment?.settings ?? {},
      }),
      onPause: (reason) => {
        // This generation only: a fixed release deployed meanwhile is not paused by this worker.
        const paused =
          deployment === undefined
            ? Promise.resolve(false)
            : pauseGeneration(pool, parsed.usecase, parsed.variant, deployment.generation, reason);
        void paused
          .catch((error: unknown) => {
            logger.error({ err: error }, 'could not record the pause');
          })
          .finally(() => {
            pause(reason);
          });
      },
    });
  }
  await job.start();
  return {
    metrics,
    paused,
    fatal,
    stats: () => ({}),
    close: async () => {
      await job.close();
      await cleanup();
    },
  };
}
