/**
 * The views and delivery jobs on input that spans hours of ingest time between two checkpoints (a
 * job back after an outage of hours, or a quiet partition), and findings days older than the others
 * of their partition (a use case deployed from the earliest): every aggregate and every count is
 * written whole, whatever expired from the job's state meanwhile, a finding re-sent days later is
 * not delivered again, and a category holding '|' keeps its own row.
 */
import { describe, expect, it } from 'vitest';
import { ensureTopicsWith } from '../../core/kafka/index.js';
import type { TributaryRecord } from '../../core/record.js';
import {
  ingestTopics,
  RecordSerializer,
  RegistryClient,
  recordSubject,
  speedTopics,
  UPSTREAM_OFFSET_HEADER,
  utcDay,
} from '../../ingest/index.js';
import { encodeFinding } from '../../speed/index.js';
import { cassandraClient, kafkaClient } from '../helpers/context.js';
import { startCli } from '../helpers/process.js';
import { allCaughtUp, findingIdsOn, speedWorld, type SpeedWorld } from '../helpers/speed.js';
import { waitFor } from '../helpers/wait-for.js';

const kafka = kafkaClient();
const cassandra = cassandraClient();
const HOUR = 3_600_000;
const hourOf = (ms: number): number => Math.floor(ms / HOUR) * HOUR;

/** Runs `speed --job JOB` until its group has committed its whole input, then stops it. */
async function runUntilCaughtUp(world: SpeedWorld, job: string): Promise<void> {
  const worker = startCli(['speed', '--job', job], world.env);
  try {
    await waitFor(() => allCaughtUp(kafka, world.groups([job])), {
      timeoutMs: 90_000,
      description: `${job} to commit its whole input`,
    });
    expect(await worker.stop(), worker.output()).toBe(0);
  } finally {
    await worker.kill();
  }
}

describe('hours of ingest time between two checkpoints', () => {
  it(
    'the views count every record of every hour once, in its own category',
    { timeout: 180_000 },
    async () => {
      const world = await speedWorld();
      await ensureTopicsWith(kafka, [...ingestTopics(world.config), ...speedTopics(world.config)]);
      const serializer = await RecordSerializer.create({
        registry: new RegistryClient({ url: world.env.SCHEMA_REGISTRY_URL ?? '' }),
        subject: recordSubject(world.config.topics.records),
      });
      // 80 records of one customer, one every 6 minutes over 8 hours: all fetched in one batch, so
      // the hours the job's state lets go of (3 hours after each) are behind its clock by the
      // checkpoint that writes them.
      const customer = 'hours-c';
      const start = hourOf(Date.now()) - 9 * HOUR;
      const records = Array.from({ length: 80 }, (_, i) => {
        const ingestedAt = start + i * 6 * 60_000;
        const record: TributaryRecord = {
          record_id: `r${String(i)}`,
          customer_id: customer,
          event_time: new Date(ingestedAt - 60_000),
          account_id: `a${String(i % 4)}`,
          amount_minor: BigInt(100 + i),
          currency: 'EUR',
          category: i % 2 === 0 ? 'food' : 'food|drinks',
          country: 'FR',
          merchant: null,
          attributes: {},
          channel: null,
        };
        return { record, ingestedAt };
      });
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({
        topic: world.config.topics.valid,
        messages: records.map(({ record, ingestedAt }, i) => ({
          key: customer,
          value: serializer.encode(record),
          timestamp: String(ingestedAt),
          headers: { [UPSTREAM_OFFSET_HEADER]: String(i) },
        })),
      });
      await producer.disconnect();

      await runUntilCaughtUp(world, 'views');

      const expected = new Map<string, number>();
      for (const { record, ingestedAt } of records) {
        const key = `${String(hourOf(ingestedAt))}/${utcDay(record.event_time)}/${record.category}`;
        expected.set(key, (expected.get(key) ?? 0) + 1);
      }
      const rows = await cassandra.execute(
        `SELECT ingest_hour, day, category, record_count FROM ${world.config.cassandra.keyspace}.realtime_aggregates WHERE customer_id = ?`,
        [customer],
      );
      const stored = new Map(
        rows.rows.map((r) => [
          `${String((r.get('ingest_hour') as Date).getTime())}/${String(r.get('day'))}/${r.get('category') as string}`,
          Number(r.get('record_count') as bigint),
        ]),
      );
      expect(Object.fromEntries(stored)).toEqual(Object.fromEntries(expected));
    },
  );

  it(
    'delivery counts findings days older than the others of their partition, and drops their re-sends',
    { timeout: 180_000 },
    async () => {
      const world = await speedWorld();
      await ensureTopicsWith(kafka, [...ingestTopics(world.config), ...speedTopics(world.config)]);
      const customer = 'late-c';
      const now = Date.now();
      const daysAgo = hourOf(now - 3 * 24 * HOUR) + 600_000; // its five findings in one hour
      const finding = (id: string, at: number): { value: string; timestamp: string } => ({
        value: encodeFinding({
          findingId: id,
          usecase: 'velocity',
          variant: '',
          customerId: customer,
          code: 'VELOCITY',
          recordIds: [`${id}-r`],
          eventTime: new Date(at - 60_000),
          detail: {},
        }),
        timestamp: String(at),
      });
      // A current finding sets the partition's clock; five of a use case that started three days
      // back follow, and one of them again (its job replayed after a crash).
      const late = ['f1', 'f2', 'f3', 'f4', 'f5'].map((id, i) => finding(id, daysAgo + i * 1_000));
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({
        topic: world.config.topics.findings,
        messages: [finding('f0', now), ...late, late[0] ?? finding('f1', daysAgo)].map((m) => ({
          key: customer,
          ...m,
        })),
      });
      await producer.disconnect();

      await runUntilCaughtUp(world, 'delivery');

      expect((await findingIdsOn(kafka, world.config.topics.feedback)).sort()).toEqual([
        'f0',
        'f1',
        'f2',
        'f3',
        'f4',
        'f5',
      ]);
      const rows = await cassandra.execute(
        `SELECT ingest_hour, finding_count FROM ${world.config.cassandra.keyspace}.realtime_finding_counts WHERE customer_id = ?`,
        [customer],
      );
      const counts = Object.fromEntries(
        rows.rows.map((r) => [
          String((r.get('ingest_hour') as Date).getTime()),
          Number(r.get('finding_count') as bigint),
        ]),
      );
      expect(counts).toEqual({ [String(hourOf(now))]: 1, [String(hourOf(daysAgo))]: 5 });
    },
  );
});
