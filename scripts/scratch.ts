/**
 * A benchmark's or a demo's own PostgreSQL database, Cassandra keyspace, namespace and topics (all
 * named `<prefix><stamp>`), removed afterwards: neither writes into the platform's own stores, and
 * a run never sees an earlier one's data.
 */
import { createCassandraClient } from '../core/cassandra/index.js';
import { loadConfig, type Config } from '../core/config.js';
import { deleteTopicsStartingWith, type Kafka } from '../core/kafka/index.js';
import type { Logger } from '../core/logger.js';
import { createPgPool } from '../core/postgres/index.js';

export interface Scratch {
  readonly name: string;
  /** The environment that points a `tributary` process (or loadConfig) at the scratch stores. */
  readonly env: NodeJS.ProcessEnv;
  readonly config: Config;
  /** Deletes the topics, keyspace and database; never throws (a benchmark's result stands). */
  drop(kafka: Kafka): Promise<void>;
}

/** `prefix`: lower-case letters (the name must suit a keyspace, a database and a topic). */
export async function createScratch(base: Config, logger: Logger, prefix: string): Promise<Scratch> {
  const name = `${prefix}${Date.now().toString(36)}`;
  const admin = createPgPool({ url: base.postgres.url, logger, max: 1 });
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(base.postgres.url);
  url.pathname = `/${name}`;
  const env: NodeJS.ProcessEnv = {
    DATABASE_URL: url.toString(),
    CASSANDRA_KEYSPACE: name,
    TRIBUTARY_NAMESPACE: name,
    RECORDS_TOPIC: `${name}-records`,
    FINDINGS_TOPIC: `${name}-findings`,
    FEEDBACK_TOPIC: `${name}-feedback`,
  };
  const config = loadConfig({ ...process.env, ...env });
  return {
    name,
    env,
    config,
    drop: async (kafka) => {
      await deleteTopicsStartingWith(kafka, [name]).catch(() => undefined);
      const cassandra = createCassandraClient({
        contactPoints: config.cassandra.contactPoints,
        localDataCenter: config.cassandra.localDataCenter,
        logger,
      });
      await cassandra.execute(`DROP KEYSPACE IF EXISTS ${name}`).catch(() => undefined);
      await cassandra.shutdown();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
      await admin.end();
    },
  };
}
