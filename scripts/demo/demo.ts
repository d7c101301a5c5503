/**
 * `tributary demo`: the platform end to end on generated data, as far as it is built. Each capability
 * adds its step here. Today: the local stack, the schema, and a round trip through each store.
 */
import { randomUUID } from 'node:crypto';
import { createCassandraClient } from '../../core/cassandra/index.js';
import type { Config } from '../../core/config.js';
import { createKafka } from '../../core/kafka/index.js';
import type { Logger } from '../../core/logger.js';
import { createPgPool } from '../../core/postgres/index.js';
import { applySchema, summarise } from '../../migrations/schema/index.js';
import { Stack, formatStatus } from '../stack/index.js';
import { demoPipeline } from './pipeline.js';

type Say = (line: string) => void;

async function step<T>(say: Say, title: string, work: () => Promise<T>): Promise<T> {
  const began = performance.now();
  const result = await work();
  say(`  ✓ ${title} (${Math.round(performance.now() - began)} ms)`);
  return result;
}

async function kafkaRoundTrip(config: Config, logger: Logger, say: Say): Promise<void> {
  const kafka = createKafka({ brokers: config.kafka.brokers, logger });
  const topic = `demo-${randomUUID()}`;
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 3 }] });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const count = 10_000;
    await step(say, `produced ${count} messages to Kafka (idempotent producer, acks=all)`, async () => {
      for (let i = 0; i < count; i += 1_000) {
        await producer.send({
          topic,
          acks: -1,
          messages: Array.from({ length: 1_000 }, (_, j) => ({
            key: `c${(i + j) % 10}`,
            value: String(i + j),
          })),
        });
      }
    });
    await producer.disconnect();
    const offsets = await admin.fetchTopicOffsets(topic);
    say(`    partitions: ${offsets.map((o) => `${o.partition}→${o.high}`).join(', ')}`);
  } finally {
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  }
}

export async function runDemo(
  config: Config,
  logger: Logger,
  say: Say = (line) => process.stdout.write(`${line}\n`),
): Promise<void> {
  say('Tributary demo');
  say('1. The local stack (real Kafka, Cassandra and PostgreSQL servers)');
  const stack = new Stack(config, logger);
  const up = await step(say, 'stack up', () => stack.up());
  say(`    started: ${up.started.join(', ') || 'none (already running)'}`);
  say(formatStatus(await stack.status()).replace(/^/gm, '    '));

  say('2. Schema migrations (PostgreSQL control plane, Cassandra master dataset)');
  for (const run of await step(say, 'db apply', () => applySchema(config, logger)))
    say(`    ${summarise(run)}`);

  say('3. A round trip through each store');
  await kafkaRoundTrip(config, logger, say);
  const cassandra = createCassandraClient({
    contactPoints: config.cassandra.contactPoints,
    localDataCenter: config.cassandra.localDataCenter,
    logger,
  });
  try {
    const tables = await step(say, 'Cassandra: master dataset tables', () =>
      cassandra.execute('SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?', [
        config.cassandra.keyspace,
      ]),
    );
    say(`    ${tables.rows.map((r) => String(r.get('table_name'))).join(', ')}`);
  } finally {
    await cassandra.shutdown();
  }
  const pool = createPgPool({ url: config.postgres.url, logger, max: 1 });
  try {
    const tables = await step(say, 'PostgreSQL: control plane tables', () =>
      pool.query<{ tablename: string }>(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
      ),
    );
    say(`    ${tables.rows.map((r) => r.tablename).join(', ')}`);
  } finally {
    await pool.end();
  }
  say('4. The pipeline: gateway and Kafka → validation → use cases (A/B) → delivery, views');
  await step(say, 'pipeline', () => demoPipeline(logger, say));
  say('Done. `tributary stack status` shows the servers; `tributary stack down` stops them.');
}
