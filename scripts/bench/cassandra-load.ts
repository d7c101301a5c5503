/**
 * What Cassandra was asked to do during a measurement, from its virtual tables: CQL requests (the
 * native transport's completed tasks, whatever they carried) and partition writes per table of one
 * keyspace. Its CPU per record only means something next to these.
 */
import type { CassandraClient } from '../../core/cassandra/index.js';

export interface CassandraLoad {
  readonly requests: number;
  /** Partition writes applied locally, by table. */
  readonly writes: ReadonlyMap<string, number>;
}

export async function cassandraLoad(client: CassandraClient, keyspace: string): Promise<CassandraLoad> {
  const pool = await client.execute(
    "SELECT completed_tasks FROM system_views.thread_pools WHERE name = 'Native-Transport-Requests'",
  );
  const tables = await client.execute(
    'SELECT table_name, count FROM system_views.local_write_latency WHERE keyspace_name = ?',
    [keyspace],
  );
  const writes = new Map<string, number>();
  for (const row of tables.rows) writes.set(String(row.get('table_name')), Number(row.get('count')));
  return { requests: Number(pool.rows[0]?.get('completed_tasks') ?? 0), writes };
}

/** "0.08 requests per record; partition writes per record: records 0.02, …" between two readings. */
export function describeLoad(before: CassandraLoad, after: CassandraLoad, records: number): string {
  const perRecord = (n: number): string => (n / records).toFixed(2);
  const tables = [...after.writes]
    .map(([table, count]) => [table, count - (before.writes.get(table) ?? 0)] as const)
    .filter(([, count]) => count > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([table, count]) => `${table} ${perRecord(count)}`);
  return `${perRecord(after.requests - before.requests)} requests per record; partition writes per record: ${tables.join(', ') || 'none'}`;
}
