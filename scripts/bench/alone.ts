/**
 * Each job's own cost: the job alone on a backlog of its input topic, nothing else running, in a
 * namespace of its own (its own consumer group and state topics; it rewrites the same Cassandra rows
 * and findings, idempotently). Its CPU per record, counted from when it reports running. Beside the
 * diamond's figures (every job at once on two cores) it shows how much sharing the machine adds.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Config } from '../../core/config.js';
import type { Kafka } from '../../core/kafka/index.js';
import { cpuSeconds } from '../stack/processes.js';

export interface AloneJob {
  readonly job: string;
  readonly topic: string;
  /** The job's consumer group, given its namespace. */
  readonly groupId: (namespace: string) => string;
}

/** Records of `topic` not yet committed by `groupId`. */
async function remaining(kafka: Kafka, groupId: string, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ends = await admin.fetchTopicOffsets(topic);
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return ends.reduce((n, e) => {
      const offset = committed?.partitions.find((p) => p.partition === e.partition)?.offset ?? '-1';
      return n + Math.max(0, Number(e.high) - Math.max(0, Number(offset)));
    }, 0);
  } finally {
    await admin.disconnect();
  }
}

/** Runs one job alone until it has committed all of its input: its CPU µs per record, and the records. */
export async function jobAlone(
  config: Config,
  kafka: Kafka,
  env: NodeJS.ProcessEnv,
  { job, topic, groupId }: AloneJob,
  namespace: string,
): Promise<{ micros: number; records: number }> {
  const records = await remaining(kafka, groupId(namespace), topic);
  const child = spawn(
    process.execPath,
    [path.join(config.projectRoot, 'bin', 'tributary.js'), 'speed', '--job', job],
    {
      env: {
        ...process.env,
        ...env,
        TRIBUTARY_NAMESPACE: namespace,
        SPEED_BULK_NICE: '0',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      resolve();
    }),
  );
  try {
    // Its log says when it runs (modules loaded, connected, subscribed).
    await new Promise<void>((resolve, reject) => {
      let log = '';
      child.stderr.on('data', (chunk: Buffer) => {
        log = (log + chunk.toString()).slice(-100_000);
        if (/"msg":"[^"]*job started"/.test(log)) resolve();
      });
      void exited.then(() => {
        reject(new Error(`${job} exited before it ran: ${log.slice(-2_000)}`));
      });
    });
    const pid = child.pid ?? 0;
    const cpuBefore = (await cpuSeconds(pid)) ?? 0;
    while ((await remaining(kafka, groupId(namespace), topic)) > 0) await delay(100);
    const cpu = ((await cpuSeconds(pid)) ?? cpuBefore) - cpuBefore;
    return { micros: (cpu * 1e6) / Math.max(1, records), records };
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}
