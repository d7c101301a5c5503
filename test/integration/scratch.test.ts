/**
 * The demo's and the benches' scratch stores (scripts/scratch.ts): a run that was interrupted
 * leaves its database, keyspace and topics behind; the next run drops them, and nothing of a run
 * that is still going.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deleteTopicsStartingWith, ensureTopicsWith } from '../../core/kafka/index.js';
import { createScratch } from '../../scripts/scratch.js';
import { cassandraClient, config, kafkaClient, logger, pgPool } from '../helpers/context.js';

const admin = pgPool();
const cassandra = cassandraClient();
const kafka = kafkaClient();
const dir = path.join(config.home, 'run', 'scratch');

/** A name of the scratch shape, unique to this test. */
function scratchName(prefix: string): string {
  return `${prefix}${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
}

/** Stores as a scratch run makes them, with its pid file. */
async function leaveStores(name: string, pid: number): Promise<void> {
  await admin.query(`CREATE DATABASE ${name}`);
  await cassandra.execute(
    `CREATE KEYSPACE ${name} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`,
  );
  await ensureTopicsWith(kafka, [{ topic: `${name}-records`, partitions: 1 }]);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, `${name}.pid`), `${pid}\n`);
}

async function stores(name: string): Promise<{ database: boolean; keyspace: boolean; topic: boolean }> {
  const database = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  const keyspace = await cassandra.execute(
    'SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?',
    [name],
  );
  const kafkaAdmin = kafka.admin();
  await kafkaAdmin.connect();
  const topics = await kafkaAdmin.listTopics().finally(() => kafkaAdmin.disconnect());
  return {
    database: (database.rowCount ?? 0) > 0,
    keyspace: keyspace.rows.length > 0,
    topic: topics.includes(`${name}-records`),
  };
}

describe('scratch stores', () => {
  it(
    "drop an interrupted run's stores at the next run, never a running one's",
    { timeout: 120_000 },
    async () => {
      const gonePid = spawnSync(process.execPath, ['-e', '']).pid;
      const interrupted = scratchName('zzgone');
      const running = scratchName('zzlive');
      await leaveStores(interrupted, gonePid);
      await leaveStores(running, process.pid);
      // Not a name createScratch gives (it would go into DROP statements): left alone.
      const stranger = path.join(dir, `${interrupted}-x;.pid`);
      await writeFile(stranger, `${gonePid}\n`);
      try {
        const scratch = await createScratch(config, logger, 'zzmine');
        expect(scratch.abandoned).toContain(interrupted);
        expect(scratch.abandoned).not.toContain(running);
        expect(existsSync(stranger)).toBe(true);
        expect(await stores(interrupted)).toEqual({ database: false, keyspace: false, topic: false });
        expect(existsSync(path.join(dir, `${interrupted}.pid`))).toBe(false);
        expect(await stores(running)).toEqual({ database: true, keyspace: true, topic: true });

        const mine = path.join(dir, `${scratch.name}.pid`);
        expect(existsSync(mine)).toBe(true);
        expect((await stores(scratch.name)).database).toBe(true);
        await scratch.drop();
        expect((await stores(scratch.name)).database).toBe(false);
        expect(existsSync(mine)).toBe(false);
      } finally {
        await admin.query(`DROP DATABASE IF EXISTS ${running} WITH (FORCE)`);
        await cassandra.execute(`DROP KEYSPACE IF EXISTS ${running}`);
        await deleteTopicsStartingWith(kafka, [running]);
        await rm(path.join(dir, `${running}.pid`), { force: true });
        await rm(stranger, { force: true });
      }
    },
  );
});
