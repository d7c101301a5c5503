/**
 * A private world for speed-layer tests: its own PostgreSQL database (control plane and registry),
 * Cassandra keyspace, topics and job namespace, with a `tributary serve` running the registry.
 */
import { afterAll } from 'vitest';
import { cassandraTypes } from '../../core/cassandra/index.js';
import { loadConfig, type Config } from '../../core/config.js';
import { daysBetween, utcDay } from '../../ingest/index.js';
import type { Kafka } from '../../core/kafka/index.js';
import { PLATFORM_JOBS, type JobStatus } from '../../speed/index.js';
import { scratchEnv } from '../../scripts/scratch.js';
import { runCli } from './cli.js';
import { cassandraClient, config as baseConfig, pgPool } from './context.js';
import { committedSum, endOffsetSum, readTopic } from './kafka.js';
import { uniqueName } from './names.js';
import { startServe, type RunningCli } from './process.js';

/** Every job with the built-in use cases deployed (`deployBuiltIns`): amount-anomaly as A and B. */
export const ALL_JOBS: readonly string[] = [
  ...PLATFORM_JOBS,
  'usecase.data-quality',
  'usecase.velocity',
  'usecase.amount-anomaly.A',
  'usecase.amount-anomaly.B',
];

/** Deploys data-quality, velocity and amount-anomaly's variants A and B (the jobs of ALL_JOBS). */
export async function deployBuiltIns(env: NodeJS.ProcessEnv): Promise<void> {
  for (const args of [
    ['deploy', 'data-quality'],
    ['deploy', 'velocity'],
    ['deploy', 'amount-anomaly', '--variant', 'A'],
    ['deploy', 'amount-anomaly', '--variant', 'B'],
  ]) {
    const result = await runCli(args, env);
    if (result.code !== 0) throw new Error(`tributary ${args.join(' ')} failed: ${result.stderr}`);
  }
}

/** A supervisor's `/jobs`. */
export async function jobStatuses(url: string): Promise<JobStatus[]> {
  return (await (await fetch(`${url}/jobs`)).json()) as JobStatus[];
}

export interface SpeedWorld {
  readonly env: NodeJS.ProcessEnv;
  readonly config: Config;
  readonly serve: RunningCli;
  /** Consumer groups and the topic each reads, for "has everything been processed?". */
  groups(jobs: readonly string[]): { groupId: string; topic: string }[];
}

const admin = pgPool();
const cassandra = cassandraClient();
const databases: string[] = [];
const keyspaces: string[] = [];
afterAll(async () => {
  for (const keyspace of keyspaces) await cassandra.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
  for (const database of databases) await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
});

export async function speedWorld(extraEnv: NodeJS.ProcessEnv = {}): Promise<SpeedWorld> {
  const name = uniqueName('sp').toLowerCase();
  await admin.query(`CREATE DATABASE ${name}`);
  databases.push(name);
  keyspaces.push(name);
  const env: NodeJS.ProcessEnv = { ...scratchEnv(baseConfig, name), RECORDS_PARTITIONS: '3', ...extraEnv };
  const applied = await runCli(['db', 'apply'], env);
  if (applied.code !== 0) throw new Error(`db apply failed: ${applied.stderr}`);
  const serve = await startServe(env);
  env.SCHEMA_REGISTRY_URL = serve.registryUrl;
  const config = loadConfig({ ...process.env, ...env });
  afterAll(() => serve.process.stop());
  return {
    env,
    config,
    serve: serve.process,
    groups: (jobs) =>
      jobs.map((job) => {
        if (job === 'validation') return { groupId: `${name}.validation`, topic: config.topics.records };
        if (job === 'delivery') return { groupId: `${name}.job.delivery`, topic: config.topics.findings };
        return { groupId: `${name}.job.${job}`, topic: config.topics.valid };
      }),
  };
}

/** True when every group has committed up to the end of its input topic. */
export async function allCaughtUp(
  kafka: Kafka,
  groups: readonly { groupId: string; topic: string }[],
): Promise<boolean> {
  for (const { groupId, topic } of groups) {
    const end = await endOffsetSum(kafka, topic);
    if (end > 0n && (await committedSum(kafka, groupId, topic)) < end) return false;
  }
  return true;
}

/**
 * `tributary generate` of `records` records for 20 customers over 2 days, with no re-sent record (a
 * re-sent one gives its findings again, by design, for delivery to drop): what validation accepts.
 */
export async function generateUnique(env: NodeJS.ProcessEnv, records: number, seed: number): Promise<number> {
  const generated = await runCli(
    [
      'generate',
      '--records',
      String(records),
      '--customers',
      '20',
      '--days',
      '2',
      '--seed',
      String(seed),
    ].concat(['--duplicates', '0', '--json']),
    env,
  );
  if (generated.code !== 0) throw new Error(`generate failed: ${generated.stderr}`);
  return (JSON.parse(generated.stdout) as { valid: number }).valid;
}

/** The `findingId` of each message of a findings or feedback topic, in topic order. */
export async function findingIdsOn(kafka: Kafka, topic: string): Promise<string[]> {
  return (await readTopic(kafka, topic)).map(
    (m) => (JSON.parse(m.message.value?.toString() ?? '{}') as { findingId: string }).findingId,
  );
}

/** Records the realtime views counted, over every customer, day, category and ingest hour. */
export async function viewsRecordCount(world: SpeedWorld): Promise<number> {
  const rows = await cassandra.execute(
    `SELECT record_count FROM ${world.config.cassandra.keyspace}.realtime_aggregates`,
  );
  return rows.rows.reduce((n, r) => n + Number(r.get('record_count') as bigint), 0);
}

export interface StoredFinding {
  readonly findingId: string;
  readonly variant: string;
  readonly delivered: boolean;
}

/** A use case's findings stored for a customer (findings_by_customer) on the days from `fromMs` to `toMs`. */
export async function storedFindings(
  world: SpeedWorld,
  usecase: string,
  customer: string,
  fromMs: number,
  toMs: number,
): Promise<StoredFinding[]> {
  const found: StoredFinding[] = [];
  for (const day of daysBetween(utcDay(new Date(fromMs)), utcDay(new Date(toMs)))) {
    const rows = await cassandra.execute(
      `SELECT finding_id, usecase, variant, delivered FROM ${world.config.cassandra.keyspace}.findings_by_customer
       WHERE customer_id = ? AND day = ?`,
      [customer, cassandraTypes.LocalDate.fromString(day)],
    );
    for (const row of rows.rows) {
      if (row.get('usecase') !== usecase) continue;
      found.push({
        findingId: String(row.get('finding_id')),
        variant: String(row.get('variant')),
        delivered: row.get('delivered') === true,
      });
    }
  }
  return found;
}
