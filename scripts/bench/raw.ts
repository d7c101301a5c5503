/** Raw server speeds the benchmarks compare against, measured in the same run on the same records. */
import type { CassandraClient } from '../../core/cassandra/index.js';
import type { Config } from '../../core/config.js';
import { MasterDatasetWriter, type StoredRecord } from '../../ingest/index.js';
import type { Generated } from '../generate/index.js';
import { perSecond } from './report.js';

/**
 * The master dataset write every stored record costs: the generated records (bad messages left out),
 * written by the same writer the jobs use, in input-batch-sized calls, one writer per partition at a
 * time, no Kafka. Records/s, and this process's CPU per record (the writer and the driver).
 */
export async function rawMasterWrite(
  cassandra: CassandraClient,
  config: Config,
  generated: Iterable<Generated>,
  schemaId: number,
): Promise<{ rate: number; cpuMicros: number }> {
  const stored: StoredRecord[] = [];
  for (const item of generated) if (item.kind === 'record') stored.push({ record: item.record, schemaId });
  const writer = new MasterDatasetWriter({
    client: cassandra,
    keyspace: config.cassandra.keyspace,
    retentionDays: config.cassandra.retentionDays,
  });
  const chunks: (readonly StoredRecord[])[] = [];
  for (let i = 0; i < stored.length; i += 7_000) chunks.push(stored.slice(i, i + 7_000));
  const began = performance.now();
  const cpuBefore = process.cpuUsage();
  let nextChunk = 0;
  await Promise.all(
    Array.from({ length: config.topics.partitions }, async () => {
      while (nextChunk < chunks.length) {
        const chunk = chunks[nextChunk];
        nextChunk += 1;
        if (chunk !== undefined) await writer.write(chunk);
      }
    }),
  );
  const cpu = process.cpuUsage(cpuBefore);
  return {
    rate: perSecond(stored.length, performance.now() - began),
    cpuMicros: (cpu.user + cpu.system) / stored.length,
  };
}
