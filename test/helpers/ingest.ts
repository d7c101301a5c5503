/** A private ingest world per test: its own topics, consumer group, keyspace and registry subject. */
import { afterAll } from 'vitest';
import { loadConfig, type Config } from '../../core/config.js';
import { ensureTopics } from '../../core/kafka/index.js';
import { ingestTopics } from '../../ingest/index.js';
import { runCli } from './cli.js';
import { cassandraClient, kafkaClient } from './context.js';
import { uniqueName } from './names.js';

export interface IngestWorld {
  readonly config: Config;
  readonly env: NodeJS.ProcessEnv;
  readonly groupId: string;
  readonly keyspace: string;
}

const keyspaces: string[] = [];
const cleanupClient = cassandraClient();
afterAll(async () => {
  for (const keyspace of keyspaces) await cleanupClient.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
});

/** Creates the topics and a keyspace with the master dataset tables (`db apply`). */
export async function ingestWorld(registryUrl: string, partitions = 3): Promise<IngestWorld> {
  const keyspace = uniqueName('ks').toLowerCase();
  const namespace = uniqueName('ns').toLowerCase();
  const env = {
    TRIBUTARY_NAMESPACE: namespace,
    FINDINGS_TOPIC: uniqueName('findings'),
    FEEDBACK_TOPIC: uniqueName('feedback'),
    RECORDS_TOPIC: uniqueName('records'),
    RECORDS_PARTITIONS: String(partitions),
    CASSANDRA_KEYSPACE: keyspace,
    SCHEMA_REGISTRY_URL: registryUrl,
  };
  const applied = await runCli(['db', 'apply'], env);
  if (applied.code !== 0) throw new Error(`db apply failed: ${applied.stderr}`);
  keyspaces.push(keyspace);
  const config = loadConfig({ ...process.env, ...env });
  const admin = kafkaClient().admin();
  await admin.connect();
  try {
    await ensureTopics(admin, ingestTopics(config));
  } finally {
    await admin.disconnect();
  }
  return { config, env, groupId: `${namespace}.validation`, keyspace };
}
