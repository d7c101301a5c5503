/**
 * `npm run bench ingest`: the gateway's accepted records/s end to end, the validation job's records/s
 * with its ratio to a raw consume of the same topic, and the master dataset job's records/s with its
 * ratio to a raw write of the same records, all measured in the same run.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createCassandraClient } from '../../core/cassandra/index.js';
import type { Config } from '../../core/config.js';
import { createKafka, ensureTopics, type Kafka } from '../../core/kafka/index.js';
import type { Logger } from '../../core/logger.js';
import { createPgPool } from '../../core/postgres/index.js';
import { addCustomer, createApiKey } from '../../core/tenants/index.js';
import {
  RecordProducer,
  RecordSerializer,
  RegistryClient,
  ingestTopics,
  recordSubject,
  recordToJson,
} from '../../ingest/index.js';
import { ValidationJob } from '../../ingest/validation/index.js';
import { MasterJob } from '../../ingest/master/index.js';
import { applySchema } from '../../migrations/schema/index.js';
import { DEFAULT_GENERATE, generateStream, KafkaSink } from '../generate/index.js';
import { perSecond, writeSection, type BenchRow } from './report.js';
import { rawMasterWrite } from './raw.js';
import { createScratch } from '../scratch.js';

async function endOffsets(kafka: Kafka, topic: string): Promise<Map<number, bigint>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, BigInt(o.high)]));
  } finally {
    await admin.disconnect();
  }
}

/** Reads a topic to its end with a consumer that does nothing else: the raw consume ceiling. */
async function rawConsume(kafka: Kafka, topic: string, partitions: number): Promise<number> {
  const ends = await endOffsets(kafka, topic);
  const consumer = kafka.consumer({
    groupId: `bench-raw-${Date.now()}`,
    maxBytesPerPartition: 1024 * 1024,
    maxBytes: 8 * 1024 * 1024,
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const began = performance.now();
  let count = 0;
  const done = new Map<number, boolean>();
  await new Promise<void>((resolve, reject) => {
    consumer
      .run({
        autoCommit: false,
        partitionsConsumedConcurrently: partitions,
        eachBatch: async ({ batch }) => {
          count += batch.messages.length;
          const last = BigInt(batch.lastOffset()) + 1n;
          if (last >= (ends.get(batch.partition) ?? 0n)) done.set(batch.partition, true);
          if (done.size === ends.size) resolve();
          await Promise.resolve();
        },
      })
      .catch(reject);
  });
  const ms = performance.now() - began;
  await consumer.disconnect();
  return perSecond(count, ms);
}

function startServe(
  config: Config,
  env: NodeJS.ProcessEnv,
): Promise<{ apiUrl: string; registryUrl: string; stop: () => void }> {
  const child = spawn(
    process.execPath,
    [
      path.join(config.projectRoot, 'bin', 'tributary.js'),
      'serve',
      '--api-port',
      '0',
      '--registry-port',
      '0',
      '--max-records',
      '1000',
    ],
    {
      env: { ...process.env, LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      reject(new Error(`serve exited with ${code}`));
    });
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const api = /API listening on (\S+)/.exec(out)?.[1];
      const registry = /schema registry listening on (\S+)/.exec(out)?.[1];
      if (api !== undefined && registry !== undefined) {
        resolve({ apiUrl: api, registryUrl: registry, stop: () => child.kill('SIGTERM') });
      }
    });
  });
}

export async function benchIngest(baseConfig: Config, logger: Logger, records: number): Promise<string> {
  const scratch = await createScratch(baseConfig, logger, 'bench');
  const { config, env } = scratch;
  const topicName = config.topics.records;
  const applied = await applySchema(config, logger);
  const failed = applied.find((run) => run.error !== undefined);
  if (failed?.error !== undefined) throw new Error(`schema migrations failed: ${failed.error}`);
  const kafka = createKafka({ brokers: config.kafka.brokers, logger });
  const serve = await startServe(config, env);
  const pool = createPgPool({ url: config.postgres.url, logger, max: 4 });
  const cassandra = createCassandraClient({
    contactPoints: config.cassandra.contactPoints,
    localDataCenter: config.cassandra.localDataCenter,
    logger,
  });
  const rows: BenchRow[] = [];
  try {
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, ingestTopics(config));
    await admin.disconnect();
    const registry = new RegistryClient({ url: serve.registryUrl });
    const serializer = await RecordSerializer.create({ registry, subject: recordSubject(topicName) });
    const producer = new RecordProducer(kafka, topicName, serializer);
    await producer.connect();

    // 1. Produce the records topic (the raw produce rate of the same records, for reference).
    const model = { ...DEFAULT_GENERATE, records, customers: 50, days: 7, bad: 0.001, endMs: Date.now() };
    const sink = new KafkaSink(producer, serializer, 2_000);
    let began = performance.now();
    for (const item of generateStream(model)) await sink.add(item);
    await sink.flush();
    const produceRate = perSecond(records, performance.now() - began);
    rows.push({
      metric: 'raw produce (kafkajs, idempotent, acks=all, 2,000/send)',
      value: `${produceRate.toLocaleString('en')} records/s`,
    });

    // 2. The raw speed of the master dataset writes the job must make: the same records, written by
    //    the same writer in input-batch-sized calls, 6 at a time (one per partition), no Kafka.
    const { rate: cassandraRate } = await rawMasterWrite(
      cassandra,
      config,
      generateStream(model),
      serializer.schemaId,
    );
    rows.push({
      metric: 'raw master dataset write (Cassandra, 2 tables, same writer, no Kafka)',
      value: `${cassandraRate.toLocaleString('en')} records/s`,
      note: 'the ceiling of any job that stores every record',
    });

    // 3. Raw consume of that topic, then the validation job on the same topic.
    const raw = await rawConsume(kafka, topicName, config.topics.partitions);
    rows.push({
      metric: 'raw consume of the records topic',
      value: `${raw.toLocaleString('en')} records/s`,
      note: 'eachBatch that does nothing',
    });
    const groupId = `bench-validation-${Date.now()}`;
    const job = new ValidationJob({ config, kafka, cassandra, registry, logger, groupId });
    began = performance.now();
    await job.start();
    const total = records;
    while (job.stats().in < total) await new Promise((r) => setTimeout(r, 100));
    const validationMs = performance.now() - began;
    const passedOn = job.stats().accepted;
    await job.close();
    const validation = perSecond(total, validationMs);
    rows.push({
      metric: 'validation job (decode, validate, produce to records.valid + dead letters, offsets)',
      value: `${validation.toLocaleString('en')} records/s`,
      note: `ratio to raw consume: ${(validation / raw).toFixed(3)} (target ≥ 0.5)`,
    });
    // 3b. The master dataset job on what validation passed on (records.valid → Cassandra ×2 tables).
    const master = new MasterJob({ config, kafka, cassandra, registry, logger });
    began = performance.now();
    await master.start();
    while (master.stats().written + master.stats().resent < passedOn)
      await new Promise((r) => setTimeout(r, 100));
    const masterMs = performance.now() - began;
    await master.close();
    const masterRate = perSecond(passedOn, masterMs);
    rows.push({
      metric: 'master dataset job (records.valid → Cassandra ×2 tables, offsets)',
      value: `${masterRate.toLocaleString('en')} records/s`,
      note: `ratio to the raw master dataset write: ${(masterRate / cassandraRate).toFixed(2)}`,
    });

    // 4. The gateway: JSON batches of 500 over HTTP, 8 requests in flight, each customer with its key.
    const gatewayRecords = Math.min(records, 100_000);
    const customers = new Map<string, string>();
    const batches: { key: string; body: string }[] = [];
    const byCustomer = new Map<string, unknown[]>();
    const prefix = `bench-${Date.now()}`;
    for (const item of generateStream({
      ...model,
      records: gatewayRecords,
      bad: 0,
      customerPrefix: prefix,
    })) {
      if (item.kind !== 'record') continue;
      const id = item.record.customer_id;
      if (!customers.has(id)) {
        await addCustomer(pool, id, id);
        customers.set(id, (await createApiKey(pool, id)).key);
      }
      const list = byCustomer.get(id) ?? [];
      list.push(recordToJson(item.record));
      byCustomer.set(id, list);
      if (list.length === 500) {
        batches.push({ key: customers.get(id) ?? '', body: JSON.stringify({ records: list }) });
        byCustomer.set(id, []);
      }
    }
    for (const [id, list] of byCustomer)
      if (list.length > 0)
        batches.push({ key: customers.get(id) ?? '', body: JSON.stringify({ records: list }) });
    let accepted = 0;
    let next = 0;
    began = performance.now();
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < batches.length) {
          const batch = batches[next];
          next += 1;
          if (batch === undefined) break;
          const response = await fetch(`${serve.apiUrl}/v1/records`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${batch.key}` },
            body: batch.body,
          });
          const answer = (await response.json()) as { accepted?: number };
          accepted += answer.accepted ?? 0;
        }
      }),
    );
    const gateway = perSecond(accepted, performance.now() - began);
    rows.push({
      metric: 'gateway: records accepted end to end (HTTP JSON → validated → Kafka acks=all)',
      value: `${gateway.toLocaleString('en')} records/s`,
      note: `${accepted.toLocaleString('en')} records, 500/request, 8 in flight; ratio to raw produce: ${(gateway / produceRate).toFixed(2)}`,
    });
    await producer.close();
  } finally {
    serve.stop();
    await pool.end();
    await cassandra.shutdown();
    await scratch.drop();
  }
  return writeSection(
    baseConfig,
    'ingest',
    `\`npm run bench ingest -- --records ${records}\`: ${records.toLocaleString('en')} generated records (50 customers, 7 days) on a ${config.topics.partitions}-partition topic.`,
    rows,
  );
}
