/**
 * A benchmark's or a demo's own PostgreSQL database, Cassandra keyspace, namespace and topics (all
 * named `<prefix><stamp>`), removed afterwards: neither writes into the platform's own stores, and
 * a run never sees an earlier one's data. Each run's name is kept in a file with its pid
 * (`run/scratch/` under TRIBUTARY_HOME) until it drops its stores, so that the next run drops what
 * one that was interrupted (Ctrl-C, kill) left behind, and nothing that is not a scratch run's.
 */
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createCassandraClient } from '../core/cassandra/index.js';
import { loadConfig, type Config } from '../core/config.js';
import { createKafka, deleteTopicsStartingWith, type Kafka } from '../core/kafka/index.js';
import type { Logger } from '../core/logger.js';
import { createPgPool } from '../core/postgres/index.js';
import { runningPid } from './stack/processes.js';

export interface Scratch {
  readonly name: string;
  /** The environment that points a `tributary` process (or loadConfig) at the scratch stores. */
  readonly env: NodeJS.ProcessEnv;
  readonly config: Config;
  /** The scratch runs found interrupted and dropped before this one began. */
  readonly abandoned: readonly string[];
  /** Deletes the topics, keyspace and database; never throws (a benchmark's result stands). */
  drop(): Promise<void>;
}

function scratchDir(base: Config): string {
  return path.join(base.home, 'run', 'scratch');
}

/** Deletes one scratch run's topics, keyspace and database; never throws. */
async function dropStores(base: Config, logger: Logger, kafka: Kafka, name: string): Promise<void> {
  await deleteTopicsStartingWith(kafka, [name]).catch(() => undefined);
  const cassandra = createCassandraClient({
    contactPoints: base.cassandra.contactPoints,
    localDataCenter: base.cassandra.localDataCenter,
    logger,
  });
  await cassandra.execute(`DROP KEYSPACE IF EXISTS ${name}`).catch(() => undefined);
  await cassandra.shutdown();
  const admin = createPgPool({ url: base.postgres.url, logger, max: 1 });
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
  await admin.end();
  await rm(path.join(scratchDir(base), `${name}.pid`), { force: true });
}

/** Drops the stores of every scratch run whose process is gone without dropping them itself. */
async function dropAbandoned(base: Config, logger: Logger, kafka: Kafka): Promise<string[]> {
  const dir = scratchDir(base);
  const files = await readdir(dir).catch(() => [] as string[]);
  const abandoned: string[] = [];
  for (const file of files) {
    // Only what createScratch names: the name goes into DROP statements.
    const name = /^([a-z][a-z0-9]*)\.pid$/.exec(file)?.[1];
    if (name === undefined || (await runningPid(path.join(dir, file))) !== undefined) continue;
    logger.info({ name }, 'dropping the stores of an interrupted run');
    await dropStores(base, logger, kafka, name);
    abandoned.push(name);
  }
  return abandoned;
}

/**
 * The environment that points a `tributary` process at stores all named `name`: the database `name`
 * on `base`'s PostgreSQL server, the keyspace and job namespace `name`, and topics `name-…`.
 */
export function scratchEnv(base: Config, name: string): NodeJS.ProcessEnv {
  const url = new URL(base.postgres.url);
  url.pathname = `/${name}`;
  return {
    DATABASE_URL: url.toString(),
    CASSANDRA_KEYSPACE: name,
    TRIBUTARY_NAMESPACE: name,
    RECORDS_TOPIC: `${name}-records`,
    FINDINGS_TOPIC: `${name}-findings`,
    FEEDBACK_TOPIC: `${name}-feedback`,
  };
}

/** `prefix`: lower-case letters (the name must suit a keyspace, a database and a topic). */
export async function createScratch(base: Config, logger: Logger, prefix: string): Promise<Scratch> {
  if (!/^[a-z]+$/.test(prefix)) throw new Error(`a scratch prefix is lower-case letters, not "${prefix}"`);
  const kafka = createKafka({ brokers: base.kafka.brokers, logger });
  const abandoned = await dropAbandoned(base, logger, kafka);
  const name = `${prefix}${Date.now().toString(36)}`;
  await mkdir(scratchDir(base), { recursive: true });
  await writeFile(path.join(scratchDir(base), `${name}.pid`), `${process.pid}\n`);
  const admin = createPgPool({ url: base.postgres.url, logger, max: 1 });
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const env = scratchEnv(base, name);
  const config = loadConfig({ ...process.env, ...env });
  return { name, env, config, abandoned, drop: () => dropStores(base, logger, kafka, name) };
}
