/**
 * Scale-out of one job: two instances of the views job share its partitions by transaction slots
 * (SPEED_SLOTS=2, 4 partitions: each instance owns a whole slot). One is killed -9 mid-stream and
 * more records arrive after it died, on every partition: the other instance must take its slot over
 * to fold them, and the realtime views come out exactly as records.valid says.
 */
import { describe, expect, it } from 'vitest';
import { addRecord, EMPTY_AGGREGATE, type Aggregate } from '../../core/aggregates.js';
import { memberPartitions } from '../../core/kafka/index.js';
import { RecordDeserializer, RegistryClient, resentOf, utcDay } from '../../ingest/index.js';
import { runCli } from '../helpers/cli.js';
import { cassandraClient, kafkaClient } from '../helpers/context.js';
import { committedSum, readTopic } from '../helpers/kafka.js';
import { startCli } from '../helpers/process.js';
import { allCaughtUp, speedWorld } from '../helpers/speed.js';
import { waitFor } from '../helpers/wait-for.js';

const kafka = kafkaClient();
const cassandra = cassandraClient();

async function members(groupId: string): Promise<number[][]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [group] = (await admin.describeGroups([groupId])).groups;
    return (group?.members ?? [])
      .map((m) => Object.values(memberPartitions(m.memberAssignment)).flat().sort())
      .sort((a, b) => (a[0] ?? -1) - (b[0] ?? -1));
  } finally {
    await admin.disconnect();
  }
}

describe('a job shared by two instances', () => {
  it(
    'splits by whole slots, and one instance takes over the other’s slot after kill -9',
    { timeout: 600_000 },
    async () => {
      const world = await speedWorld({ SPEED_SLOTS: '2', RECORDS_PARTITIONS: '4' });
      const generate = async (seed: string, prefix: string): Promise<void> => {
        const generated = await runCli(
          ['generate', '--records', '20000', '--customers', '12', '--days', '2', '--seed', seed].concat([
            '--customer-prefix',
            prefix,
          ]),
          world.env,
        );
        expect(generated.code, generated.stderr).toBe(0);
      };
      await generate('3', 'before');
      const validation = startCli(['speed', '--job', 'validation'], world.env);
      const first = startCli(['speed', '--job', 'views'], world.env);
      const second = startCli(['speed', '--job', 'views'], world.env);
      const [views] = world.groups(['views']);
      if (views === undefined) throw new Error('no views group');

      // Both instances own exactly one slot each: partitions {0, 2} and {1, 3}.
      await waitFor(async () => JSON.stringify(await members(views.groupId)) === '[[0,2],[1,3]]', {
        timeoutMs: 60_000,
        description: 'two members with one slot each',
      });
      await waitFor(async () => (await committedSum(kafka, views.groupId, views.topic)) > 4_000n, {
        timeoutMs: 120_000,
        description: 'the views job to be part-way through',
      });
      await first.kill();
      // Records that only the survivor can fold, half of them on the dead instance's partitions.
      await generate('4', 'after');
      await waitFor(async () => JSON.stringify(await members(views.groupId)) === '[[0,1,2,3]]', {
        timeoutMs: 120_000,
        description: 'the surviving instance to own every partition',
      });
      await waitFor(() => allCaughtUp(kafka, world.groups(['validation', 'views'])), {
        timeoutMs: 240_000,
        intervalMs: 1_000,
        description: 'the surviving instance to catch up',
      });
      expect(await second.stop()).toBe(0);
      expect(await validation.stop()).toBe(0);

      // Expected: every message of records.valid folded once into its (customer, event day, category),
      // except the copies validation marked as re-sent.
      const deserializer = new RecordDeserializer({
        registry: new RegistryClient({ url: world.env.SCHEMA_REGISTRY_URL ?? '' }),
      });
      const valid = await readTopic(kafka, world.config.topics.valid);
      await deserializer.prepare(valid.map((m) => m.message.value));
      const expected = new Map<string, Aggregate>();
      for (const { message } of valid) {
        if (resentOf(message.headers) !== undefined) continue;
        const decoded = deserializer.decode(message.value, message.key);
        if (!decoded.ok) throw new Error(decoded.reason);
        const r = decoded.record;
        const key = `${r.customer_id}|${utcDay(r.event_time)}|${r.category}`;
        expected.set(key, addRecord(expected.get(key) ?? EMPTY_AGGREGATE, r));
      }
      const rows = await cassandra.execute(
        `SELECT customer_id, day, category, record_count, amount_sum FROM ${world.config.cassandra.keyspace}.realtime_aggregates`,
      );
      const actual = new Map<string, { count: bigint; sum: bigint }>();
      for (const row of rows.rows) {
        const key = `${String(row.get('customer_id'))}|${String(row.get('day'))}|${String(row.get('category'))}`;
        const prev = actual.get(key) ?? { count: 0n, sum: 0n };
        actual.set(key, {
          count: prev.count + (row.get('record_count') as bigint),
          sum: prev.sum + (row.get('amount_sum') as bigint),
        });
      }
      expect(valid.length).toBeGreaterThan(39_000);
      expect([...actual].map(([k, v]) => `${k}=${v.count}|${v.sum}`).sort()).toEqual(
        [...expected].map(([k, a]) => `${k}=${a.count}|${a.sum}`).sort(),
      );
    },
  );
});
