/**
 * kill -9 of the validation job in the middle of a stream of 100k records, then a restart: the master
 * dataset holds every accepted record exactly once, records.valid holds every accepted message exactly
 * once (transactions), the DLQ every bad one, and in = accepted + dead-lettered.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cassandraTypes } from '../../core/cassandra/index.js';
import { daysBetween, RECORD_BUCKETS, utcDay } from '../../ingest/index.js';
import { HEADER, headerText } from '../../ingest/validation/index.js';
import { customerIds } from '../../scripts/generate/index.js';
import { runCli } from '../helpers/cli.js';
import { cassandraClient, kafkaClient } from '../helpers/context.js';
import { ingestWorld } from '../helpers/ingest.js';
import { committedSum, endOffsetSum, readTopic } from '../helpers/kafka.js';
import { uniqueName } from '../helpers/names.js';
import { startCli, startServe } from '../helpers/process.js';
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

interface Summary {
  sent: number;
  valid: number;
  duplicates: number;
  bad: number;
}

async function countRows(query: string, keys: unknown[][]): Promise<number> {
  let total = 0;
  for (const params of keys) {
    const result = await cassandra.execute(query, params);
    total += Number(result.rows[0]?.get('count') ?? 0);
  }
  return total;
}

describe('validation job crash', () => {
  it('kill -9 mid-stream and restart: nothing lost, nothing duplicated', { timeout: 400_000 }, async () => {
    const world = await ingestWorld(registryUrl, 3);
    const prefix = uniqueName('k9');
    const end = Date.UTC(2026, 10, 23, 18, 0, 0);
    const days = 3;
    const generated = await runCli(
      [
        'generate',
        '--records',
        '100000',
        '--customers',
        '20',
        '--days',
        String(days),
        '--seed',
        '9',
        '--bad',
        '0.01',
        '--customer-prefix',
        prefix,
        '--end',
        String(end),
        '--json',
      ],
      world.env,
    );
    expect(generated.code, generated.stderr).toBe(0);
    const summary = JSON.parse(generated.stdout) as Summary;
    expect(summary.sent).toBe(100_000);
    expect(summary.bad).toBeGreaterThan(500);
    expect(summary.duplicates).toBeGreaterThan(500);

    const topic = world.config.topics.records;
    const args = ['speed', '--job', 'validation'];
    const first = startCli(args, world.env);
    await waitFor(async () => (await committedSum(kafka, world.groupId, topic)) >= 15_000n, {
      timeoutMs: 120_000,
      description: 'the job to be part-way through',
    });
    await first.kill();
    const atCrash = await committedSum(kafka, world.groupId, topic);
    expect(atCrash).toBeLessThan(100_000n);

    const second = startCli(args, world.env);
    await waitFor(
      async () => (await committedSum(kafka, world.groupId, topic)) === (await endOffsetSum(kafka, topic)),
      {
        timeoutMs: 240_000,
        description: 'the restarted job to commit everything',
      },
    );
    expect(await second.stop()).toBe(0);

    const valid = await readTopic(kafka, world.config.topics.valid);
    const dead = await readTopic(kafka, world.config.topics.deadLetter);
    expect(valid.length + dead.length).toBe(summary.sent);
    expect(valid.length).toBe(summary.valid);
    expect(dead.length).toBe(summary.bad);
    const origins = new Set(
      valid.map(
        (m) =>
          `${headerText(m.message.headers, HEADER.sourcePartition) ?? ''}:${headerText(m.message.headers, HEADER.sourceOffset) ?? ''}`,
      ),
    );
    expect(origins.size).toBe(valid.length); // each input offset passed on once

    const distinct = summary.valid - summary.duplicates;
    const dayList = daysBetween(utcDay(new Date(end - days * 86_400_000)), utcDay(new Date(end)));
    const localDays = dayList.map((d) => cassandraTypes.LocalDate.fromString(d));
    const byCustomer = await countRows(
      `SELECT count(*) FROM ${world.keyspace}.records_by_customer WHERE customer_id = ? AND day = ?`,
      customerIds({ customers: 20, customerPrefix: prefix }).flatMap((c) => localDays.map((d) => [c, d])),
    );
    expect(byCustomer).toBe(distinct);
    const byDay = await countRows(
      `SELECT count(*) FROM ${world.keyspace}.records WHERE day = ? AND bucket = ?`,
      localDays.flatMap((d) => Array.from({ length: RECORD_BUCKETS }, (_, b) => [d, b])),
    );
    expect(byDay).toBe(distinct);
  });
});
