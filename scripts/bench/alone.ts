/**
 * Each job's own cost: the job alone on a backlog of its input topic, nothing else running, in a
 * namespace of its own (its own consumer group and state topics; it rewrites the same Cassandra rows
 * and findings, idempotently). Its CPU per record, counted from when it reports running. Beside the
 * diamond's figures (every job at once on two cores) it shows how much sharing the machine adds.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Config } from '../../core/config.js';
import type { Kafka } from '../../core/kafka/index.js';
import { cpuSeconds } from '../stack/processes.js';
import { tributary, uncommitted } from './procs.js';

export interface AloneJob {
  readonly job: string;
  readonly topic: string;
  /** The job's consumer group, given its namespace. */
  readonly groupId: (namespace: string) => string;
}

/** Runs one job alone until it has committed all of its input: its CPU µs per record, and the records. */
export async function jobAlone(
  config: Config,
  kafka: Kafka,
  env: NodeJS.ProcessEnv,
  { job, topic, groupId }: AloneJob,
  namespace: string,
): Promise<{ micros: number; records: number }> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const records = await uncommitted(admin, groupId(namespace), topic);
    const proc = tributary(
      config,
      ['speed', '--job', job],
      { ...env, TRIBUTARY_NAMESPACE: namespace, SPEED_BULK_NICE: '0', LOG_LEVEL: 'info' },
      { log: true },
    );
    try {
      // Its log says when it runs (modules loaded, connected, subscribed).
      await proc.line(/"msg":"([^"]*job started)"/);
      const pid = proc.child.pid ?? 0;
      const cpuBefore = (await cpuSeconds(pid)) ?? 0;
      while ((await uncommitted(admin, groupId(namespace), topic)) > 0) await delay(100);
      const cpu = ((await cpuSeconds(pid)) ?? cpuBefore) - cpuBefore;
      return { micros: (cpu * 1e6) / Math.max(1, records), records };
    } finally {
      await proc.stop();
    }
  } finally {
    await admin.disconnect();
  }
}
