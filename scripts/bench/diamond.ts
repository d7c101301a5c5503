/** The diamond the speed benchmarks run: its jobs, how they are deployed, and a listener on feedback. */
import type { Config } from '../../core/config.js';
import type { Kafka } from '../../core/kafka/index.js';
import { run, tributary, type Proc } from './procs.js';

/** The jobs of the diamond besides the master dataset job (which `tributary speed` also runs). */
export const DIAMOND_JOBS = [
  'validation',
  'views',
  'delivery',
  'usecase.data-quality',
  'usecase.velocity',
  'usecase.amount-anomaly.A',
  'usecase.amount-anomaly.B',
] as const;

/** A job's name as a report gives it: `usecase.velocity` → `velocity`. */
export function shortName(job: string): string {
  return job.replace('usecase.', '');
}

/**
 * Starts `tributary serve` (API and schema registry, whose URL goes into `env`) and deploys the three
 * use cases with amount-anomaly's A/B experiment. Returns the serve process and the registry's URL.
 */
export async function serveAndDeploy(
  config: Config,
  env: NodeJS.ProcessEnv,
): Promise<{ serve: Proc; registryUrl: string }> {
  await run(config, ['db', 'apply'], env);
  const serve = tributary(config, ['serve', '--api-port', '0', '--registry-port', '0'], env);
  try {
    const registryUrl = await serve.line(/schema registry listening on (\S+)/);
    env.SCHEMA_REGISTRY_URL = registryUrl;
    await serve.line(/API listening on (\S+)/);
    for (const args of [
      ['deploy', 'data-quality'],
      ['deploy', 'velocity'],
      ['deploy', 'amount-anomaly', '--variant', 'A'],
      ['deploy', 'amount-anomaly', '--variant', 'B'],
      ['ab', 'set', 'amount-anomaly', '--control', 'A', '--treatment', 'B'],
    ]) {
      await run(config, args, env);
    }
    return { serve, registryUrl };
  } catch (error) {
    await serve.stop();
    throw error;
  }
}

export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

export interface FeedbackListener {
  /** Each feedback message: when its record was produced (epoch ms) and how long it took (ms). */
  readonly samples: { at: number; ms: number }[];
  stop(): Promise<void>;
}

/**
 * Listens to the feedback topic only (consuming a busier topic would load the machine measured) and
 * keeps the latency of every message whose record was produced from now on: every hop keeps the
 * record's timestamp: when the broker appended it to `records` (LogAppendTime).
 */
export async function listenToFeedback(
  kafka: Kafka,
  config: Config,
  groupId: string,
): Promise<FeedbackListener> {
  const samples: { at: number; ms: number }[] = [];
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 50 });
  await consumer.connect();
  await consumer.subscribe({ topics: [config.topics.feedback], fromBeginning: false });
  const listenFrom = Date.now();
  await consumer.run({
    partitionsConsumedConcurrently: config.topics.partitions,
    eachMessage: ({ message }) => {
      const at = Number(message.timestamp);
      if (at >= listenFrom) samples.push({ at, ms: Date.now() - at });
      return Promise.resolve();
    },
  });
  return { samples, stop: () => consumer.disconnect() };
}
