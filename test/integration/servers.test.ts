/** Each server of the stack answers a real query through our client modules. */
import { describe, expect, it } from 'vitest';
import { probeCassandra } from '../../core/cassandra/index.js';
import { probeKafka } from '../../core/kafka/index.js';
import { probePostgres } from '../../core/postgres/index.js';
import { cassandraClient, config, logger, pgPool } from '../helpers/context.js';

describe('the stack servers', () => {
  it('Kafka answers a metadata request', async () => {
    expect(await probeKafka({ brokers: config.kafka.brokers, logger })).toBeGreaterThanOrEqual(1);
  });

  it('Cassandra answers SELECT release_version FROM system.local with a 5.0 release', async () => {
    const version = await probeCassandra({
      contactPoints: config.cassandra.contactPoints,
      localDataCenter: config.cassandra.localDataCenter,
    });
    expect(version).toMatch(/^5\.0\./);
  });

  it('PostgreSQL answers SELECT 1', async () => {
    expect(await probePostgres(config.postgres.url)).toMatch(/^\d+/);
    const result = await pgPool().query<{ one: number }>('SELECT 1 AS one');
    expect(result.rows[0]?.one).toBe(1);
  });

  it('the master dataset tables exist with TTL and time-window compaction', async () => {
    const client = cassandraClient();
    const result = await client.execute(
      'SELECT table_name, default_time_to_live, compaction FROM system_schema.tables WHERE keyspace_name = ?',
      [config.cassandra.keyspace],
    );
    const tables = new Map(result.rows.map((row) => [String(row.get('table_name')), row]));
    for (const name of ['records', 'records_by_customer']) {
      const row = tables.get(name);
      expect(row, name).toBeDefined();
      expect(Number(row?.get('default_time_to_live'))).toBeGreaterThanOrEqual(60 * 86_400);
      expect(JSON.stringify(row?.get('compaction'))).toContain('TimeWindowCompactionStrategy');
    }
  });
});
