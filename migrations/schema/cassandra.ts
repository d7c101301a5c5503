/**
 * Cassandra schema migrations. The keyspace is created with the configured replication; each file's
 * statements are applied in order, progress is recorded per statement (CQL DDL is not transactional,
 * so a run that dies halfway resumes at the next statement), and a lease serialises processes.
 */
import { createCassandraClient, type CassandraClient } from '../../core/cassandra/index.js';
import { replicationMap } from '../../core/config.js';
import { describeError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { withCassandraLease } from './cassandra-lock.js';
import { readMigrationFiles, splitStatements } from './files.js';
import type { MigrationResult, MigrationRun } from './result.js';

export interface CassandraMigrationOptions {
  readonly contactPoints: readonly string[];
  readonly localDataCenter: string;
  readonly keyspace: string;
  readonly replication: string;
  readonly dir: string;
  readonly logger: Logger;
  readonly dryRun?: boolean;
}

interface AppliedRow {
  readonly checksum: string;
  readonly statementsApplied: number;
  readonly complete: boolean;
}

/** Migration files name tables as `{{keyspace}}.table`; the configured keyspace is substituted. */
export function renderCql(text: string, keyspace: string): string {
  return text.replaceAll('{{keyspace}}', keyspace);
}

async function ensureKeyspace(options: CassandraMigrationOptions): Promise<void> {
  const client = createCassandraClient({
    contactPoints: options.contactPoints,
    localDataCenter: options.localDataCenter,
  });
  try {
    await client.execute(
      `CREATE KEYSPACE IF NOT EXISTS ${options.keyspace} WITH replication = ${replicationMap(options.replication)}`,
      [],
      { prepare: false },
    );
  } finally {
    await client.shutdown();
  }
}

async function readApplied(client: CassandraClient, ks: string): Promise<Map<string, AppliedRow>> {
  const result = await client.execute(
    `SELECT name, checksum, statements_applied, complete FROM ${ks}.schema_migrations`,
  );
  const applied = new Map<string, AppliedRow>();
  for (const row of result.rows) {
    applied.set(String(row.get('name')), {
      checksum: String(row.get('checksum')),
      statementsApplied: Number(row.get('statements_applied') ?? 0),
      complete: row.get('complete') === true,
    });
  }
  return applied;
}

export async function migrateCassandra(options: CassandraMigrationOptions): Promise<MigrationRun> {
  const files = await readMigrationFiles(options.dir, '.cql');
  await ensureKeyspace(options);
  // Table names are always qualified with the keyspace (Cassandra 5 warns against `USE <keyspace>`).
  const client = createCassandraClient({
    contactPoints: options.contactPoints,
    localDataCenter: options.localDataCenter,
    logger: options.logger,
  });
  const ks = options.keyspace;
  try {
    await client.execute(
      `CREATE TABLE IF NOT EXISTS ${ks}.schema_migrations (
        name text PRIMARY KEY, checksum text, statements_applied int, complete boolean, applied_at timestamp)`,
      [],
      { prepare: false },
    );
    await client.execute(
      `CREATE TABLE IF NOT EXISTS ${ks}.schema_migrations_lock (id text PRIMARY KEY, owner text, acquired_at timestamp)`,
      [],
      { prepare: false },
    );
    return await withCassandraLease(client, `${ks}.schema_migrations_lock`, 120_000, () =>
      applyAll(client, files, options),
    );
  } finally {
    await client.shutdown();
  }
}

async function applyAll(
  client: CassandraClient,
  files: Awaited<ReturnType<typeof readMigrationFiles>>,
  options: CassandraMigrationOptions,
): Promise<MigrationRun> {
  const ks = options.keyspace;
  const applied = await readApplied(client, ks);
  const results: MigrationResult[] = [];
  let failure: string | undefined;
  const known = new Set(files.map((f) => f.name));
  const unknown = [...applied.keys()].filter((name) => !known.has(name));
  if (unknown.length > 0)
    failure = `the keyspace has migrations this version does not know: ${unknown.join(', ')}`;
  for (const file of files) {
    if (failure !== undefined) {
      results.push({ name: file.name, status: 'pending' });
      continue;
    }
    const previous = applied.get(file.name);
    if (previous !== undefined && previous.checksum !== file.checksum) {
      failure = `migration ${file.name} was changed after it was applied (checksum ${previous.checksum.slice(0, 12)} → ${file.checksum.slice(0, 12)}); add a new migration instead`;
      results.push({ name: file.name, status: 'changed', error: failure });
      continue;
    }
    if (previous?.complete === true) {
      results.push({ name: file.name, status: 'already-applied' });
      continue;
    }
    if (options.dryRun === true) {
      results.push({ name: file.name, status: 'pending' });
      continue;
    }
    const statements = splitStatements(renderCql(file.text, ks));
    let done = previous?.statementsApplied ?? 0;
    try {
      for (; done < statements.length; done += 1) {
        await client.execute(statements[done] ?? '', [], { prepare: false });
        await client.execute(
          `INSERT INTO ${ks}.schema_migrations (name, checksum, statements_applied, complete, applied_at) VALUES (?, ?, ?, ?, toTimestamp(now()))`,
          [file.name, file.checksum, done + 1, done + 1 === statements.length],
        );
      }
      if (statements.length === 0) {
        await client.execute(
          `INSERT INTO ${ks}.schema_migrations (name, checksum, statements_applied, complete, applied_at) VALUES (?, ?, 0, true, toTimestamp(now()))`,
          [file.name, file.checksum],
        );
      }
      options.logger.info(
        { migration: file.name, statements: statements.length },
        'applied Cassandra migration',
      );
      results.push({ name: file.name, status: 'applied' });
    } catch (error) {
      failure = `migration ${file.name} failed at statement ${done + 1} of ${statements.length}: ${describeError(error)}`;
      results.push({ name: file.name, status: 'failed', error: failure });
    }
  }
  return { store: 'cassandra', results, ...(failure === undefined ? {} : { error: failure }) };
}
