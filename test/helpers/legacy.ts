/**
 * A private world for `tributary migrate` tests: a new PostgreSQL database (control plane and legacy
 * store, every migration applied by `tributary db apply`) and a new Cassandra keyspace, both dropped
 * after the file's tests. Call `legacyWorlds()` at module level; each call of the returned function
 * makes one more world.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll } from 'vitest';
import { z } from 'zod';
import { loadConfig, type Config } from '../../core/config.js';
import { createPgPool, type PgPool } from '../../core/postgres/index.js';
import { CLI, runCli } from './cli.js';
import { cassandraClient, config, logger, pgPool } from './context.js';
import { uniqueName } from './names.js';
import { waitFor } from './wait-for.js';

export interface LegacyWorld {
  /** DATABASE_URL and CASSANDRA_KEYSPACE for child processes. */
  readonly env: { readonly DATABASE_URL: string; readonly CASSANDRA_KEYSPACE: string };
  readonly config: Config;
  readonly keyspace: string;
  /** A pool on the new database. */
  readonly pool: PgPool;
}

export function legacyWorlds(): () => Promise<LegacyWorld> {
  const admin = pgPool();
  const cassandra = cassandraClient();
  const created: { name: string; pool: PgPool }[] = [];
  afterAll(async () => {
    for (const { name, pool } of created) {
      await pool.end();
      await cassandra.execute(`DROP KEYSPACE IF EXISTS ${name}`);
      await waitFor(
        async () => {
          const result = await admin.query(
            'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1',
            [name],
          );
          return z.object({ n: z.number() }).parse(result.rows[0]).n === 0;
        },
        { timeoutMs: 10_000, description: `the connections to ${name} to close` },
      );
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    }
  });
  return async () => {
    const name = uniqueName('mig').toLowerCase();
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(config.postgres.url);
    url.pathname = `/${name}`;
    const env = { DATABASE_URL: url.toString(), CASSANDRA_KEYSPACE: name };
    const pool = createPgPool({ url: env.DATABASE_URL, logger, max: 4 });
    created.push({ name, pool });
    const applied = await runCli(['db', 'apply'], env);
    if (applied.code !== 0) throw new Error(`db apply failed (${applied.code}): ${applied.stderr}`);
    return { env, config: loadConfig({ ...process.env, ...env }), keyspace: name, pool };
  };
}

/** The migration runs of a world's control plane, newest first. */
export async function migrationRuns(pool: PgPool): Promise<{ runId: string; status: string }[]> {
  const result = await pool.query<Record<string, unknown>>(
    'SELECT run_id::text AS run_id, status FROM migration_runs ORDER BY started_at DESC',
  );
  return result.rows.map((row) => ({ runId: String(row.run_id), status: String(row.status) }));
}

/** Rows read so far by the newest run for a table (0 before the first checkpoint). */
export async function checkpointRows(pool: PgPool, table: string): Promise<number> {
  const result = await pool.query<Record<string, unknown>>(
    `SELECT c.rows_done::int AS n FROM migration_checkpoints c JOIN migration_runs r USING (run_id)
      WHERE c.table_name = $1 ORDER BY r.started_at DESC LIMIT 1`,
    [table],
  );
  return Number(result.rows[0]?.n ?? 0);
}

export interface MigrateProcess {
  readonly child: ChildProcess;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  output(): string;
  /** SIGKILL: a crash, nothing flushed. */
  kill(): Promise<void>;
}

/** `tributary migrate …` as a child process; killed after the file's tests if still running. */
export function startMigrate(args: readonly string[], env: NodeJS.ProcessEnv): MigrateProcess {
  const child = spawn(process.execPath, [CLI, 'migrate', ...args], {
    env: { ...process.env, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  // 'close', not 'exit': by then its output has been read to the end (a test reads why it failed).
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  afterAll(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return {
    child,
    exited,
    output: () => output,
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}
