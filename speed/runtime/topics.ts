/** The topics a job owns (changelog, dead letters), where a new group starts, and state restore. */
import { ensureTopicsWith, type Kafka } from '../../core/kafka/index.js';
import { KeyedState } from './state.js';

/** `earliest`, `latest`, or an epoch-millisecond timestamp. */
export type StartFrom = 'earliest' | 'latest' | number;

export async function prepareJobTopics(
  kafka: Kafka,
  topics: { changelog: string; deadLetter: string; partitions: number },
): Promise<void> {
  await ensureTopicsWith(kafka, [
    {
      topic: topics.changelog,
      partitions: topics.partitions,
      config: { 'cleanup.policy': 'compact', 'min.compaction.lag.ms': '60000', 'segment.ms': '3600000' },
    },
    { topic: topics.deadLetter, partitions: 1, config: { 'retention.ms': String(30 * 86_400_000) } },
  ]);
}

/**
 * Positions a consumer group that has never committed: at the end of the topic, or at the first
 * offset at or after a timestamp. A group with committed offsets is left alone (an updated job
 * continues from its predecessor's offsets). `earliest` needs nothing: the consumer starts there.
 */
export async function positionNewGroup(
  kafka: Kafka,
  groupId: string,
  topic: string,
  from: StartFrom,
): Promise<void> {
  if (from === 'earliest') return;
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    if ((committed?.partitions ?? []).some((p) => BigInt(p.offset) >= 0n)) return;
    if (from === 'latest') {
      await admin.resetOffsets({ groupId, topic, earliest: false });
      return;
    }
    const offsets = await admin.fetchTopicOffsetsByTimestamp(topic, from);
    await admin.setOffsets({
      groupId,
      topic,
      partitions: offsets.map((o) => ({ partition: o.partition, offset: o.offset })),
    });
  } finally {
    await admin.disconnect();
  }
}

/** Reads a changelog to its end (committed records only) into one state per partition. */
export async function readChangelog(kafka: Kafka, topic: string): Promise<Map<number, KeyedState>> {
  const states = new Map<number, KeyedState>();
  const admin = kafka.admin();
  await admin.connect();
  let ends: Map<number, bigint>;
  try {
    ends = new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, BigInt(o.high)]));
  } finally {
    await admin.disconnect();
  }
  const remaining = new Set([...ends].filter(([, high]) => high > 0n).map(([partition]) => partition));
  if (remaining.size === 0) return states;
  const consumer = kafka.consumer({
    groupId: `${topic}.restore.${process.pid}.${Date.now()}`,
    readUncommitted: false,
    maxBytesPerPartition: 4 * 1024 * 1024,
  });
  const reached = (partition: number, lastOffset: string): void => {
    if (BigInt(lastOffset) + 1n >= (ends.get(partition) ?? 0n)) remaining.delete(partition);
  };
  await consumer.connect();
  try {
    let resolveDone: () => void = () => undefined;
    const done = new Promise<void>((resolve) => {
      resolveDone = resolve;
    });
    consumer.on(consumer.events.END_BATCH_PROCESS, (event) => {
      reached(event.payload.partition, event.payload.lastOffset);
      if (remaining.size === 0) resolveDone();
    });
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        let state = states.get(batch.partition);
        if (state === undefined) {
          state = new KeyedState();
          states.set(batch.partition, state);
        }
        for (const message of batch.messages) {
          if (BigInt(message.offset) >= (ends.get(batch.partition) ?? 0n)) break;
          state.restore(
            message.key?.toString() ?? '',
            message.value === null ? null : message.value.toString(),
          );
        }
        await Promise.resolve();
      },
    });
    await done;
  } finally {
    await consumer.disconnect();
  }
  return states;
}
