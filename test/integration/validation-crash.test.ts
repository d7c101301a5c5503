/**
 * kill -9 of the validation job and of the master dataset job in the middle of a stream of 100k
 * records, then restarts: the master dataset holds every accepted record exactly once; records.valid
 * holds every accepted input offset — a replay sends some again, identical, with the same upstream
 * offset, and the first occurrences are exactly the accepted input in order; the DLQ holds every bad
 * input offset; and in = accepted + dead-lettered, counted by input offset.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cassandraTypes } from '../../core/cassandra/index.js';
import { daysBetween, RECORD_BUCKETS, utcDay } from '../../ingest/index.js';
import { HEADER, headerText, upstreamOffset } from '../../ingest/validation/index.js';
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
    const valid = world.config.topics.valid;
    const masterGroup = `${world.config.namespace}.job.master`;
    const validation = ['speed', '--job', 'validation'];
    const master = ['speed', '--job', 'master'];
    const first = startCli(validation, world.env);
    const firstMaster = startCli(master, world.env);
    await waitFor(async () => (await committedSum(kafka, world.groupId, topic)) >= 15_000n, {
      timeoutMs: 120_000,
      description: 'validation to be part-way through',
    });
    await first.kill();
    await waitFor(async () => (await committedSum(kafka, masterGroup, valid)) >= 5_000n, {
      timeoutMs: 120_000,
      description: 'the master dataset job to be part-way through',
    });
    await firstMaster.kill();
    expect(await committedSum(kafka, world.groupId, topic)).toBeLessThan(100_000n);

    const second = startCli(validation, world.env);
    const secondMaster = startCli(master, world.env);
    await waitFor(
      async () => (await committedSum(kafka, world.groupId, topic)) === (await endOffsetSum(kafka, topic)),
      { timeoutMs: 240_000, description: 'the restarted validation to commit everything' },
    );
    await waitFor(
      async () => (await committedSum(kafka, masterGroup, valid)) === (await endOffsetSum(kafka, valid)),
      { timeoutMs: 240_000, description: 'the restarted master dataset job to commit everything' },
    );
    expect(await second.stop()).toBe(0);
    expect(await secondMaster.stop()).toBe(0);

    const input = await readTopic(kafka, topic);
    const passed = await readTopic(kafka, valid);
    const dead = await readTopic(kafka, world.config.topics.deadLetter);
    // Per partition, what a consumer keeps: the messages whose upstream offset is past every earlier one.
    const kept = new Map<number, bigint[]>();
    for (const m of passed) {
      const offset = upstreamOffset(m.message.headers);
      if (offset === undefined) throw new Error('a records.valid message without its upstream offset');
      const list = kept.get(m.partition) ?? [];
      if (offset > (list[list.length - 1] ?? -1n)) list.push(offset);
      kept.set(m.partition, list);
    }
    const inputAt = new Map(input.map((m) => [`${m.partition}:${m.message.offset}`, m.message.value]));
    for (const m of passed)
      expect(inputAt.get(`${m.partition}:${String(upstreamOffset(m.message.headers))}`)).toEqual(
        m.message.value,
      );
    const deadOffsets = new Set(
      dead.map(
        (d) =>
          `${headerText(d.message.headers, HEADER.sourcePartition) ?? ''}:${headerText(d.message.headers, HEADER.sourceOffset) ?? ''}`,
      ),
    );
    const keptCount = [...kept.values()].reduce((n, l) => n + l.length, 0);
    expect(keptCount).toBe(summary.valid);
    expect(deadOffsets.size).toBe(summary.bad);
    expect(keptCount + deadOffsets.size).toBe(summary.sent);
    // Every input offset is either passed on or dead-lettered, in input order per partition.
    for (const [partition, offsets] of kept) {
      const expected = input
        .filter((m) => m.partition === partition && !deadOffsets.has(`${partition}:${m.message.offset}`))
        .map((m) => BigInt(m.message.offset));
      expect(offsets).toEqual(expected);
    }

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
