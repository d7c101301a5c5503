/**
 * The upstream validation job (the top of the diamond). It consumes `records`, decodes and validates
 * each message, writes every accepted record to the Cassandra master dataset (idempotent), and then,
 * in one Kafka transaction per input batch, passes accepted records on to `records.valid`, routes
 * everything it cannot accept to `records.dlq` with the reason, and commits the input offsets.
 * So offsets move only after the Cassandra writes are durable, and a crash at any point replays the
 * batch: Cassandra rewrites are harmless and the aborted transaction's outputs are never seen by
 * read_committed consumers. For any run, records in = accepted + dead-lettered.
 */
import type { CassandraClient } from '../../core/cassandra/index.js';
import type { Config } from '../../core/config.js';
import { describeError } from '../../core/errors.js';
import {
  ensureTopicsWith,
  InFlight,
  slotAssigner,
  TransactionCycles,
  type Consumer,
  type EachBatchPayload,
  type Kafka,
  type Message,
} from '../../core/kafka/index.js';
import type { JobMetrics } from '../../core/job-metrics.js';
import type { Logger } from '../../core/logger.js';
import { retry } from '../../core/retry.js';
import { MasterDatasetWriter, type StoredRecord } from '../master/index.js';
import { RecordDeserializer, type RegistryClient } from '../serde/index.js';
import { ingestTopics } from '../topics.js';
import { deadLetterHeaders, passOnHeaders } from './headers.js';

export interface ValidationJobOptions {
  readonly config: Config;
  readonly kafka: Kafka;
  readonly cassandra: CassandraClient;
  readonly registry: RegistryClient;
  readonly logger: Logger;
  readonly groupId?: string;
  /** Bytes fetched per partition per request: bounds memory (default 1 MiB). */
  readonly maxBytesPerPartition?: number;
  readonly maxMessageBytes?: number;
  readonly metrics?: JobMetrics;
}

export interface ValidationStats {
  readonly in: number;
  readonly accepted: number;
  readonly deadLettered: number;
  readonly batches: number;
}

export const VALIDATION_JOB = 'validation';

export class ValidationJob {
  readonly groupId: string;
  private readonly consumer: Consumer;
  private readonly cycles: TransactionCycles;
  private readonly deserializer: RecordDeserializer;
  private readonly writer: MasterDatasetWriter;
  private readonly logger: Logger;
  private counts = { in: 0, accepted: 0, deadLettered: 0, batches: 0 };
  private closing: Promise<void> | undefined;
  private readonly inflight = new InFlight();

  constructor(private readonly options: ValidationJobOptions) {
    const { config } = options;
    this.groupId = options.groupId ?? `${config.namespace}.validation`;
    this.logger = options.logger.child({ job: VALIDATION_JOB });
    this.cycles = new TransactionCycles({
      kafka: options.kafka,
      groupId: this.groupId,
      transactionalIdPrefix: `${this.groupId}.${config.topics.records}`,
      slots: config.speed.slots,
      commitIntervalMs: config.speed.commitIntervalMs,
    });
    this.consumer = options.kafka.consumer({
      groupId: this.groupId,
      readUncommitted: false,
      maxBytesPerPartition: options.maxBytesPerPartition ?? 1024 * 1024,
      maxBytes: 8 * 1024 * 1024,
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
      maxWaitTimeInMs: config.speed.fetchWaitMs,
      minBytes: config.speed.fetchMinBytes,
      partitionAssigners: [slotAssigner(config.speed.slots)],
    });
    this.deserializer = new RecordDeserializer({
      registry: options.registry,
      ...(options.maxMessageBytes === undefined ? {} : { maxBytes: options.maxMessageBytes }),
    });
    this.writer = new MasterDatasetWriter({
      client: options.cassandra,
      keyspace: config.cassandra.keyspace,
      retentionDays: config.cassandra.retentionDays,
    });
  }

  stats(): ValidationStats {
    return { ...this.counts };
  }

  async start(): Promise<void> {
    const { config, kafka } = this.options;
    await ensureTopicsWith(kafka, ingestTopics(config));
    this.options.metrics?.followLag(this.consumer);
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: config.topics.records, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: config.topics.partitions,
      eachBatch: (payload) => this.inflight.track(this.processBatch(payload)),
    });
    this.logger.info({ groupId: this.groupId, topic: config.topics.records }, 'validation job started');
  }

  private async processBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const messages = batch.messages;
    const last = messages[messages.length - 1];
    if (last === undefined || !payload.isRunning() || payload.isStale()) return;
    this.cycles.enter(batch.partition);
    const progress = { contributed: false };
    try {
      await this.handleBatch(payload, last.offset, () => {
        progress.contributed = true;
      });
    } finally {
      if (!progress.contributed) this.cycles.leave(batch.partition);
    }
  }

  private async handleBatch(
    payload: EachBatchPayload,
    lastOffset: string,
    contributing: () => void,
  ): Promise<void> {
    const { batch } = payload;
    const messages = batch.messages;
    const { config } = this.options;

    await retry(() => this.deserializer.prepare(messages.map((m) => m.value)), {
      attempts: 10,
      retriable: () => true,
      onRetry: (error) => {
        this.logger.warn({ err: error }, 'schema registry unavailable; retrying');
      },
    });

    const accepted: StoredRecord[] = [];
    const valid: Message[] = [];
    const dead: Message[] = [];
    for (const message of messages) {
      const origin = { topic: batch.topic, partition: batch.partition, message };
      const decoded = this.deserializer.decode(message.value, message.key);
      if (decoded.ok) {
        accepted.push({
          record: decoded.record,
          schemaId: decoded.schemaId,
          ingestedAt: new Date(Number(message.timestamp)),
        });
        valid.push({
          key: message.key,
          value: message.value,
          timestamp: message.timestamp,
          headers: passOnHeaders(origin, decoded.schemaId),
        });
      } else {
        dead.push({
          key: message.key,
          value: message.value,
          headers: deadLetterHeaders(origin, VALIDATION_JOB, decoded.code, decoded.reason),
        });
      }
    }

    await retry(() => this.writer.write(accepted), {
      attempts: 6,
      retriable: () => true,
      onRetry: (error) => {
        this.logger.warn({ err: error }, 'master dataset write failed; retrying');
      },
    });
    await payload.heartbeat();

    contributing();
    await this.cycles
      .commit({
        topic: batch.topic,
        partition: batch.partition,
        nextOffset: BigInt(lastOffset) + 1n,
        outputs: [
          { topic: config.topics.valid, messages: valid },
          { topic: config.topics.deadLetter, messages: dead },
        ],
      })
      .catch((error: unknown) => {
        throw new Error(
          `batch of ${messages.length} at ${batch.topic}/${batch.partition}@${messages[0]?.offset ?? '?'} not committed: ${describeError(error)}`,
          { cause: error },
        );
      });
    payload.resolveOffset(lastOffset);
    await payload.heartbeat();
    this.counts.in += messages.length;
    this.counts.accepted += accepted.length;
    this.counts.deadLettered += dead.length;
    this.counts.batches += 1;
    const metrics = this.options.metrics;
    if (metrics !== undefined) {
      const now = Date.now();
      for (const message of messages) metrics.latency.observe((now - Number(message.timestamp)) / 1000);
      metrics.recordsIn.inc(messages.length);
      metrics.recordsOut.inc(valid.length);
      for (const d of dead)
        metrics.deadLetters.inc({ code: String(d.headers?.['tributary.error.code'] ?? 'UNKNOWN') });
      metrics.lag.set({ partition: String(batch.partition) }, Number(batch.offsetLag()));
    }
  }

  /** Stops fetching, lets the batch in flight finish and commit, then disconnects. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.consumer.disconnect();
      await this.inflight.drain();
      await this.cycles.close();
      this.logger.info(this.stats(), 'validation job stopped');
    })();
    return this.closing;
  }
}
