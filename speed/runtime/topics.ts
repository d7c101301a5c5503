/** The topics a job owns (state, dead letters), and where a new group starts. */
import { ensureTopicsWith, type Kafka } from '../../core/kafka/index.js';

/** `earliest`, `latest`, or an epoch-millisecond timestamp. */
export type StartFrom = 'earliest' | 'latest' | number;

export async function prepareJobTopics(
  kafka: Kafka,
  topics: { state: string; deadLetter: string; partitions: number },
): Promise<void> {
  await ensureTopicsWith(kafka, [
    {
      // Checkpoint chains (store.ts): kept until the job truncates them behind a snapshot.
      topic: topics.state,
      partitions: topics.partitions,
      config: {
        'cleanup.policy': 'delete',
        'retention.ms': '-1',
        'retention.bytes': '-1',
        'max.message.bytes': String(8 * 1024 * 1024),
        'segment.bytes': String(64 * 1024 * 1024),
      },
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
    // The end as numbers: kafkajs's resetOffsets commits the sentinel -1, which reads back as "no
    // offset", so the consumer would start at the earliest.
    const offsets =
      from === 'latest'
        ? (await admin.fetchTopicOffsets(topic)).map((o) => ({ partition: o.partition, offset: o.high }))
        : await admin.fetchTopicOffsetsByTimestamp(topic, from);
    await admin.setOffsets({
      groupId,
      topic,
      partitions: offsets.map((o) => ({ partition: o.partition, offset: o.offset })),
    });
  } finally {
    await admin.disconnect();
  }
}
