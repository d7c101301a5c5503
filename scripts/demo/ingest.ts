/** Demo step: records through the gateway and through Kafka, validated into the master dataset. */
import { setTimeout as delay } from 'node:timers/promises';
import { cassandraTypes, createCassandraClient } from '../../core/cassandra/index.js';
import { loadConfig, type Config } from '../../core/config.js';
import { createKafka } from '../../core/kafka/index.js';
import type { Logger } from '../../core/logger.js';
import { daysBetween, utcDay } from '../../ingest/index.js';
import { customerIds } from '../generate/index.js';
import { startTributary, type Child } from './children.js';

type Say = (line: string) => void;

async function runToEnd(config: Config, args: readonly string[], env: NodeJS.ProcessEnv): Promise<string> {
  const child = startTributary(config, args, env);
  const match = await child.waitFor(/^(sent .*)$/m, 300_000);
  await child.stop();
  return match[1] ?? '';
}

export async function demoIngest(logger: Logger, say: Say): Promise<void> {
  const run = Date.now().toString(36);
  const env = { RECORDS_TOPIC: `demo-${run}` };
  const config = loadConfig({ ...process.env, ...env });
  const children: Child[] = [];
  const kafka = createKafka({ brokers: config.kafka.brokers, logger });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const serve = startTributary(config, ['serve', '--api-port', '0', '--registry-port', '0'], env);
    children.push(serve);
    const registryUrl = (await serve.waitFor(/schema registry listening on (\S+)/))[1] ?? '';
    const apiUrl = (await serve.waitFor(/API listening on (\S+)/))[1] ?? '';
    say(`    serve: API ${apiUrl}, schema registry ${registryUrl}`);
    const childEnv = { ...env, SCHEMA_REGISTRY_URL: registryUrl };
    const speed = startTributary(
      config,
      ['speed', '--group', `demo-validation-${run}`, '--stats-interval', '0'],
      childEnv,
    );
    children.push(speed);
    await speed.waitFor(/validation job running/);
    say('    speed: the validation job is running');

    const prefix = `demo-${run}`;
    const end = Date.now();
    say(
      `    ${await runToEnd(config, ['generate', '--via', 'gateway', '--gateway-url', apiUrl, '--records', '2000', '--customers', '5', '--customer-prefix', prefix, '--end', String(end), '--seed', '1'], childEnv)}`,
    );
    say(
      `    ${await runToEnd(config, ['generate', '--via', 'kafka', '--records', '20000', '--customers', '5', '--customer-prefix', `${prefix}-k`, '--end', String(end), '--seed', '2', '--bad', '0.01'], childEnv)}`,
    );

    // Wait until the validation job has committed everything that was produced.
    const groupId = `demo-validation-${run}`;
    for (let i = 0; i < 600; i += 1) {
      const ends = await admin.fetchTopicOffsets(config.topics.records);
      const [committed] = await admin.fetchOffsets({ groupId, topics: [config.topics.records] });
      const done = ends.every(
        (e) => committed?.partitions.find((p) => p.partition === e.partition)?.offset === e.high,
      );
      if (done) break;
      await delay(200);
    }
    await speed.stop();

    const dlq = await admin.fetchTopicOffsets(config.topics.deadLetter);
    say(
      `    validation done: records.dlq now holds the bad ones (end offsets ${dlq.map((o) => o.high).join(', ')})`,
    );
    const cassandra = createCassandraClient({
      contactPoints: config.cassandra.contactPoints,
      localDataCenter: config.cassandra.localDataCenter,
      logger,
    });
    try {
      let stored = 0;
      const days = daysBetween(utcDay(new Date(end - 3 * 86_400_000)), utcDay(new Date(end)));
      const customers = [
        ...customerIds({ customers: 5, customerPrefix: prefix }),
        ...customerIds({ customers: 5, customerPrefix: `${prefix}-k` }),
      ];
      for (const customer of customers) {
        for (const day of days) {
          const result = await cassandra.execute(
            `SELECT count(*) FROM ${config.cassandra.keyspace}.records_by_customer WHERE customer_id = ? AND day = ?`,
            [customer, cassandraTypes.LocalDate.fromString(day)],
          );
          stored += Number(result.rows[0]?.get('count') ?? 0);
        }
      }
      say(`    master dataset: ${stored} distinct records of the demo customers (duplicates stored once)`);
    } finally {
      await cassandra.shutdown();
    }
  } finally {
    for (const child of children.reverse()) await child.stop();
    await admin
      .deleteTopics({ topics: [config.topics.records, config.topics.valid, config.topics.deadLetter] })
      .catch(() => undefined);
    await admin.disconnect();
  }
}
