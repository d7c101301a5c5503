/** Topics are created on purpose (auto-creation is off): each part declares the topics it needs. */
import type { Admin, Kafka } from 'kafkajs';
import { retry } from '../retry.js';

export interface TopicSpec {
  readonly topic: string;
  readonly partitions: number;
  readonly config?: Readonly<Record<string, string>>;
}

/** kafkajs marks transient broker answers (no leader yet, not the leader, …) as retriable. */
function isRetriable(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { retriable?: unknown }).retriable === true;
}

/**
 * Creates the topics that do not exist yet (existing ones are left as they are) and returns once every
 * partition of every topic has a leader — several processes may be creating the same topics at once.
 */
export async function ensureTopics(admin: Admin, specs: readonly TopicSpec[]): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const missing = specs.filter((spec) => !existing.has(spec.topic));
  if (missing.length > 0) {
    // createTopics answers false (not an error) when another process created them first.
    await admin.createTopics({
      waitForLeaders: false,
      topics: missing.map((spec) => ({
        topic: spec.topic,
        numPartitions: spec.partitions,
        replicationFactor: -1, // the broker's default.replication.factor
        configEntries: Object.entries(spec.config ?? {}).map(([name, value]) => ({ name, value })),
      })),
    });
  }
  await retry(
    async () => {
      for (const spec of specs) await admin.fetchTopicOffsets(spec.topic);
    },
    { attempts: 30, initialDelayMs: 100, maxDelayMs: 1_000, retriable: isRetriable },
  );
  return missing.map((spec) => spec.topic);
}

/** ensureTopics with an admin client of its own. */
export async function ensureTopicsWith(kafka: Kafka, specs: readonly TopicSpec[]): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await ensureTopics(admin, specs);
  } finally {
    await admin.disconnect();
  }
}

/** Deletes every topic whose name starts with one of `prefixes` (a run's own topics); returns them. */
export async function deleteTopicsStartingWith(kafka: Kafka, prefixes: readonly string[]): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const mine = (await admin.listTopics()).filter((topic) =>
      prefixes.some((prefix) => topic.toLowerCase().startsWith(prefix.toLowerCase())),
    );
    if (mine.length > 0) await admin.deleteTopics({ topics: mine });
    return mine;
  } finally {
    await admin.disconnect();
  }
}
