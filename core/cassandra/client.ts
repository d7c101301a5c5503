/** The Cassandra client boundary: one place that builds cassandra-driver clients from our config. */
import cassandra from 'cassandra-driver';
import type { Logger } from '../logger.js';

export type CassandraClient = cassandra.Client;
export const cassandraTypes = cassandra.types;
export type LocalDate = cassandra.types.LocalDate;

export interface CassandraClientOptions {
  readonly contactPoints: readonly string[];
  readonly localDataCenter: string;
  readonly keyspace?: string;
  readonly logger?: Logger;
  readonly connectTimeoutMs?: number;
  readonly readTimeoutMs?: number;
}

export function createCassandraClient(options: CassandraClientOptions): CassandraClient {
  const client = new cassandra.Client({
    contactPoints: [...options.contactPoints],
    localDataCenter: options.localDataCenter,
    ...(options.keyspace === undefined ? {} : { keyspace: options.keyspace }),
    socketOptions: {
      connectTimeout: options.connectTimeoutMs ?? 5_000,
      readTimeout: options.readTimeoutMs ?? 30_000,
    },
    queryOptions: { prepare: true, consistency: cassandra.types.consistencies.localQuorum },
    // bigint columns as JavaScript bigint (amounts in minor units exceed 2^53), never as Long objects.
    encoding: { useBigIntAsLong: true, useBigIntAsVarint: true },
  });
  const logger = options.logger;
  if (logger !== undefined) {
    client.on('log', (level, className, message) => {
      if (level === 'error') logger.error({ component: 'cassandra-driver', className }, message);
      else if (level === 'warning') logger.warn({ component: 'cassandra-driver', className }, message);
    });
  }
  return client;
}

/** Strict readiness probe: `SELECT release_version FROM system.local`. Returns the server version. */
export async function probeCassandra(options: CassandraClientOptions): Promise<string> {
  const client = createCassandraClient({ ...options, connectTimeoutMs: 2_000, readTimeoutMs: 5_000 });
  try {
    const result = await client.execute('SELECT release_version FROM system.local');
    const version: unknown = result.rows[0]?.get('release_version');
    return typeof version === 'string' ? version : 'unknown';
  } finally {
    await client.shutdown();
  }
}
