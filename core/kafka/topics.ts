/** Topics are created on purpose (auto-creation is off): each part declares the topics it needs. */
import kafkajs, { type Admin, type Kafka } from 'kafkajs';
import { retry } from '../retry.js';

// Not named exports Node's ESM loader finds in kafkajs's CommonJS index.
export const { ConfigResourceTypes, ConfigSource } = kafkajs;

export interface TopicSpec {
  readonly topic: string;
  readonly partitions: number;
  /** Set when the topic is created; an existing topic keeps what it has. */
  readonly config?: Readonly<Record<string, string>>;
  /** Set when the topic is created, and on an existing topic that differs: what the platform relies on. */
  readonly enforced?: Readonly<Record<string, string>>;
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
        configEntries: Object.entries({ ...spec.config, ...spec.enforced }).map(([name, value]) => ({
          name,
          value,
        })),
      })),
    });
  }
  await enforceConfig(
    admin,
    specs.filter((spec) => existing.has(spec.topic) && spec.enforced !== undefined),
  );
  await retry(
    async () => {
      for (const spec of specs) await admin.fetchTopicOffsets(spec.topic);
    },
    { attempts: 30, initialDelayMs: 100, maxDelayMs: 1_000, retriable: isRetriable },
  );
  return missing.map((spec) => spec.topic);
}

/**
 * Brings existing topics to their specs' enforced configuration. The broker's AlterConfigs replaces a
 * topic's whole set of overrides, so the overrides it has (retention set by an operator, say) are
 * sent again with the enforced entries.
 */
async function enforceConfig(admin: Admin, specs: readonly TopicSpec[]): Promise<void> {
  if (specs.length === 0) return;
  const described = await admin.describeConfigs({
    includeSynonyms: false,
    resources: specs.map((spec) => ({ type: ConfigResourceTypes.TOPIC, name: spec.topic })),
  });
  const resources = [];
  for (const spec of specs) {
    const entries = described.resources.find((r) => r.resourceName === spec.topic)?.configEntries ?? [];
    const enforced = spec.enforced ?? {};
    if (
      entries.length > 0 &&
      Object.entries(enforced).every(([name, value]) =>
        entries.some((e) => e.configName === name && e.configValue === value),
      )
    )
      continue;
    const overrides = Object.fromEntries(
      entries
        .filter((e) => e.configSource === ConfigSource.TOPIC_CONFIG && !e.isSensitive)
        .map((e) => [e.configName, e.configValue]),
    );
    const configEntries = Object.entries({ ...overrides, ...enforced }).map(([name, value]) => ({
      name,
      value,
    }));
    resources.push({ type: ConfigResourceTypes.TOPIC, name: spec.topic, configEntries });
  }
  if (resources.length > 0) await admin.alterConfigs({ validateOnly: false, resources });
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
