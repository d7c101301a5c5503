/**
 * The upstream validation job (the top of the diamond). It consumes `records`, decodes and validates
 * each message, passes accepted records on to `records.valid` — same partition number, same key,
 * value and timestamp, plus their `records` offset as a header — and routes everything it cannot
 * accept to `records.dlq` with the reason. The outputs of a whole fetch go in one request; input
 * offsets are committed every SPEED_COMMIT_INTERVAL_MS once those outputs are acknowledged. A crash
 * replays what came after the last commit: validation is deterministic, so the records passed on
 * again are the same records with the same upstream offset, and every consumer of records.valid drops
 * those it has passed (speed/runtime/job.ts); dead letters carry their source offset too. No Kafka
 * transaction: on these machines one costs ~7 ms of CPU, a plain idempotent send ~0.7 ms. For any
 * run, records in = accepted + dead-lettered. The master dataset is written by its own job
 * (ingest/master/job.ts), from records.valid.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Config } from '../../core/config.js';
import {
  ensureTopicsWith,
  FetchCycles,
  FetchPacer,
  InFlight,
  LazyCommits,
  OutputProducer,
  slotAssigner,
  type Consumer,
  type EachBatchPayload,
  type Kafka,
  type Message,
  type TopicOutputs,
} from '../../core/kafka/index.js';
import type { JobMetrics } from '../../core/job-metrics.js';
import type { Logger } from '../../core/logger.js';
import { retry } from '../../core/retry.js';
import { RecordDeserializer, type RegistryClient } from '../serde/index.js';
import { ingestTopics } from '../topics.js';
import { deadLetterHeaders, passOnHeaders } from './headers.js';

export interface ValidationJobOptions {
  readonly config: Config;
  readonly kafka: Kafka;
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

interface Passed {
  readonly outputs: TopicOutputs[];
  readonly nextOffset: bigint;
}

export class ValidationJob {
  readonly groupId: string;
  private readonly consumer: Consumer;
  private readonly pacer: FetchPacer;
  private readonly producer: OutputProducer;
  private readonly cycles: FetchCycles<Passed>;
  private readonly commits: LazyCommits;
  private readonly deserializer: RecordDeserializer;
  private readonly logger: Logger;
  private counts = { in: 0, accepted: 0, deadLettered: 0, batches: 0 };
  private closing: Promise<void> | undefined;
  private running = false;
  private readonly inflight = new InFlight();

  constructor(private readonly options: ValidationJobOptions) {
    const { config } = options;
    this.groupId = options.groupId ?? `${config.namespace}.validation`;
    this.logger = options.logger.child({ job: VALIDATION_JOB });
    this.producer = new OutputProducer(options.kafka);
    this.cycles = new FetchCycles(async (contributions) => {
      await this.producer.send(contributions.flatMap((c) => c.detail.outputs));
      for (const c of contributions) this.commits.done(c.partition, c.detail.nextOffset);
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
    this.pacer = new FetchPacer(this.consumer, config.speed.fetchIntervalMs);
    this.commits = new LazyCommits(
      this.consumer,
      config.topics.records,
      config.speed.commitIntervalMs,
      this.logger,
    );
  }

  stats(): ValidationStats {
    return { ...this.counts };
  }

  async start(): Promise<void> {
    const { config, kafka } = this.options;
    await ensureTopicsWith(kafka, ingestTopics(config));
    this.options.metrics?.followLag(this.consumer);
    this.consumer.on(this.consumer.events.GROUP_JOIN, (event) => {
      this.commits.retain(event.payload.memberAssignment[config.topics.records] ?? []);
    });
    await this.producer.connect();
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: config.topics.records, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: config.topics.partitions,
      eachBatch: (payload) => this.inflight.track(this.processBatch(payload)),
    });
    this.running = true;
    this.commits.start();
    this.logger.info({ groupId: this.groupId, topic: config.topics.records }, 'validation job started');
  }

  private async processBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const messages = batch.messages;
    const last = messages[messages.length - 1];
    if (last === undefined || !payload.isRunning() || payload.isStale()) return;
    this.cycles.enter(batch.partition);
    let contributed = false;
    try {
      const passed = await this.validate(payload, BigInt(last.offset) + 1n);
      contributed = true;
      await this.cycles.contribute({ partition: batch.partition, detail: passed });
      payload.resolveOffset(last.offset);
      await payload.heartbeat();
      this.record(payload, passed);
      await this.pacer.wait();
    } catch (error) {
      if (!contributed) this.cycles.leave(batch.partition);
      // Nothing was resolved: the batch is fetched again. Anything already sent goes again too, with
      // the same upstream offsets, and is dropped downstream.
      this.logger.warn({ err: error, partition: batch.partition }, 'batch failed; retrying');
      await delay(500);
    }
  }

  private async validate(payload: EachBatchPayload, nextOffset: bigint): Promise<Passed> {
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
    const valid: Message[] = [];
    const dead: Message[] = [];
    for (const message of messages) {
      const origin = { topic: batch.topic, partition: batch.partition, message };
      const decoded = this.deserializer.decode(message.value, message.key);
      if (decoded.ok) {
        valid.push({
          key: message.key,
          value: message.value,
          timestamp: message.timestamp,
          partition: batch.partition,
          headers: passOnHeaders(origin),
        });
      } else {
        dead.push({
          key: message.key,
          value: message.value,
          headers: deadLetterHeaders(origin, VALIDATION_JOB, decoded.code, decoded.reason),
        });
      }
    }
    const outputs: TopicOutputs[] = [{ topic: config.topics.valid, messages: valid }];
    if (dead.length > 0) outputs.push({ topic: config.topics.deadLetter, messages: dead });
    return { outputs, nextOffset };
  }

  private record(payload: EachBatchPayload, passed: Passed): void {
    const { batch } = payload;
    const messages = batch.messages;
    const valid = passed.outputs[0]?.messages.length ?? 0;
    const dead = passed.outputs[1]?.messages ?? [];
    this.counts.in += messages.length;
    this.counts.accepted += valid;
    this.counts.deadLettered += dead.length;
    this.counts.batches += 1;
    const metrics = this.options.metrics;
    if (metrics !== undefined) {
      const now = Date.now();
      for (const message of messages) metrics.latency.observe((now - Number(message.timestamp)) / 1000);
      metrics.recordsIn.inc(messages.length);
      metrics.recordsOut.inc(valid);
      for (const d of dead)
        metrics.deadLetters.inc({ code: String(d.headers?.['tributary.error.code'] ?? 'UNKNOWN') });
      metrics.lag.set({ partition: String(batch.partition) }, Number(batch.offsetLag()));
    }
  }

  /** Stops fetching, lets the batch in flight finish and commit, then disconnects. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.commits.stop();
      if (this.running) this.consumer.pause([{ topic: this.options.config.topics.records }]);
      await this.inflight.drain();
      await this.commits.flush().catch((error: unknown) => {
        this.logger.warn(
          { err: error },
          'final offset commit failed: the next start replays from the last one',
        );
      });
      await this.consumer.disconnect();
      this.cycles.close();
      await this.producer.close();
      this.logger.info(this.stats(), 'validation job stopped');
    })();
    return this.closing;
  }
}
