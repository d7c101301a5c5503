/**
 * The master dataset job: writes every record of `records.valid` to the Cassandra master dataset
 * (not the copies validation marked as re-sent: the first occurrence is the record), idempotently,
 * and commits its input offsets only after those writes are acknowledged (every
 * SPEED_COMMIT_INTERVAL_MS). A crash replays what came after the last commit; rewriting a record
 * stores the same row. It runs beside the use-case jobs, as the batch layer's intake, rather than
 * inside validation: a record's way to its feedback does not wait for Cassandra, and Kafka absorbs
 * the master dataset falling behind at a peak (records.valid is kept 7 days).
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { CassandraClient } from '../../core/cassandra/index.js';
import type { Config } from '../../core/config.js';
import {
  BULK_FETCH_MIN_BYTES,
  InFlight,
  LazyCommits,
  slotAssigner,
  onConsumerCrash,
  stopFetching,
  type Consumer,
  type EachBatchPayload,
  type Kafka,
} from '../../core/kafka/index.js';
import type { JobMetrics } from '../../core/job-metrics.js';
import type { Logger } from '../../core/logger.js';
import { retry } from '../../core/retry.js';
import { RecordDeserializer, type RegistryClient } from '../serde/index.js';
import { resentOf } from '../validation/headers.js';
import { MasterDatasetWriter, type StoredRecord } from './writer.js';

export const MASTER_JOB = 'master';

/**
 * Records per master dataset write (each becomes two rows), with a heartbeat after each: at nice 10
 * on a saturated machine, a 5,000-record write once took longer than the session timeout.
 */
const WRITE_SLICE = 2_000;

export interface MasterJobOptions {
  readonly config: Config;
  readonly kafka: Kafka;
  readonly cassandra: CassandraClient;
  readonly registry: RegistryClient;
  readonly logger: Logger;
  readonly metrics?: JobMetrics;
  /** Called when the job cannot go on (Kafka gave up on its consumer): its process should end. */
  readonly onFatal?: (error: unknown) => void;
}

export class MasterJob {
  readonly groupId: string;
  private readonly consumer: Consumer;
  private readonly commits: LazyCommits;
  private readonly deserializer: RecordDeserializer;
  private readonly writer: MasterDatasetWriter;
  private readonly logger: Logger;
  private readonly inflight = new InFlight();
  private running = false;
  private closing: Promise<void> | undefined;
  private written = 0;
  /** Records validation marked as re-sent: not stored again. */
  private resent = 0;

  constructor(private readonly options: MasterJobOptions) {
    const { config } = options;
    this.groupId = `${config.namespace}.job.${MASTER_JOB}`;
    this.logger = options.logger.child({ job: MASTER_JOB });
    this.consumer = options.kafka.consumer({
      groupId: this.groupId,
      readUncommitted: false,
      maxBytesPerPartition: 1024 * 1024,
      maxBytes: 8 * 1024 * 1024,
      // At a low CPU priority (SPEED_BULK_NICE) a busy machine can starve it for a while; it is
      // off the way to feedback, so a slower failover costs nothing a user waits for.
      sessionTimeout: 60_000,
      heartbeatInterval: 3_000,
      // Not on any record's way to its feedback: fewer, larger writes at moderate rates.
      maxWaitTimeInMs: config.speed.bulkFetchWaitMs,
      minBytes: BULK_FETCH_MIN_BYTES,
      partitionAssigners: [slotAssigner(config.speed.slots)],
    });
    this.commits = new LazyCommits(
      this.consumer,
      config.topics.valid,
      config.speed.commitIntervalMs,
      this.logger,
    );
    this.deserializer = new RecordDeserializer({ registry: options.registry, validated: true });
    this.writer = new MasterDatasetWriter({
      client: options.cassandra,
      keyspace: config.cassandra.keyspace,
      retentionDays: config.cassandra.retentionDays,
    });
  }

  stats(): { written: number; resent: number } {
    return { written: this.written, resent: this.resent };
  }

  async start(): Promise<void> {
    const { config } = this.options;
    this.options.metrics?.followLag(this.consumer);
    onConsumerCrash(this.consumer, (error, restarting) => {
      if (restarting) return; // its writes are idempotent upserts: nothing to undo
      this.logger.error({ err: error }, 'Kafka gave up on this job’s consumer: stopping the job');
      this.options.onFatal?.(error);
    });
    this.consumer.on(this.consumer.events.GROUP_JOIN, (event) => {
      this.commits.retain(event.payload.memberAssignment[config.topics.valid] ?? []);
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: config.topics.valid, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: config.topics.partitions,
      eachBatch: (payload) => this.inflight.track(this.processBatch(payload)),
    });
    this.running = true;
    this.commits.start();
    this.logger.info({ groupId: this.groupId, topic: config.topics.valid }, 'master dataset job started');
  }

  private async processBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const last = batch.messages[batch.messages.length - 1];
    if (last === undefined || !payload.isRunning() || payload.isStale()) return;
    try {
      await this.write(payload);
    } catch (error) {
      this.logger.warn({ err: error, partition: batch.partition }, 'master dataset write failed; retrying');
      await delay(1_000);
      return; // not resolved: fetched again, and rewriting is harmless
    }
    payload.resolveOffset(last.offset);
    this.commits.done(batch.partition, BigInt(last.offset) + 1n);
    await payload.heartbeat();
    const metrics = this.options.metrics;
    if (metrics !== undefined) {
      const now = Date.now();
      for (const message of batch.messages) metrics.latency.observe((now - Number(message.timestamp)) / 1000);
      metrics.recordsIn.inc(batch.messages.length);
      metrics.lag.set({ partition: String(batch.partition) }, Number(batch.offsetLag()));
    }
  }

  private async write(payload: EachBatchPayload): Promise<void> {
    const messages = payload.batch.messages;
    await retry(() => this.deserializer.prepare(messages.map((m) => m.value)), {
      attempts: 10,
      retriable: () => true,
    });
    // A fetch can bring ~50k records: decoded and written a slice at a time, so that neither the
    // records nor the statements built for them ever all exist at once (memory stays flat while
    // the job catches up on a backlog).
    let written = 0;
    let resent = 0;
    for (let i = 0; i < messages.length; i += WRITE_SLICE) {
      const slice: StoredRecord[] = [];
      for (const message of messages.slice(i, i + WRITE_SLICE)) {
        // The first occurrence is the record (it is stored): a copy would overwrite its ingest time,
        // or add a second row when its event day differs, so that batch and speed disagreed.
        if (resentOf(message.headers) !== undefined) {
          resent += 1;
          continue;
        }
        const decoded = this.deserializer.decode(message.value, message.key);
        // records.valid holds what validation accepted; anything else is not a record to store.
        if (!decoded.ok) {
          this.options.metrics?.deadLetters.inc({ code: decoded.code });
          continue;
        }
        slice.push({
          record: decoded.record,
          schemaId: decoded.schemaId,
          ingestedAt: new Date(Number(message.timestamp)),
        });
      }
      await retry(() => this.writer.write(slice), { attempts: 6, retriable: () => true });
      written += slice.length;
      // kafkajs heartbeats only between batches: a batch that takes longer than the session
      // timeout (a backlog on a busy machine, at nice 10) would get the member expelled mid-batch.
      await payload.heartbeat();
    }
    this.written += written; // counted once the whole batch is durable (a failed one is rewritten)
    this.resent += resent;
  }

  /** Stops fetching, lets the batch in flight finish, commits, disconnects. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.commits.stop();
      if (this.running) stopFetching(this.consumer, this.options.config.topics.valid);
      await this.inflight.drain();
      await this.commits.flush().catch((error: unknown) => {
        this.logger.warn(
          { err: error },
          'final offset commit failed: the next start rewrites from the last one',
        );
      });
      await this.consumer.disconnect();
      this.logger.info(this.stats(), 'master dataset job stopped');
    })();
    return this.closing;
  }
}
