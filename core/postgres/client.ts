/** The PostgreSQL client boundary: pools built from our config, each with an 'error' listener. */
import pg from 'pg';
import type { Logger } from '../logger.js';

export type PgPool = pg.Pool;
export type PgClient = pg.PoolClient;

export interface PgPoolOptions {
  readonly url: string;
  readonly max?: number;
  readonly logger?: Logger;
  readonly connectTimeoutMs?: number;
  readonly applicationName?: string;
}

export function createPgPool(options: PgPoolOptions): PgPool {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.max ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    application_name: options.applicationName ?? 'tributary',
  });
  pool.on('error', (error) => {
    // An idle client lost its connection; the pool discards it and the next checkout reconnects.
    // Only message and SQLSTATE: pg errors carry the whole client object.
    const { message, code } = error as Error & { code?: string };
    options.logger?.warn(
      { err: { message, code }, component: 'pg-pool' },
      'idle PostgreSQL connection failed',
    );
  });
  return pool;
}

/** Strict readiness probe: `SELECT 1` on a fresh connection. Returns the server version. */
export async function probePostgres(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query('SELECT 1');
    const result = await client.query<{ server_version: string }>('SHOW server_version');
    return result.rows[0]?.server_version ?? 'unknown';
  } finally {
    await client.end();
  }
}
