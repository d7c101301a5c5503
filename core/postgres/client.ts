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

/**
 * Runs `work` on a connection checked out of `pool` and always gives it back. A checked-out pg
 * client has no 'error' listener (the pool's is removed while it is out), so a server that ends the
 * session between two statements (a restart, pg_terminate_backend, a failover) would raise an
 * unhandled 'error' and kill the process. Here that error is caught — `work` fails, with it — and
 * a connection that lost its session or whose work threw is destroyed rather than handed to the
 * next user (a failed statement can leave a session in any state; reconnecting is cheap).
 */
export async function withPgClient<T>(pool: PgPool, work: (client: PgClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let lost: Error | undefined;
  const onError = (error: Error): void => {
    lost ??= error;
  };
  client.on('error', onError);
  let failed = false;
  try {
    return await work(client);
  } catch (error) {
    failed = true;
    // The lost session is the cause (its SQLSTATE tells retries it is transient), not the
    // "not queryable" of the statement that came after it.
    throw lost ?? error;
  } finally {
    client.removeListener('error', onError);
    client.release(lost ?? failed);
  }
}

/**
 * `work` in one transaction: committed if it returns, rolled back if it throws (the connection is
 * destroyed, which ends the transaction on the server even when the session is already gone).
 */
export async function inPgTransaction<T>(pool: PgPool, work: (client: PgClient) => Promise<T>): Promise<T> {
  return withPgClient(pool, async (client) => {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  });
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
