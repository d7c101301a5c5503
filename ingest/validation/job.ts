/**
 * The upstream validation job (the top of the diamond). It consumes `records`, decodes and validates
 * each message, passes accepted records on to `records.valid` — same partition number, same key,
 * value and timestamp, plus their `records` offset as a header, and the offset of the first
 * occurrence on a re-sent record — and routes everything it cannot accept to `records.dlq` with the
 * reason (logic.ts). It runs on the job runtime (speed/runtime/job.ts): the outputs of a whole fetch go
 * in one request; every SPEED_COMMIT_INTERVAL_MS, once those outputs are acknowledged, a checkpoint
 * writes the first-seen index's new rows and its Bloom filter's changes, then commits the input
 * offsets. A crash replays what came after the last commit: validation is deterministic (the index
 * lets the earliest occurrence win), so the records passed on again are the same records with the
 * same headers, and every consumer of records.valid drops those it has passed; dead letters carry
 * their source offset too. No Kafka transaction: on these machines one costs ~7 ms of CPU, a plain
 * idempotent send ~0.7 ms. For any run, records in = accepted + dead-lettered. The master dataset is
 * written by its own job (ingest/master/job.ts), from records.valid.
 */
import type { CassandraClient } from '../../core/cassandra/index.js';
import type { Config } from '../../core/config.js';
import { ensureTopicsWith, type Kafka } from '../../core/kafka/index.js';
import type { JobMetrics } from '../../core/job-metrics.js';
import type { Logger } from '../../core/logger.js';
import { FirstSeenIndex, type Occurrence } from '../../speed/runtime/first-seen.js';
import { Job } from '../../speed/runtime/job.js';
import type { RegistryClient } from '../serde/index.js';
import { ingestTopics } from '../topics.js';
import { VALIDATION_JOB, ValidationLogic } from './logic.js';

export { VALIDATION_JOB };

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
  /** Called when the job cannot go on (Kafka gave up on its consumer): its process should end. */
  readonly onFatal?: (error: unknown) => void;
}

export interface ValidationStats {
  readonly in: number;
  readonly accepted: number;
  readonly deadLettered: number;
  /** Accepted records marked as re-sent (the customer sent the same record_id before). */
  readonly resent: number;
}

export class ValidationJob {
  readonly groupId: string;
  private readonly logic: ValidationLogic;
  private readonly job: Job<Occurrence>;

  constructor(private readonly options: ValidationJobOptions) {
    const { config } = options;
    this.groupId = options.groupId ?? `${config.namespace}.validation`;
    this.logic = new ValidationLogic({
      registry: options.registry,
      firstSeen: new FirstSeenIndex(
        options.cassandra,
        config.cassandra.keyspace,
        config.duplicates.horizonDays * 86_400,
        config.duplicates.filterBits,
      ),
      inputTopic: config.topics.records,
      validTopic: config.topics.valid,
      logger: options.logger,
      ...(options.maxMessageBytes === undefined ? {} : { maxMessageBytes: options.maxMessageBytes }),
    });
    this.job = new Job({
      name: VALIDATION_JOB,
      namespace: config.namespace,
      groupId: this.groupId,
      deadLetterTopic: config.topics.deadLetter,
      kafka: options.kafka,
      logger: options.logger,
      inputTopic: config.topics.records,
      logic: this.logic,
      partitions: config.topics.partitions,
      slots: config.speed.slots,
      commitIntervalMs: config.speed.commitIntervalMs,
      fetchWaitMs: config.speed.fetchWaitMs,
      fetchMinBytes: config.speed.fetchMinBytes,
      fetchIntervalMs: config.speed.fetchIntervalMs,
      ...(options.maxBytesPerPartition === undefined
        ? {}
        : { maxBytesPerPartition: options.maxBytesPerPartition }),
      ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
      ...(options.onFatal === undefined ? {} : { onFatal: options.onFatal }),
    });
  }

  stats(): ValidationStats {
    return { ...this.logic.counts };
  }

  async start(): Promise<void> {
    await ensureTopicsWith(this.options.kafka, ingestTopics(this.options.config));
    await this.job.start();
  }

  /** Stops fetching, lets the batch in flight finish, checkpoints and commits, disconnects. Idempotent. */
  async close(): Promise<void> {
    await this.job.close();
    this.options.logger.info(this.stats(), 'validation job stopped');
  }
}
