/**
 * Schema migrations on a fresh PostgreSQL database and Cassandra keyspace of their own: applied in
 * order and once, a second run is a no-op, two concurrent runs are safe, a changed file is an error.
 */
import { cp, mkdtemp, writeFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readMigrationFiles, shippedMigrationsDir } from '../../migrations/schema/index.js';
import { runCli } from '../helpers/cli.js';
import { cassandraClient, config, pgPool } from '../helpers/context.js';
import { uniqueName } from '../helpers/names.js';

const admin = pgPool();
const cassandra = cassandraClient();
const created: { databases: string[]; keyspaces: string[] } = { databases: [], keyspaces: [] };

async function freshStores(): Promise<NodeJS.ProcessEnv> {
  const name = uniqueName('t').toLowerCase();
  await admin.query(`CREATE DATABASE ${name}`);
  created.databases.push(name);
  created.keyspaces.push(name);
  const url = new URL(config.postgres.url);
  url.pathname = `/${name}`;
  return { DATABASE_URL: url.toString(), CASSANDRA_KEYSPACE: name };
}

async function appliedInPostgres(env: NodeJS.ProcessEnv): Promise<string[]> {
  const pool = pgPool(env.DATABASE_URL);
  const rows = await pool.query<{ name: string }>(
    'SELECT name FROM tributary_schema_migrations ORDER BY name',
  );
  return rows.rows.map((r) => r.name);
}

async function appliedInCassandra(keyspace: string): Promise<string[]> {
  const result = await cassandra.execute(`SELECT name, complete FROM ${keyspace}.schema_migrations`);
  return result.rows
    .filter((r) => r.get('complete') === true)
    .map((r) => String(r.get('name')))
    .sort();
}

beforeAll(async () => {
  await cassandra.connect();
});

afterAll(async () => {
  for (const keyspace of created.keyspaces) {
    await cassandra.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
  }
  for (const database of created.databases) {
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  }
});

describe('schema migrations', () => {
  it('apply every migration once; a second run is a no-op', async () => {
    const env = await freshStores();
    const first = await runCli(['db', 'apply'], env);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/postgres: \d+ applied/);
    expect(first.stdout).toMatch(/cassandra: \d+ applied/);

    const second = await runCli(['db', 'apply'], env);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/postgres: \d+ already-applied\n/);
    expect(second.stdout).toMatch(/cassandra: \d+ already-applied\n/);

    const status = await runCli(['db', 'status'], env);
    expect(status.stdout).not.toContain('pending');
    expect(await appliedInPostgres(env)).toContain('0001_control_plane');
    expect(await appliedInCassandra(String(env.CASSANDRA_KEYSPACE))).toContain('0001_master_dataset');
  });

  it('two processes applying at the same moment apply each migration exactly once', async () => {
    const env = await freshStores();
    const [a, b] = await Promise.all([runCli(['db', 'apply'], env), runCli(['db', 'apply'], env)]);
    expect([a.code, b.code]).toEqual([0, 0]);
    // Exactly one process applied each store's migrations; the other found them applied.
    const outputs = [a.stdout, b.stdout].join('\n');
    expect(outputs.match(/postgres: \d+ applied/g)?.length).toBe(1);
    expect(outputs.match(/postgres: \d+ already-applied/g)?.length).toBe(1);
    expect(outputs.match(/cassandra: \d+ applied/g)?.length).toBe(1);
    expect(outputs.match(/cassandra: \d+ already-applied/g)?.length).toBe(1);
    const pg = await appliedInPostgres(env);
    expect(new Set(pg).size).toBe(pg.length);
  });

  it('a migration changed after it was applied is an error, and new ones are applied in order', async () => {
    const env = await freshStores();
    const dir = await mkdtemp(path.join(tmpdir(), 'migrations-'));
    const pgDir = path.join(dir, 'postgres');
    const cqlDir = path.join(dir, 'cassandra');
    await cp(shippedMigrationsDir(config, 'postgres'), pgDir, { recursive: true });
    await cp(shippedMigrationsDir(config, 'cassandra'), cqlDir, { recursive: true });
    const dirs = { TRIBUTARY_MIGRATIONS_DIR: dir };
    expect((await runCli(['db', 'apply'], { ...env, ...dirs })).code).toBe(0);

    await writeFile(path.join(pgDir, '0900_extra.sql'), 'CREATE TABLE extra (id int PRIMARY KEY);');
    await writeFile(
      path.join(cqlDir, '0900_extra.cql'),
      'CREATE TABLE IF NOT EXISTS {{keyspace}}.extra (id int PRIMARY KEY);\nALTER TABLE {{keyspace}}.extra ADD note text;',
    );
    const added = await runCli(['db', 'apply'], { ...env, ...dirs });
    expect(added.code).toBe(0);
    expect(added.stdout).toMatch(/postgres: \d+ already-applied, 1 applied\n/);
    const shipped = (await readMigrationFiles(shippedMigrationsDir(config, 'postgres'), '.sql')).map(
      (f) => f.name,
    );
    expect(await appliedInPostgres(env)).toEqual([...shipped, '0900_extra']);

    await appendFile(path.join(pgDir, '0001_control_plane.sql'), '\n-- edited after the fact\n');
    const changed = await runCli(['db', 'apply'], { ...env, ...dirs });
    expect(changed.code).toBe(1);
    expect(changed.stderr).toContain('0001_control_plane was changed after it was applied');
  });
});
