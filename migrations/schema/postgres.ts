/**
 * PostgreSQL schema migrations: ordered, each applied once in its own transaction, recorded with a
 * checksum, serialised across processes by an advisory lock. A changed applied file is an error.
 */
import type { Logger } from '../../core/logger.js';
import { withPgClient, type PgClient, type PgPool } from '../../core/postgres/index.js';
import { describeError } from '../../core/errors.js';
import { readMigrationFiles, type MigrationFile } from './files.js';
import type { MigrationResult, MigrationRun } from './result.js';

/** Advisory lock key: the first 8 bytes of sha256('tributary.schema_migrations'), fixed forever. */
const LOCK_KEY = '7369646573686f77';
const TABLE = 'tributary_schema_migrations';

export interface RunOptions {
  readonly dir: string;
  readonly logger: Logger;
  /** Report what would be applied without applying it. */
  readonly dryRun?: boolean;
}

export async function migratePostgres(pool: PgPool, options: RunOptions): Promise<MigrationRun> {
  const files = await readMigrationFiles(options.dir, '.sql');
  return withPgClient(pool, (client) => applyFiles(client, files, options));
}

async function applyFiles(
  client: PgClient,
  files: readonly MigrationFile[],
  options: RunOptions,
): Promise<MigrationRun> {
  const results: MigrationResult[] = [];
  let failure: string | undefined;
  await client.query(`SELECT pg_advisory_lock(x'${LOCK_KEY}'::bigint)`);
  try {
    await client.query(`CREATE TABLE IF NOT EXISTS ${TABLE} (
      name text PRIMARY KEY,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const applied = new Map(
      (
        await client.query<{ name: string; checksum: string }>(`SELECT name, checksum FROM ${TABLE}`)
      ).rows.map((row) => [row.name, row.checksum]),
    );
    const known = new Set(files.map((f) => f.name));
    const unknown = [...applied.keys()].filter((name) => !known.has(name));
    if (unknown.length > 0) {
      failure = `the database has migrations this version does not know: ${unknown.join(', ')}`;
    }
    for (const file of files) {
      if (failure !== undefined) {
        results.push({ name: file.name, status: 'pending' });
        continue;
      }
      const checksum = applied.get(file.name);
      if (checksum !== undefined) {
        if (checksum === file.checksum) {
          results.push({ name: file.name, status: 'already-applied' });
        } else {
          failure = `migration ${file.name} was changed after it was applied (checksum ${checksum.slice(0, 12)} → ${file.checksum.slice(0, 12)}); add a new migration instead`;
          results.push({ name: file.name, status: 'changed', error: failure });
        }
        continue;
      }
      if (options.dryRun === true) {
        results.push({ name: file.name, status: 'pending' });
        continue;
      }
      try {
        await client.query('BEGIN');
        await client.query(file.text);
        await client.query(`INSERT INTO ${TABLE} (name, checksum) VALUES ($1, $2)`, [
          file.name,
          file.checksum,
        ]);
        await client.query('COMMIT');
        options.logger.info({ migration: file.name }, 'applied PostgreSQL migration');
        results.push({ name: file.name, status: 'applied' });
      } catch (error) {
        await client.query('ROLLBACK').catch((rollbackError: unknown) => {
          options.logger.warn({ err: rollbackError }, 'rollback failed');
        });
        failure = `migration ${file.name} failed: ${describeError(error)}`;
        results.push({ name: file.name, status: 'failed', error: failure });
      }
    }
  } finally {
    await client.query(`SELECT pg_advisory_unlock(x'${LOCK_KEY}'::bigint)`);
  }
  return { store: 'postgres', results, ...(failure === undefined ? {} : { error: failure }) };
}
