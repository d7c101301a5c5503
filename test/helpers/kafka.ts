/** Reading topics back in tests: every committed message up to the end offsets at call time. */
import type { Kafka, KafkaMessage } from '../../core/kafka/index.js';
import { uniqueName } from './names.js';
import { waitFor } from './wait-for.js';

export interface ReadMessage {
  readonly partition: number;
  readonly message: KafkaMessage;
}

/** Reads all messages of a topic (read_committed) up to its current end, then stops. */
export async function readTopic(kafka: Kafka, topic: string, timeoutMs = 120_000): Promise<ReadMessage[]> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, BigInt(o.high)]));
  await admin.disconnect();
  const out: ReadMessage[] = [];
  const positions = new Map<number, bigint>();
  const done = (): boolean => [...ends].every(([p, high]) => (positions.get(p) ?? 0n) >= high || high === 0n);
  if (done()) return out;
  const consumer = kafka.consumer({
    groupId: uniqueName('reader'),
    readUncommitted: false,
    maxBytesPerPartition: 4 * 1024 * 1024,
  });
  await consumer.connect();
  // Transaction markers occupy offsets too, and a batch of only markers never reaches eachBatch:
  // the end-of-batch event tells how far each partition was read.
  consumer.on(consumer.events.END_BATCH_PROCESS, (event) => {
    positions.set(event.payload.partition, BigInt(event.payload.lastOffset) + 1n);
  });
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) {
          if (BigInt(message.offset) < (ends.get(batch.partition) ?? 0n))
            out.push({ partition: batch.partition, message });
        }
        await Promise.resolve();
      },
    });
    await waitFor(done, { timeoutMs, description: `reading ${topic} to its end` });
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/** Sum over partitions of (end offset) – a quick size of a non-transactional topic. */
export async function endOffsetSum(kafka: Kafka, topic: string): Promise<bigint> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).reduce((sum, o) => sum + BigInt(o.high), 0n);
  } finally {
    await admin.disconnect();
  }
}

/** A consumer group's committed offset of each partition of a topic (-1: none), as kafkajs gives it. */
export async function committedOffsets(
  kafka: Kafka,
  groupId: string,
  topic: string,
): Promise<Map<number, string>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return new Map((entry?.partitions ?? []).map((p) => [p.partition, p.offset]));
  } finally {
    await admin.disconnect();
  }
}

/** Sum of the committed offsets of a consumer group on a topic. */
export async function committedSum(kafka: Kafka, groupId: string, topic: string): Promise<bigint> {
  let sum = 0n;
  for (const offset of (await committedOffsets(kafka, groupId, topic)).values())
    if (BigInt(offset) > 0n) sum += BigInt(offset);
  return sum;
}
