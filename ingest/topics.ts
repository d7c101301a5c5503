/** The ingest topics: raw records, records accepted by validation, and dead letters. */
import type { Config } from '../core/config.js';
import type { TopicSpec } from '../core/kafka/index.js';

const DAY_MS = 86_400_000;

export function ingestTopics(config: Config): TopicSpec[] {
  const { records, valid, deadLetter, partitions } = config.topics;
  return [
    {
      topic: records,
      partitions,
      config: { 'retention.ms': String(7 * DAY_MS) },
      // A record's time in the platform is when the broker took it in, not a producer's clock: every
      // hop carries it on (ingested_at, the views' ingest hour, each job's state clock), and one
      // producer's clock set hours ahead or behind would otherwise expire other customers' state.
      enforced: { 'message.timestamp.type': 'LogAppendTime' },
    },
    { topic: valid, partitions, config: { 'retention.ms': String(7 * DAY_MS) } },
    {
      topic: deadLetter,
      partitions: Math.min(partitions, 3),
      config: { 'retention.ms': String(30 * DAY_MS) },
    },
  ];
}

/** The speed layer's topics: findings between jobs, and the customer-facing feedback. */
export function speedTopics(config: Config): TopicSpec[] {
  const { findings, feedback, partitions } = config.topics;
  return [
    { topic: findings, partitions, config: { 'retention.ms': String(7 * DAY_MS) } },
    { topic: feedback, partitions, config: { 'retention.ms': String(7 * DAY_MS) } },
  ];
}
