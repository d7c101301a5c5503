/** Config, logger and clients for integration tests, each registering its own cleanup. */
import { afterAll } from 'vitest';
import { createCassandraClient, type CassandraClient } from '../../core/cassandra/index.js';
import { loadConfig, type Config } from '../../core/config.js';
import { createKafka, type Kafka } from '../../core/kafka/index.js';
import { createLogger, type Logger } from '../../core/logger.js';
import { createPgPool, type PgPool } from '../../core/postgres/index.js';

export const config: Config = loadConfig();
export const logger: Logger = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'warn' });

export function kafkaClient(): Kafka {
  return createKafka({ brokers: config.kafka.brokers, logger });
}

export function cassandraClient(): CassandraClient {
  const client = createCassandraClient({
    contactPoints: config.cassandra.contactPoints,
    localDataCenter: config.cassandra.localDataCenter,
    logger,
  });
  afterAll(() => client.shutdown());
  return client;
}

export function pgPool(url: string = config.postgres.url): PgPool {
  const pool = createPgPool({ url, logger, max: 4 });
  afterAll(() => pool.end());
  return pool;
}
