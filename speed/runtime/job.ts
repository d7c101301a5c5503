/**
 * The job runtime: one consumer group per job, records handled one at a time as they arrive, and
 * exactly-once effects without Kafka transactions. Per input batch (one partition): drop what the
 * state already holds (a replay) and what upstream sent twice (its own replay, recognised by the
 * input's `tributary.offset` header); handle each record (state writes and outputs staged per record;
 * a throwing record goes to the job's dead-letter topic with its error and the job goes on); run the
 * logic's idempotent side effects; send the outputs of the whole fetch in one request. Every
 * `commitIntervalMs`, or sooner once CHECKPOINT_RECORDS records were handled (a backlog), the state
 * store checkpoints what changed and commits the input offsets anchored at that checkpoint (store.ts). A crash anywhere loses nothing and counts nothing twice: the state
 * comes back exactly as of the committed offsets, the records after them are handled again, and their
 * outputs — the same, deterministically — are dropped downstream as duplicates (records by upstream
 * offset, findings by their id). A failure short of a crash (a checkpoint Cassandra did not answer)
 * restores the state the same way, but what the process had sent is not sent again. A job whose
 * records keep failing is paused and reported.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { describeError, TributaryError } from '../../core/errors.js';
import {
  FetchCycles,
  FetchPacer,
  InFlight,
  OutputProducer,
  slotAssigner,
  onConsumerCrash,
  stopFetching,
  type Consumer,
  type Contribution,
  type EachBatchPayload,
  type IHeaders,
  type Kafka,
  type Message,
  type TopicOutputs,
} from '../../core/kafka/index.js';
import type { Logger } from '../../core/logger.js';
import { retry } from '../../core/retry.js';
import { JobMetrics } from '../../core/job-metrics.js';
import { HEADER, upstreamOffset } from '../../ingest/validation/headers.js';
import { prepareJobTopics, positionNewGroup, type StartFrom } from './topics.js';
import { FailureWindow } from './failures.js';
import { membershipError, RefusalClock } from './refusals.js';
import { Rejection, type InputMessage, type JobLogic, type OutputMessage } from './logic.js';
import { StateStore, type Committed, type PartitionStore } from './store.js';

export interface JobOptions<T> {
  /** Unique job name, e.g. `usecase.velocity` or `usecase.amount-anomaly.B`. */
  readonly name: string;
  /** Prefix of the group, state and dead-letter topics (TRIBUTARY_NAMESPACE). */
  readonly namespace: string;
  /** The consumer group; by default `<namespace>.job.<name>`. */
  readonly groupId?: string;
  /** Where rejected input and use-case errors go; by default `<namespace>.dlq.<name>`. */
  readonly deadLetterTopic?: string;
  readonly kafka: Kafka;
  readonly logger: Logger;
  readonly inputTopic: string;
  readonly logic: JobLogic<T>;
  readonly partitions: number;
  /** Where a new consumer group starts; a group with committed offsets always continues from them. */
  readonly startFrom?: StartFrom;
  readonly metrics?: JobMetrics;
  /** Called once when the job pauses itself because its records keep failing. */
  readonly onPause?: (reason: string) => void;
  /** Called when the job cannot go on (its state cannot be restored): the worker should exit. */
  readonly onFatal?: (error: unknown) => void;
  readonly maxBytesPerPartition?: number;
  /** Ownership slots (core/kafka/slots.ts); 1 = one active instance of the job at a time. */
  readonly slots?: number;
  /** How often the state is checkpointed and the input offsets committed. */
  readonly commitIntervalMs?: number;
  /** The broker answers a fetch once it has `fetchMinBytes`, or after `fetchWaitMs`. */
  readonly fetchWaitMs?: number;
  readonly fetchMinBytes?: number;
  /** The next fetch starts no sooner than this after the last one (core/kafka/fetch-pacer.ts). */
  readonly fetchIntervalMs?: number;
  /** The input carries upstream offsets (`records.valid`): drop what upstream sent twice. */
  readonly dedupeUpstream?: boolean;
}

interface Handled {
  readonly outputs: TopicOutputs[];
  readonly lastOffset: bigint;
  readonly lastSource: bigint;
  /** Records of the batch (handled, skipped as replays, or dead-lettered). */
  readonly handledCount: number;
  readonly store: PartitionStore;
  readonly generation: number;
}

const MAX_BACKOFF_MS = 10_000;
/**
 * A checkpoint is due after this many records even before `commitIntervalMs`: what waits for it
 * (state changes, deferred upserts, first occurrences) grows with records, not time, so on a backlog
 * this bounds memory. Measured: a data-quality job draining 1M records peaked at 548 MB RSS with
 * checkpoints only every second, 350–376 MB with this (348–357 with checkpoints every 250 ms). At
 * 2,000 records/s the interval comes first.
 */
const CHECKPOINT_RECORDS = 2_500;
/** See RefusalClock (refusals.ts). */
const STUCK_MS = 120_000;
/** What a job logs when it exits for being stuck (tests look for it in a supervisor's output). */
export const STUCK_EXIT_MESSAGE =
  'the group has refused this job’s commits for too long: exiting for the supervisor to restart it';

export class Job<T> {
  readonly groupId: string;
  readonly stateTopic: string;
  readonly deadLetterTopic: string;
  readonly metrics: JobMetrics;
  private readonly consumer: Consumer;
  private readonly pacer: FetchPacer;
  private readonly producer: OutputProducer;
  /**
   * The state store's own producer: a broker answers one request per connection at a time, so a
   * checkpoint's state write (a snapshot can be megabytes) on the outputs' connection would hold
   * the findings behind it.
   */
  private readonly stateProducer: OutputProducer;
  private readonly store: StateStore;
  private readonly cycles: FetchCycles<Handled>;
  private readonly inflight = new InFlight();
  private readonly failures = new FailureWindow();
  private readonly logger: Logger;
  private readonly commitIntervalMs: number;
  /** Bumped by every rebalance and failure: work begun before must not move offsets or state. */
  private generation = 0;
  private assignment: number[] | undefined;
  private needsRestore = true;
  /** After a failure the consumer must go back to the anchors (after a rebalance it already does). */
  private seekAfterRestore = false;
  private restoring: Promise<void> | undefined;
  /** `restoring` has not settled yet. */
  private restoreRunning = false;
  private lastCheckpoint = 0;
  /** Refusals of our commits longer than STUCK_MS end the job. */
  private readonly refusals = new RefusalClock(STUCK_MS, 3 * MAX_BACKOFF_MS);
  /** Records whose outputs were flushed since the last checkpoint started. */
  private sinceCheckpoint = 0;
  private checkpointing: Promise<void> | undefined;
  /**
   * Per partition, the last input offset whose outputs Kafka acknowledged. Kept across a restore: a
   * failure (a checkpoint Cassandra did not answer) makes the job handle again what followed its last
   * checkpoint, to rebuild the state, but what this process already sent is not sent again — the
   * outputs are deterministic, so they would be the same. Only a crash re-sends.
   */
  private readonly sentThrough = new Map<number, bigint>();
  /**
   * A commit the coordinator refused because this consumer is not a member: thrown from the next
   * batch, for kafkajs to rejoin. kafkajs can otherwise go on fetching without being a member — it
   * forgets its member id when told it is unknown and, if the rejoin then fails (the coordinator
   * still loading after the broker was unreachable), fetches on with no member id, sending no
   * heartbeat — so every checkpoint would fail until the process is restarted.
   */
  private rejoin: Error | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** A restore the timer started (restoreIfIdle), with its backoff after a failure. */
  private idleRestore: Promise<void> | undefined;
  /** When the last failure's backoff ends. */
  private retryAt = 0;
  private backoffMs = 0;
  private paused: string | undefined;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: JobOptions<T>) {
    this.groupId = options.groupId ?? `${options.namespace}.job.${options.name}`;
    this.stateTopic = `${options.namespace}.state.${options.name}`;
    this.deadLetterTopic = options.deadLetterTopic ?? `${options.namespace}.dlq.${options.name}`;
    this.metrics = options.metrics ?? new JobMetrics(options.name);
    this.logger = options.logger.child({ job: options.name });
    this.commitIntervalMs = options.commitIntervalMs ?? 1_000;
    this.producer = new OutputProducer(options.kafka);
    this.stateProducer = new OutputProducer(options.kafka);
    const extensions = options.logic.extensions?.bind(options.logic);
    this.store = new StateStore({
      kafka: options.kafka,
      topic: this.stateTopic,
      producer: this.stateProducer,
      logger: this.logger,
      ...(extensions === undefined ? {} : { extensions }),
    });
    this.cycles = new FetchCycles(
      (contributions) => this.flush(contributions),
      () => {
        this.requestCheckpoint();
      },
    );
    this.consumer = options.kafka.consumer({
      groupId: this.groupId,
      readUncommitted: false,
      maxBytesPerPartition: options.maxBytesPerPartition ?? 1024 * 1024,
      maxBytes: 8 * 1024 * 1024,
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
      maxWaitTimeInMs: options.fetchWaitMs ?? 500,
      minBytes: options.fetchMinBytes ?? 1,
      partitionAssigners: [slotAssigner(options.slots ?? 1)],
    });
    this.pacer = new FetchPacer(this.consumer, options.fetchIntervalMs ?? 0);
  }

  get pausedReason(): string | undefined {
    return this.paused;
  }

  async start(): Promise<void> {
    const { kafka, inputTopic, partitions } = this.options;
    await prepareJobTopics(kafka, {
      state: this.stateTopic,
      deadLetter: this.deadLetterTopic,
      partitions,
    });
    await positionNewGroup(kafka, this.groupId, inputTopic, this.options.startFrom ?? 'earliest');
    await Promise.all([this.producer.connect(), this.stateProducer.connect()]);
    this.consumer.on(this.consumer.events.GROUP_JOIN, (event) => {
      // This instance may now own partitions another instance advanced: reload from the anchors.
      this.assignment = event.payload.memberAssignment[inputTopic] ?? [];
      this.generation += 1;
      this.needsRestore = true;
    });
    this.metrics.followLag(this.consumer);
    onConsumerCrash(this.consumer, (error, restarting) => {
      // It has left the group: the state in memory is no longer its to checkpoint (another instance
      // may own those partitions now); a rejoin reloads from the anchors.
      this.generation += 1;
      this.needsRestore = true;
      if (restarting) return;
      this.logger.error({ err: error }, 'Kafka gave up on this job’s consumer: stopping the job');
      this.options.onFatal?.(error);
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: inputTopic, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: partitions,
      eachBatch: (payload) => this.inflight.track(this.processBatch(payload)),
    });
    this.timer = setInterval(() => {
      this.restoreIfIdle();
      this.requestCheckpoint();
    }, this.commitIntervalMs);
    this.timer.unref();
    this.logger.info({ groupId: this.groupId, input: inputTopic }, 'job started');
  }

  /**
   * After a failure the next batch restores the state and takes the consumer back to the anchors.
   * When no batch comes — the failure followed the input's last record — the timer does it: else the
   * job would neither handle again what followed its last checkpoint nor commit it until new input
   * arrived (a delivery job stayed 1,247 findings behind for good after a 130 s Cassandra outage).
   */
  private restoreIfIdle(): void {
    if (!this.needsRestore || !this.seekAfterRestore || this.paused !== undefined) return;
    if (this.idleRestore !== undefined || this.inflight.size > 0 || this.closing !== undefined) return;
    if (performance.now() < this.retryAt) return; // the backoff of the failure
    this.idleRestore = this.ensureRestored()
      .catch((error: unknown) =>
        error instanceof TributaryError && error.code === 'STATE_CORRUPT'
          ? this.options.onFatal?.(error)
          : this.failed(error, 'state restore failed'),
      )
      .finally(() => {
        this.idleRestore = undefined;
      });
  }

  /** Restores the assigned partitions' state from their anchors and moves the consumer there. */
  private ensureRestored(): Promise<void> {
    if (!this.needsRestore) return this.restoring ?? Promise.resolve();
    this.needsRestore = false;
    const seek = this.seekAfterRestore;
    this.seekAfterRestore = false;
    this.restoring = (async () => {
      // A checkpoint whose commit is on its way would move the anchor after it is read here, and its
      // snapshot's truncation then take the chain this restore follows: the next node would name a
      // truncated one, and every later restore fail (STATE_CORRUPT). It lands or fails first.
      await this.checkpointing;
      const { kafka, inputTopic } = this.options;
      const admin = kafka.admin();
      await admin.connect();
      let committed: Map<number, Committed>;
      /** Where a partition that never committed starts (its group began at the earliest). */
      let starts = new Map<number, bigint>();
      try {
        const [topic] = await admin.fetchOffsets({ groupId: this.groupId, topics: [inputTopic] });
        committed = new Map(
          (topic?.partitions ?? []).map((p) => [
            p.partition,
            { offset: BigInt(p.offset), metadata: p.metadata ?? null },
          ]),
        );
        if (seek)
          starts = new Map(
            (await admin.fetchTopicOffsets(inputTopic)).map((p) => [p.partition, BigInt(p.low)]),
          );
      } finally {
        await admin.disconnect();
      }
      const mine = new Set(this.assignment ?? [...committed.keys()]);
      for (const partition of [...committed.keys()]) if (!mine.has(partition)) committed.delete(partition);
      await this.store.restore(committed);
      this.options.logic.restored?.();
      for (const store of seek ? this.store.all() : []) {
        // A partition that has not committed yet goes back to its start: what it handled before the
        // failure is in no checkpoint, and must be handled again like the rest.
        const anchored = (committed.get(store.partition)?.offset ?? -1n) >= 0n;
        const offset = anchored ? store.through + 1n : starts.get(store.partition);
        if (offset !== undefined)
          this.consumer.seek({ topic: inputTopic, partition: store.partition, offset: String(offset) });
      }
      this.logger.info(
        {
          partitions: this.store.all().map((s) => `${s.partition}@${s.through + 1n}`),
          entries: this.store.all().reduce((n, s) => n + s.state.size, 0),
        },
        'state restored',
      );
    })();
    this.restoreRunning = true;
    this.restoring
      .catch(() => {
        this.needsRestore = true;
        this.seekAfterRestore ||= seek;
      })
      .finally(() => {
        this.restoreRunning = false;
      });
    return this.restoring;
  }

  private async processBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (batch.messages.length === 0 || this.paused !== undefined) return;
    if (!payload.isRunning() || payload.isStale()) return;
    const rejoin = this.rejoin;
    if (rejoin !== undefined) {
      this.rejoin = undefined;
      this.generation += 1;
      this.needsRestore = true;
      this.logger.warn({ err: rejoin }, 'not a member of the group any more: rejoining');
      throw rejoin;
    }
    const generation = this.generation;
    try {
      await this.ensureRestored();
    } catch (error) {
      if (error instanceof TributaryError && error.code === 'STATE_CORRUPT') {
        this.options.onFatal?.(error);
        return;
      }
      await this.failed(error, 'state restore failed');
      return;
    }
    if (generation !== this.generation || !payload.isRunning() || payload.isStale()) return;
    this.cycles.enter(batch.partition);
    let contributed = false;
    try {
      const handled = await this.handleBatch(payload, generation);
      contributed = true;
      await this.cycles.contribute({ partition: batch.partition, detail: handled });
      if (generation !== this.generation) return;
      payload.resolveOffset(batch.lastOffset());
      await payload.heartbeat();
      this.backoffMs = 0;
      this.afterBatch(payload);
      await this.pacer.wait();
    } catch (error) {
      if (!contributed) this.cycles.leave(batch.partition);
      const membership = membershipError(error);
      if (membership !== undefined) {
        // A heartbeat told us: kafkajs rejoins when it gets the error; the rejoin reloads the state.
        this.generation += 1;
        this.needsRestore = true;
        throw membership;
      }
      await this.failed(
        error,
        `batch at ${batch.topic}/${batch.partition}@${batch.firstOffset() ?? '?'} failed`,
      );
    }
  }

  /**
   * After a failure the state in memory may hold records whose outputs were not sent: reload it from
   * the anchors (the consumer goes back there) and try again, backing off.
   */
  private async failed(error: unknown, what: string): Promise<void> {
    this.rejoin ??= membershipError(error);
    this.generation += 1;
    this.needsRestore = true;
    this.seekAfterRestore = true;
    this.backoffMs = Math.min(MAX_BACKOFF_MS, Math.max(200, this.backoffMs * 2));
    this.retryAt = performance.now() + this.backoffMs;
    this.logger.warn({ err: error, retryInMs: this.backoffMs }, `${what}; restoring the state and retrying`);
    await delay(this.backoffMs);
  }

  private async handleBatch(payload: EachBatchPayload, generation: number): Promise<Handled> {
    const { batch } = payload;
    const { logic } = this.options;
    const store = this.store.get(batch.partition);
    const state = store.state;
    let lastSource = store.source;
    const inputs: InputMessage[] = [];
    for (const message of batch.messages) {
      if (BigInt(message.offset) <= store.through) continue; // already in the state: a replay
      if (this.options.dedupeUpstream === true) {
        const source = upstreamOffset(message.headers);
        if (source !== undefined) {
          if (source <= lastSource) {
            this.metrics.duplicatesDropped.inc();
            continue; // upstream sent it again after a replay of its own
          }
          lastSource = source;
        }
      }
      inputs.push({ partition: batch.partition, message, timestampMs: Number(message.timestamp) });
    }
    const outputs: OutputMessage[] = [];
    const dead: Message[] = [];
    const sentThrough = this.sentThrough.get(batch.partition) ?? -1n;
    if (inputs.length > 0) {
      if (logic.prepare !== undefined) {
        const prepare = logic.prepare.bind(logic);
        await retry(() => prepare(inputs), { attempts: 5, retriable: () => true });
      }
      logic.beginBatch?.(batch.partition);
      let staged: OutputMessage[] = [];
      const emit = {
        emit: (out: OutputMessage): void => {
          staged.push(out);
        },
      };
      // Decoded and handled one at a time: a batch's records never all exist decoded at once.
      for (const input of inputs) {
        const sent = BigInt(input.message.offset) <= sentThrough;
        let item: T;
        try {
          item = logic.decode(input);
        } catch (error) {
          if (!sent) dead.push(this.deadLetter(input, error));
          continue;
        }
        staged = [];
        state.advanceClock(input.timestampMs);
        try {
          logic.handle(item, input, state, emit);
          state.commitRecord();
          if (!sent) for (const out of staged) outputs.push(out);
          this.failures.record(true);
        } catch (error) {
          state.rollbackRecord();
          if (!sent) dead.push(this.deadLetter(input, error));
          // Bad data is not the use case failing; its code throwing is.
          this.failures.record(error instanceof Rejection);
        }
      }
      await payload.heartbeat();
    }
    this.metrics.recordsOut.inc(outputs.length);
    return {
      outputs: this.outputsOf(outputs, dead),
      lastOffset: BigInt(batch.lastOffset()),
      lastSource,
      handledCount: batch.messages.length,
      store,
      generation,
    };
  }

  /** Sends the outputs of every batch of a fetch, then moves their partitions forward. */
  private async flush(contributions: readonly Contribution<Handled>[]): Promise<void> {
    const outputs = contributions.flatMap((c) => c.detail.outputs);
    if (outputs.length > 0) await this.producer.send(outputs);
    for (const { detail } of contributions) {
      const partition = detail.store.partition;
      if (detail.lastOffset > (this.sentThrough.get(partition) ?? -1n))
        this.sentThrough.set(partition, detail.lastOffset);
    }
    for (const { detail } of contributions) {
      if (detail.generation !== this.generation || this.store.get(detail.store.partition) !== detail.store)
        continue;
      detail.store.through = detail.lastOffset;
      if (detail.lastSource > detail.store.source) detail.store.source = detail.lastSource;
    }
    // Backpressure: a checkpoint slower than the interval (a backlog, a slow Cassandra) holds the
    // next fetch, so that what waits for it — state changes, deferred upserts — stays bounded.
    this.sinceCheckpoint += contributions.reduce((n, c) => n + c.detail.handledCount, 0);
    const running = this.checkpointing;
    if (running !== undefined && this.checkpointDue()) await running;
  }

  private checkpointDue(): boolean {
    return (
      this.sinceCheckpoint >= CHECKPOINT_RECORDS ||
      performance.now() - this.lastCheckpoint >= this.commitIntervalMs
    );
  }

  /** Starts a checkpoint when one is due and none is running (it does not hold up batches). */
  private requestCheckpoint(): void {
    if (this.checkpointing !== undefined || this.needsRestore || this.restoreRunning || !this.checkpointDue())
      return;
    this.checkpointing = this.checkpoint()
      .catch((error: unknown) =>
        error instanceof TributaryError && error.code === 'STATE_UNSERIALIZABLE'
          ? this.unserializable(error)
          : this.checkpointFailed(error),
      )
      .finally(() => {
        this.checkpointing = undefined;
      });
  }

  /**
   * Checkpoints every idle partition: takes, at once, the logic's side effects of what it handled
   * since the last checkpoint and the state changes (store.ts); writes both; commits the offsets
   * anchored at the new nodes only once both are durable. Batches go on meanwhile. A failure
   * restores the state from the last anchors, so nothing taken here is lost: it is handled again.
   */
  private async checkpoint(): Promise<void> {
    // The stores are being replaced by a restore: what they hold now is what it undoes.
    if (this.needsRestore || this.restoreRunning) return;
    const generation = this.generation;
    const moved = new Set(
      this.store
        .all()
        .filter((s) => !this.cycles.busy(s.partition) && s.moved)
        .map((s) => s.partition),
    );
    if (moved.size === 0) return; // nothing idle moved: the next chance comes soon
    this.lastCheckpoint = performance.now();
    this.sinceCheckpoint = 0;
    const eligible = (partition: number): boolean => moved.has(partition) && generation === this.generation;
    const effects: Promise<void>[] = [];
    const logic = this.options.logic;
    for (const store of this.store.all()) {
      if (!eligible(store.partition)) continue;
      const touched = store.state.takeTouched();
      if (logic.checkpoint !== undefined) effects.push(logic.checkpoint(store.partition, touched));
    }
    const done = Promise.all(effects);
    done.catch(() => undefined); // awaited below; a rejection before that is not unhandled
    await this.store.checkpoint(eligible, async (requests) => {
      await done;
      if (generation !== this.generation) throw new Error('a rebalance or failure overtook the checkpoint');
      await this.consumer.commitOffsets(requests.map((r) => ({ topic: this.options.inputTopic, ...r })));
    });
    await done; // effects of partitions that needed no node
    this.refusals.succeeded();
  }

  private async checkpointFailed(error: unknown): Promise<void> {
    const { refusedMs, stuck } = this.refusals.failed(error, performance.now());
    if (stuck && this.options.onFatal !== undefined) {
      this.logger.error({ err: error, refusedMs: Math.round(refusedMs) }, STUCK_EXIT_MESSAGE);
      this.options.onFatal(error);
      return;
    }
    await this.failed(error, 'checkpoint failed');
  }

  /**
   * State the logic set that JSON cannot hold never checkpoints, however often it is retried: a use
   * case is paused and reported (its offsets stay where they were, so nothing is lost); a platform
   * job ends, for its supervisor to restart and report.
   */
  private async unserializable(error: TributaryError): Promise<void> {
    if (this.options.onPause === undefined) {
      this.options.onFatal?.(error);
      return;
    }
    this.pause(error.message, 'pausing the job: its state cannot be checkpointed');
    await this.failed(error, 'checkpoint failed'); // no checkpoint of what it handled since
  }

  private afterBatch(payload: EachBatchPayload): void {
    const { batch } = payload;
    const now = Date.now();
    for (const message of batch.messages)
      this.metrics.latency.observe((now - Number(message.timestamp)) / 1000);
    this.metrics.recordsIn.inc(batch.messages.length);
    this.metrics.lag.set({ partition: String(batch.partition) }, Number(batch.offsetLag()));
    this.metrics.stateEntries.set(this.store.all().reduce((n, s) => n + s.state.size, 0));
    const verdict = this.failures.verdict();
    if (verdict !== undefined) this.pause(verdict, 'pausing the job: its records keep failing');
  }

  /** Stops taking batches and reports why (the worker marks the deployment paused), once. */
  private pause(reason: string, message: string): void {
    if (this.paused !== undefined) return;
    this.paused = reason;
    this.logger.error({ reason }, message);
    this.options.onPause?.(reason);
  }

  private deadLetter(input: InputMessage, error: unknown): Message {
    const code = error instanceof Rejection ? error.code : 'USECASE_ERROR';
    this.metrics.deadLetters.inc({ code });
    const reason = describeError(error);
    const headers: IHeaders = {
      ...(input.message.headers ?? {}),
      [HEADER.job]: this.options.name,
      [HEADER.errorCode]: code,
      // Kafka headers have no hard limit, but a reason is a sentence, not a dump.
      [HEADER.errorReason]: reason.length > 2_000 ? `${reason.slice(0, 2_000)}…` : reason,
      [HEADER.sourceTopic]: this.options.inputTopic,
      [HEADER.sourcePartition]: String(input.partition),
      [HEADER.sourceOffset]: input.message.offset,
      [HEADER.sourceTimestamp]: input.message.timestamp,
    };
    if (!(error instanceof Rejection) && error instanceof Error && error.stack !== undefined) {
      headers[HEADER.errorStack] = error.stack.slice(0, 4_000);
    }
    return { key: input.message.key, value: input.message.value, headers };
  }

  /** What a batch sends: its outputs by topic, and its dead letters. */
  private outputsOf(outputs: readonly OutputMessage[], dead: readonly Message[]): TopicOutputs[] {
    const byTopic = new Map<string, Message[]>();
    for (const out of outputs) {
      let list = byTopic.get(out.topic);
      if (list === undefined) {
        list = [];
        byTopic.set(out.topic, list);
      }
      list.push({
        key: out.key,
        value: out.value,
        ...(out.headers === undefined ? {} : { headers: out.headers }),
        ...(out.timestamp === undefined ? {} : { timestamp: out.timestamp }),
        ...(out.partition === undefined ? {} : { partition: out.partition }),
      });
    }
    if (dead.length > 0) byTopic.set(this.deadLetterTopic, [...dead]);
    return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
  }

  /**
   * Stops fetching, lets in-flight batches finish, checkpoints and commits, disconnects. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.timer !== undefined) clearInterval(this.timer);
      // The timer exists once the consumer runs; before that nothing is being fetched.
      if (this.timer !== undefined) stopFetching(this.consumer, this.options.inputTopic);
      await this.inflight.drain();
      await this.idleRestore;
      await this.checkpointing;
      await this.checkpoint().catch((error: unknown) => {
        this.logger.warn({ err: error }, 'final checkpoint failed: the next start replays from the last one');
      });
      await this.consumer.disconnect();
      this.cycles.close();
      await Promise.all([this.producer.close(), this.stateProducer.close()]);
      await this.store.close();
      this.logger.info('job stopped');
    })();
    return this.closing;
  }
}
