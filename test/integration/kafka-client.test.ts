/**
 * The Kafka client decision, proven against the exact broker version the stack runs:
 * produce, a consumer group of two members with a rebalance, manual offset commits after processing,
 * and a transaction that produces and commits consumer offsets atomically (and one that aborts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConfigResourceTypes,
  ensureTopics,
  type Admin,
  type Consumer,
  type EachBatchPayload,
  type Kafka,
} from '../../core/kafka/index.js';
import { kafkaClient } from '../helpers/context.js';
import { committedOffsets } from '../helpers/kafka.js';
import { uniqueName } from '../helpers/names.js';
import { waitFor } from '../helpers/wait-for.js';

const PARTITIONS = 3;
const MESSAGES = 600;

let kafka: Kafka;
let admin: Admin;
const consumers: Consumer[] = [];

async function endOffsets(topic: string): Promise<Map<number, string>> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return new Map(offsets.map((o) => [o.partition, o.high]));
}

async function produce(topic: string, count: number, prefix: string): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    for (let start = 0; start < count; start += 100) {
      const messages = Array.from({ length: Math.min(100, count - start) }, (_, i) => ({
        key: `k${(start + i) % 17}`,
        value: `${prefix}-${start + i}`,
      }));
      await producer.send({ topic, acks: -1, messages });
    }
  } finally {
    await producer.disconnect();
  }
}

beforeAll(async () => {
  kafka = kafkaClient();
  admin = kafka.admin();
  await admin.connect();
});

afterAll(async () => {
  for (const consumer of consumers) await consumer.disconnect();
  await admin.disconnect();
});

describe('kafkajs against the stack broker', () => {
  it('runs a two-member consumer group through a rebalance, committing offsets only after processing', async () => {
    const topic = uniqueName('proof_group');
    const groupId = uniqueName('group');
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: PARTITIONS }] });
    await produce(topic, MESSAGES, 'm');

    const seen = new Set<string>();
    const assignments = new Map<string, number[]>();
    const processed: string[] = [];
    const member = async (name: string): Promise<Consumer> => {
      const consumer = kafka.consumer({
        groupId,
        sessionTimeout: 10_000,
        heartbeatInterval: 500,
        maxBytesPerPartition: 4096,
      });
      consumers.push(consumer);
      consumer.on(consumer.events.GROUP_JOIN, (event) => {
        assignments.set(name, event.payload.memberAssignment[topic] ?? []);
      });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: async (payload: EachBatchPayload) => {
          const { batch } = payload;
          for (const message of batch.messages) {
            if (!payload.isRunning() || payload.isStale()) break;
            const value = message.value?.toString() ?? '';
            processed.push(value); // the "side effect", done before the commit below
            seen.add(value);
            payload.resolveOffset(message.offset);
            // Commit offset + 1 (the next message to read), after processing.
            await consumer.commitOffsets([
              { topic, partition: batch.partition, offset: (BigInt(message.offset) + 1n).toString() },
            ]);
            await payload.heartbeat();
          }
        },
      });
      return consumer;
    };

    await member('a');
    await waitFor(() => (assignments.get('a')?.length ?? 0) === PARTITIONS, {
      description: 'member a owns all partitions',
    });
    await waitFor(() => seen.size >= 50, { description: 'member a processing' });
    await member('b');
    await waitFor(
      () => (assignments.get('b')?.length ?? 0) > 0 && (assignments.get('a')?.length ?? 0) < PARTITIONS,
      { description: 'a rebalance sharing partitions between a and b', timeoutMs: 60_000 },
    );
    await waitFor(() => seen.size === MESSAGES, {
      description: `all ${MESSAGES} messages processed`,
      timeoutMs: 60_000,
    });

    const ends = await endOffsets(topic);
    await waitFor(
      async () => {
        const committed = await committedOffsets(kafka, groupId, topic);
        return [...ends].every(([partition, high]) => committed.get(partition) === high);
      },
      { description: 'committed offsets at the end of every partition' },
    );
    // Every message was processed; redeliveries after the rebalance are possible (at-least-once) but bounded.
    expect(seen.size).toBe(MESSAGES);
    expect(processed.length).toBeLessThan(MESSAGES + 50);
  });

  it('commits produced messages and consumer offsets in one transaction, and an abort hides both', async () => {
    const input = uniqueName('proof_tx_in');
    const output = uniqueName('proof_tx_out');
    const groupId = uniqueName('tx_group');
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: input, numPartitions: 1 },
        { topic: output, numPartitions: 1 },
      ],
    });
    await produce(input, 10, 'in');

    const producer = kafka.producer({
      transactionalId: uniqueName('tx'),
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    try {
      // Committed transaction: outputs for messages 0..4 and the input offset 5.
      const committed = await producer.transaction();
      await committed.send({ topic: output, messages: [0, 1, 2, 3, 4].map((i) => ({ value: `out-${i}` })) });
      await committed.sendOffsets({
        consumerGroupId: groupId,
        topics: [{ topic: input, partitions: [{ partition: 0, offset: '5' }] }],
      });
      await committed.commit();

      // Aborted transaction: outputs for 5..9 and offset 10 must both vanish.
      const aborted = await producer.transaction();
      await aborted.send({ topic: output, messages: [5, 6, 7, 8, 9].map((i) => ({ value: `out-${i}` })) });
      await aborted.sendOffsets({
        consumerGroupId: groupId,
        topics: [{ topic: input, partitions: [{ partition: 0, offset: '10' }] }],
      });
      await aborted.abort();

      // A sentinel after the aborted section: once the reader sees it, it has read past the abort.
      const sentinel = await producer.transaction();
      await sentinel.send({ topic: output, messages: [{ value: 'sentinel' }] });
      await sentinel.commit();
    } finally {
      await producer.disconnect();
    }

    expect((await committedOffsets(kafka, groupId, input)).get(0)).toBe('5');

    const received: string[] = [];
    const reader = kafka.consumer({ groupId: uniqueName('reader'), readUncommitted: false });
    consumers.push(reader);
    await reader.connect();
    await reader.subscribe({ topic: output, fromBeginning: true });
    await reader.run({
      eachMessage: ({ message }) => {
        received.push(message.value?.toString() ?? '');
        return Promise.resolve();
      },
    });
    await waitFor(() => received.includes('sentinel'), { description: 'the reader to reach the sentinel' });
    expect(received).toEqual(['out-0', 'out-1', 'out-2', 'out-3', 'out-4', 'sentinel']);
  });

  it('ensureTopics brings an existing topic to its enforced config and keeps its other overrides', async () => {
    const topic = uniqueName('enforced');
    const configOf = async (): Promise<Record<string, string>> => {
      const described = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [
          {
            type: ConfigResourceTypes.TOPIC,
            name: topic,
            configNames: ['message.timestamp.type', 'retention.ms'],
          },
        ],
      });
      return Object.fromEntries(
        (described.resources[0]?.configEntries ?? []).map((e) => [e.configName, e.configValue]),
      );
    };
    // Created by an earlier version, or by hand, with an operator's retention.
    expect(
      await ensureTopics(admin, [{ topic, partitions: 1, config: { 'retention.ms': '123456789' } }]),
    ).toEqual([topic]);
    expect(await configOf()).toEqual({ 'message.timestamp.type': 'CreateTime', 'retention.ms': '123456789' });
    const spec = {
      topic,
      partitions: 1,
      config: { 'retention.ms': '604800000' },
      enforced: { 'message.timestamp.type': 'LogAppendTime' },
    };
    expect(await ensureTopics(admin, [spec])).toEqual([]);
    expect(await configOf()).toEqual({
      'message.timestamp.type': 'LogAppendTime',
      'retention.ms': '123456789',
    });
    // Already as enforced: nothing to change, and a message produced with its own time gets the broker's.
    expect(await ensureTopics(admin, [spec])).toEqual([]);
    const before = Date.now();
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ value: 'x', timestamp: String(before - 5 * 3_600_000) }] });
    await producer.disconnect();
    const consumer = kafka.consumer({ groupId: uniqueName('enforced') });
    consumers.push(consumer);
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const stamps: number[] = [];
    await consumer.run({
      eachMessage: ({ message }) => {
        stamps.push(Number(message.timestamp));
        return Promise.resolve();
      },
    });
    await waitFor(() => stamps.length === 1, { description: 'the message to be read back' });
    expect(stamps[0]).toBeGreaterThanOrEqual(before - 1_000);
  });
});
