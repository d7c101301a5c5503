/**
 * The validation job against real Kafka, Cassandra and the registry: every message is accounted for
 * (accepted + dead-lettered = in), dead letters carry code, reason and origin, accepted records go on
 * to records.valid on their own partition with their upstream offset, the master dataset job stores
 * them once, and both record versions are accepted at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cassandraTypes } from '../../core/cassandra/index.js';
import type { TributaryRecord } from '../../core/record.js';
import {
  RecordDeserializer,
  RecordProducer,
  RecordSerializer,
  RegistryClient,
  recordSubject,
  recordBucket,
  utcDay,
} from '../../ingest/index.js';
import { MasterJob } from '../../ingest/master/index.js';
import {
  HEADER,
  headerText,
  resentOf,
  upstreamOffset,
  ValidationJob,
} from '../../ingest/validation/index.js';
import { BAD_KINDS, badBytes } from '../../scripts/generate/index.js';
import { cassandraClient, kafkaClient, logger } from '../helpers/context.js';
import { ingestWorld, type IngestWorld } from '../helpers/ingest.js';
import { committedSum, endOffsetSum, readTopic } from '../helpers/kafka.js';
import { startServe } from '../helpers/process.js';
import { uniqueName } from '../helpers/names.js';
import { waitFor } from '../helpers/wait-for.js';

const kafka = kafkaClient();
const cassandra = cassandraClient();
let registryUrl: string;
let stopServe: () => Promise<unknown>;

beforeAll(async () => {
  const serve = await startServe();
  registryUrl = serve.registryUrl;
  stopServe = () => serve.process.stop();
});
afterAll(() => stopServe());

function record(customer: string, i: number): TributaryRecord {
  return {
    record_id: `${customer}-r${i}`,
    customer_id: customer,
    event_time: new Date(Date.now() - i * 60_000),
    account_id: `${customer}-acc-${i % 3}`,
    amount_minor: BigInt(1_000 + i),
    currency: 'EUR',
    category: i % 2 === 0 ? 'grocery' : 'fuel',
    country: 'FR',
    merchant: i % 5 === 0 ? null : 'Nordwind',
    attributes: { i: String(i) },
    channel: 'web',
  };
}

/** Runs validation, then the master dataset job, each until it committed its whole input. */
async function runUntilDrained(world: IngestWorld): Promise<ValidationJob> {
  const registry = new RegistryClient({ url: registryUrl });
  const job = new ValidationJob({
    config: world.config,
    kafka,
    cassandra,
    registry,
    logger,
    groupId: world.groupId,
  });
  await job.start();
  const topic = world.config.topics.records;
  const end = await endOffsetSum(kafka, topic);
  await waitFor(async () => (await committedSum(kafka, world.groupId, topic)) === end, {
    timeoutMs: 90_000,
    description: 'the validation job to commit every input offset',
  });
  await job.close();
  const master = new MasterJob({ config: world.config, kafka, cassandra, registry, logger });
  await master.start();
  const valid = world.config.topics.valid;
  const validEnd = await endOffsetSum(kafka, valid);
  await waitFor(async () => (await committedSum(kafka, master.groupId, valid)) === validEnd, {
    timeoutMs: 90_000,
    description: 'the master dataset job to commit every records.valid offset',
  });
  await master.close();
  return job;
}

describe('validation job', () => {
  it('accounts for every message: accepted to records.valid and the master dataset, the rest to the DLQ with reasons', async () => {
    const world = await ingestWorld(registryUrl);
    const customer = uniqueName('cust');
    const serializer = await RecordSerializer.create({
      registry: new RegistryClient({ url: registryUrl }),
      subject: recordSubject(world.config.topics.records),
    });
    const producer = new RecordProducer(kafka, world.config.topics.records, serializer);
    await producer.connect();
    const good = Array.from({ length: 200 }, (_, i) => record(customer, i));
    await producer.send(good);
    await producer.send(good.slice(0, 10)); // exact re-sends: accepted again, stored once
    const bad = BAD_KINDS.map((kind, i) => ({
      kind,
      value: badBytes(kind, record(customer, 1_000 + i), serializer),
    }));
    await producer.sendRaw([
      ...bad.map((b) => ({ key: customer, value: b.value })),
      { key: 'not-the-customer', value: serializer.encode(record(customer, 2_000)) },
      { key: null, value: serializer.encode(record(customer, 2_001)) },
      { key: customer, value: Buffer.alloc(0) },
    ]);
    await producer.close();

    const job = await runUntilDrained(world);
    expect(job.stats()).toMatchObject({ in: 219, accepted: 210, deadLettered: 9 });

    const valid = await readTopic(kafka, world.config.topics.valid);
    const dead = await readTopic(kafka, world.config.topics.deadLetter);
    expect(valid).toHaveLength(210);
    expect(dead).toHaveLength(9);
    // Each accepted record keeps its partition and names its offset in records, once each.
    const sources = valid.map((v) => `${v.partition}:${String(upstreamOffset(v.message.headers))}`);
    expect(new Set(sources).size).toBe(210);
    const input = await readTopic(kafka, world.config.topics.records);
    const inputAt = new Map(input.map((m) => [`${m.partition}:${m.message.offset}`, m.message.value]));
    for (const v of valid)
      expect(inputAt.get(`${v.partition}:${String(upstreamOffset(v.message.headers))}`)).toEqual(
        v.message.value,
      );
    // The 10 re-sends are marked with the offset of their first occurrence; nothing else is.
    const idAt = new Map(
      valid.map((v) => [`${v.partition}:${String(upstreamOffset(v.message.headers))}`, v.message.value]),
    );
    const marked = valid.filter((v) => resentOf(v.message.headers) !== undefined);
    expect(marked).toHaveLength(10);
    for (const m of marked) {
      const first = resentOf(m.message.headers) ?? -1n;
      expect(first).toBeLessThan(upstreamOffset(m.message.headers) ?? -1n);
      expect(idAt.get(`${m.partition}:${String(first)}`)).toEqual(m.message.value);
    }
    expect(job.stats()).toMatchObject({ resent: 10 });

    const codes = dead.map((d) => headerText(d.message.headers, HEADER.errorCode)).sort();
    expect(codes).toEqual(
      [
        'BAD_MAGIC_BYTE',
        'EMPTY',
        'INVALID_VALUE',
        'INVALID_VALUE',
        'KEY_MISMATCH',
        'KEY_MISMATCH',
        'TRUNCATED',
        'UNDECODABLE',
        'UNKNOWN_SCHEMA_ID',
      ].sort(),
    );
    for (const d of dead) {
      expect(headerText(d.message.headers, HEADER.errorReason)?.length).toBeGreaterThan(5);
      expect(headerText(d.message.headers, HEADER.sourceTopic)).toBe(world.config.topics.records);
      expect(headerText(d.message.headers, HEADER.sourceOffset)).toMatch(/^\d+$/);
      expect(headerText(d.message.headers, HEADER.sourcePartition)).toMatch(/^\d+$/);
    }
    // The original bytes travel with the dead letter, so nothing is lost.
    const badValues = new Set(bad.map((b) => b.value.toString('hex')));
    expect(dead.filter((d) => badValues.has(d.message.value?.toString('hex') ?? '')).length).toBe(bad.length);

    // Every good record is in both master dataset tables, once.
    const byCustomer = await cassandra.execute(
      `SELECT record_id, amount_minor, merchant FROM ${world.keyspace}.records_by_customer WHERE customer_id = ? AND day IN ?`,
      [
        customer,
        [...new Set(good.map((r) => utcDay(r.event_time)))].map((d) =>
          cassandraTypes.LocalDate.fromString(d),
        ),
      ],
    );
    expect(byCustomer.rows.map((r) => String(r.get('record_id'))).sort()).toEqual(
      good.map((r) => r.record_id).sort(),
    );
    const sample = good[7];
    if (sample === undefined) throw new Error('no sample');
    const row = await cassandra.execute(
      `SELECT amount_minor, event_time, merchant, attributes, TTL(amount_minor) AS ttl FROM ${world.keyspace}.records WHERE day = ? AND bucket = ? AND customer_id = ? AND record_id = ?`,
      [
        cassandraTypes.LocalDate.fromString(utcDay(sample.event_time)),
        recordBucket(customer, sample.record_id),
        customer,
        sample.record_id,
      ],
    );
    expect(row.rows[0]?.get('amount_minor')).toBe(sample.amount_minor);
    expect((row.rows[0]?.get('event_time') as Date).getTime()).toBe(sample.event_time.getTime());
    expect(Number(row.rows[0]?.get('ttl'))).toBeGreaterThan(60 * 86_400);
  });

  it('marks re-sent records across a restart, and the master dataset keeps their first occurrence', async () => {
    const world = await ingestWorld(registryUrl);
    const customer = uniqueName('cust');
    const serializer = await RecordSerializer.create({
      registry: new RegistryClient({ url: registryUrl }),
      subject: recordSubject(world.config.topics.records),
    });
    const send = async (records: TributaryRecord[]): Promise<void> => {
      const producer = new RecordProducer(kafka, world.config.topics.records, serializer);
      await producer.connect();
      await producer.send(records);
      await producer.close();
    };
    const first = Array.from({ length: 50 }, (_, i) => record(customer, i));
    await send(first);
    expect((await runUntilDrained(world)).stats()).toMatchObject({ in: 50, accepted: 50, resent: 0 });

    // A new job instance: what it knows of the first 50 comes from its restored state and Cassandra.
    // Re-sends may differ from the original (a producer's retry after an edit): the first one counts.
    const fresh = Array.from({ length: 5 }, (_, i) => record(customer, 100 + i));
    const copies = first.slice(0, 5).map((r, i) => ({
      ...r,
      amount_minor: 777_000n,
      event_time: i === 0 ? new Date(r.event_time.getTime() - 3 * 86_400_000) : r.event_time,
    }));
    await send([...copies, ...fresh, fresh[0] ?? record(customer, 100)]);
    const job = await runUntilDrained(world);
    expect(job.stats()).toMatchObject({ in: 11, accepted: 11, resent: 6 });

    const valid = await readTopic(kafka, world.config.topics.valid);
    const marked = valid.filter((v) => resentOf(v.message.headers) !== undefined).map((v) => v.message.value);
    const deserializer = new RecordDeserializer({ registry: new RegistryClient({ url: registryUrl }) });
    await deserializer.prepare(marked);
    const resentIds = marked
      .map((value) => {
        const decoded = deserializer.decode(value);
        return decoded.ok ? decoded.record.record_id : decoded.reason;
      })
      .sort();
    expect(resentIds).toEqual([...first.slice(0, 5), fresh[0]].map((r) => r?.record_id).sort());

    // Every day any of them falls on: near midnight UTC the fresh ones (100 min back) are a day before the first.
    const days = [...new Set([...first, ...copies, ...fresh].map((r) => utcDay(r.event_time)))];
    const rows = await cassandra.execute(
      `SELECT record_id, amount_minor FROM ${world.keyspace}.records_by_customer WHERE customer_id = ? AND day IN ?`,
      [customer, days.map((d) => cassandraTypes.LocalDate.fromString(d))],
    );
    expect(rows.rows).toHaveLength(55); // no second row for the copy with another event day
    expect(rows.rows.filter((r) => r.get('amount_minor') === 777_000n)).toEqual([]);
  });

  it('takes a record in at the broker’s time, whatever a producer’s clock says', async () => {
    const world = await ingestWorld(registryUrl);
    const customer = uniqueName('cust');
    const serializer = await RecordSerializer.create({
      registry: new RegistryClient({ url: registryUrl }),
      subject: recordSubject(world.config.topics.records),
    });
    // Producers whose clocks are 30 minutes ahead (the broker accepts up to an hour) and 5 hours behind.
    const before = Date.now();
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: world.config.topics.records,
      acks: -1,
      messages: [
        {
          key: customer,
          value: serializer.encode(record(customer, 1)),
          timestamp: String(before + 1_800_000),
        },
        {
          key: customer,
          value: serializer.encode(record(customer, 2)),
          timestamp: String(before - 18_000_000),
        },
        { key: customer, value: serializer.encode(record(customer, 3)) },
      ],
    });
    await producer.disconnect();
    const after = Date.now();
    const job = await runUntilDrained(world);
    expect(job.stats()).toMatchObject({ in: 3, accepted: 3 });
    // Every hop carries the record's timestamp on: records.valid's is the broker's, and so is the
    // master dataset's ingested_at (and the views' ingest hour, and each job's state clock).
    const valid = await readTopic(kafka, world.config.topics.valid);
    expect(valid).toHaveLength(3);
    for (const { message } of valid) {
      expect(Number(message.timestamp)).toBeGreaterThanOrEqual(before - 1_000);
      expect(Number(message.timestamp)).toBeLessThanOrEqual(after + 1_000);
    }
    const rows = await cassandra.execute(
      `SELECT record_id, ingested_at FROM ${world.keyspace}.records_by_customer WHERE customer_id = ? AND day = ?`,
      [customer, cassandraTypes.LocalDate.fromString(utcDay(new Date()))],
    );
    expect(rows.rows).toHaveLength(3);
    for (const row of rows.rows) {
      const at = (row.get('ingested_at') as Date).getTime();
      expect(at, String(row.get('record_id'))).toBeGreaterThanOrEqual(before - 1_000);
      expect(at, String(row.get('record_id'))).toBeLessThanOrEqual(after + 1_000);
    }
  });

  it('accepts version 1 and version 2 writers at once and reads both as the current version', async () => {
    const world = await ingestWorld(registryUrl);
    const customer = uniqueName('cust');
    const registry = new RegistryClient({ url: registryUrl });
    const subject = recordSubject(world.config.topics.records);
    const v1 = await RecordSerializer.create({ registry, subject, version: 1 });
    const v2 = await RecordSerializer.create({ registry, subject, version: 2 });
    expect(v1.schemaId).not.toBe(v2.schemaId);
    const producer = new RecordProducer(kafka, world.config.topics.records, v1);
    await producer.connect();
    await producer.sendRaw([
      { key: customer, value: v1.encode(record(customer, 1)) },
      { key: customer, value: v2.encode(record(customer, 2)) },
    ]);
    await producer.close();
    const job = await runUntilDrained(world);
    expect(job.stats()).toMatchObject({ in: 2, accepted: 2, deadLettered: 0 });
    const rows = await cassandra.execute(
      `SELECT record_id, channel, schema_id FROM ${world.keyspace}.records_by_customer WHERE customer_id = ? AND day = ?`,
      [customer, cassandraTypes.LocalDate.fromString(utcDay(new Date()))],
    );
    const byId = new Map(rows.rows.map((r) => [String(r.get('record_id')), r]));
    expect(byId.get(`${customer}-r1`)?.get('channel')).toBeNull();
    expect(byId.get(`${customer}-r1`)?.get('schema_id')).toBe(v1.schemaId);
    expect(byId.get(`${customer}-r2`)?.get('channel')).toBe('web');
  });

  it('a producer whose schema is incompatible fails before sending, with the registry reason', async () => {
    const registry = new RegistryClient({ url: registryUrl });
    const subject = recordSubject(uniqueName('records'));
    // Someone registered a record whose amount is a string: our v2 (a long) cannot read its data.
    await registry.register(
      subject,
      JSON.stringify({
        type: 'record',
        name: 'Record',
        namespace: 'dev.tributary',
        fields: [
          { name: 'record_id', type: 'string' },
          { name: 'amount_minor', type: 'string' },
        ],
      }),
    );
    await expect(RecordSerializer.create({ registry, subject })).rejects.toThrow(
      /incompatible with subject .*: schema registry: .+/,
    );
  });
});
