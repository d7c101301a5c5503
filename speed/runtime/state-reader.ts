/** Reads partitions of a job's state topic from their start up to an offset each (for a restore). */
import { TributaryError } from '../../core/errors.js';
import type { Kafka } from '../../core/kafka/index.js';

export interface StoredMessage {
  readonly offset: bigint;
  readonly value: Buffer | null;
}

/** The messages of each partition in `until`, from the partition's start through `until`'s offset. */
export async function readPartitions(
  kafka: Kafka,
  topic: string,
  until: ReadonlyMap<number, bigint>,
): Promise<Map<number, StoredMessage[]>> {
  const read = new Map<number, StoredMessage[]>();
  if (until.size === 0) return read;
  const admin = kafka.admin();
  await admin.connect();
  try {
    for (const o of await admin.fetchTopicOffsets(topic)) {
      const wanted = until.get(o.partition);
      if (wanted !== undefined && (BigInt(o.high) <= wanted || BigInt(o.low) > wanted))
        throw new TributaryError(
          'STATE_CORRUPT',
          `${topic}/${o.partition} holds offsets ${o.low}..${o.high}, not the committed checkpoint at ${wanted}`,
        );
    }
  } finally {
    await admin.disconnect();
  }
  const remaining = new Set(until.keys());
  // kafkajs reads only through a consumer group: a throw-away one, which never commits.
  const consumer = kafka.consumer({
    groupId: `${topic}.restore.${process.pid}.${Date.now()}`,
    maxBytesPerPartition: 4 * 1024 * 1024,
    maxWaitTimeInMs: 100,
  });
  await consumer.connect();
  try {
    let resolveDone: () => void = () => undefined;
    const done = new Promise<void>((resolve) => {
      resolveDone = resolve;
    });
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: ({ batch }) => {
        const last = until.get(batch.partition);
        if (last === undefined || !remaining.has(batch.partition)) return Promise.resolve();
        const list = read.get(batch.partition) ?? [];
        for (const message of batch.messages) {
          const offset = BigInt(message.offset);
          if (offset > last) break;
          list.push({ offset, value: message.value });
          if (offset === last) remaining.delete(batch.partition);
        }
        read.set(batch.partition, list);
        if (remaining.size === 0) resolveDone();
        return Promise.resolve();
      },
    });
    await done;
  } finally {
    await consumer.disconnect();
  }
  return read;
}
