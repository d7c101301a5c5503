/**
 * The job runtime: one consumer group per job, records handled one at a time as they arrive, and
 * exactly-once effects. Per input batch (one partition): handle each record (state writes and
 * outputs staged per record; a throwing record goes to the job's dead-letter topic with its error and
 * the job goes on), run the logic's idempotent side effects, then commit in ONE Kafka transaction the
 * outputs, the dead letters, the state changelog and the input offsets. A crash anywhere loses
 * nothing and duplicates nothing: the state is restored from the changelog at the committed offsets
 * and the batch is replayed. A job whose records keep failing is paused and reported.
 */
import { describeError } from '../../core/errors.js';
import {
  InFlight,
  slotAssigner,
  TransactionCycles,
  type Consumer,
  type EachBatchPayload,
  type IHeaders,
  type Kafka,
  type Message,
} from '../../core/kafka/index.js';
import type { Logger } from '../../core/logger.js';
import { retry } from '../../core/retry.js';
import { readChangelog, prepareJobTopics, positionNewGroup, type StartFrom } from './topics.js';
import { FailureWindow } from './failures.js';
import { Rejection, type InputMessage, type JobLogic, type OutputMessage } from './logic.js';
import { JobMetrics } from '../../core/job-metrics.js';
import { MarkerCommits } from './markers.js';
import { KeyedState } from './state.js';

export interface JobOptions<T> {
  /** Unique job name, e.g. `usecase.velocity` or `usecase.amount-anomaly.B`. */
  readonly name: string;
  /** Prefix of the group, transactional ids, changelog and dead-letter topic (TRIBUTARY_NAMESPACE). */
  readonly namespace: string;
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
  readonly maxBytesPerPartition?: number;
  /** Transaction slots (core/kafka/slots.ts); 1 = one active instance of the job at a time. */
  readonly slots?: number;
  /** Minimum time between two transactions of a slot. */
  readonly commitIntervalMs?: number;
  /** The broker answers a fetch once it has `fetchMinBytes`, or after `fetchWaitMs`. */
  readonly fetchWaitMs?: number;
  readonly fetchMinBytes?: number;
}

export class Job<T> {
  readonly groupId: string;
  readonly changelogTopic: string;
  readonly deadLetterTopic: string;
  readonly metrics: JobMetrics;
  private readonly consumer: Consumer;
  private readonly cycles: TransactionCycles;
  private readonly states = new Map<number, KeyedState>();
  private readonly inflight = new InFlight();
  private readonly failures = new FailureWindow();
  private readonly markers: MarkerCommits;
  private readonly logger: Logger;
  private restoring: Promise<void> | undefined;
  private joins = 0;
  private paused: string | undefined;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: JobOptions<T>) {
    this.groupId = `${options.namespace}.job.${options.name}`;
    this.changelogTopic = `${options.namespace}.changelog.${options.name}`;
    this.deadLetterTopic = `${options.namespace}.dlq.${options.name}`;
    this.metrics = options.metrics ?? new JobMetrics(options.name);
    this.logger = options.logger.child({ job: options.name });
    const slots = options.slots ?? 1;
    this.cycles = new TransactionCycles({
      kafka: options.kafka,
      groupId: this.groupId,
      transactionalIdPrefix: this.groupId,
      slots,
      commitIntervalMs: options.commitIntervalMs ?? 0,
    });
    this.markers = new MarkerCommits((partition, offset) =>
      this.consumer.commitOffsets([{ topic: options.inputTopic, partition, offset: offset.toString() }]),
    );
    this.consumer = options.kafka.consumer({
      groupId: this.groupId,
      readUncommitted: false,
      maxBytesPerPartition: options.maxBytesPerPartition ?? 1024 * 1024,
      maxBytes: 8 * 1024 * 1024,
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
      maxWaitTimeInMs: options.fetchWaitMs ?? 100,
      minBytes: options.fetchMinBytes ?? 1,
      partitionAssigners: [slotAssigner(slots)],
    });
  }

  get pausedReason(): string | undefined {
    return this.paused;
  }

  async start(): Promise<void> {
    const { kafka, inputTopic, partitions } = this.options;
    await prepareJobTopics(kafka, {
      changelog: this.changelogTopic,
      deadLetter: this.deadLetterTopic,
      partitions,
    });
    await positionNewGroup(kafka, this.groupId, inputTopic, this.options.startFrom ?? 'earliest');
    await this.restore();
    this.consumer.on(this.consumer.events.GROUP_JOIN, () => {
      // After a rebalance this instance may own partitions another instance advanced: reload state.
      this.joins += 1;
      if (this.joins > 1) this.restoring = undefined;
    });
    this.metrics.followLag(this.consumer);
    this.consumer.on(this.consumer.events.END_BATCH_PROCESS, (event) => {
      // A batch of only transaction markers never reaches eachBatch. The next batch's commit moves
      // past it; when none comes soon (the end of a burst), its offset is committed on its own, so
      // the lag reads 0. Lazily: one marker follows every upstream transaction.
      if (event.payload.batchSize === 0 && this.paused === undefined) {
        this.markers.schedule(event.payload.partition, BigInt(event.payload.lastOffset) + 1n);
      }
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: inputTopic, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: partitions,
      eachBatch: (payload) => this.inflight.track(this.processBatch(payload)),
    });
    this.logger.info({ groupId: this.groupId, input: inputTopic }, 'job started');
  }

  private restore(): Promise<void> {
    this.restoring ??= (async () => {
      const states = await readChangelog(this.options.kafka, this.changelogTopic);
      this.states.clear();
      for (const [partition, state] of states) this.states.set(partition, state);
      this.logger.info(
        { partitions: states.size, entries: [...states.values()].reduce((n, s) => n + s.size, 0) },
        'state restored',
      );
    })();
    return this.restoring;
  }

  private stateFor(partition: number): KeyedState {
    let state = this.states.get(partition);
    if (state === undefined) {
      state = new KeyedState();
      this.states.set(partition, state);
    }
    return state;
  }

  private async processBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const last = batch.messages[batch.messages.length - 1];
    if (last === undefined || this.paused !== undefined || !payload.isRunning() || payload.isStale()) return;
    this.markers.begin(batch.partition);
    this.cycles.enter(batch.partition);
    let committed: bigint | undefined;
    try {
      committed = await this.handleBatch(payload);
    } catch (error) {
      // The state in memory may hold this batch's records, which will be fetched again: reload
      // every partition's state from the changelog (it matches the committed offsets) first.
      this.restoring = undefined;
      throw error;
    } finally {
      this.markers.end(batch.partition, committed);
    }
  }

  /** Handles, commits and resolves one batch; returns the offset committed. */
  private async handleBatch(payload: EachBatchPayload): Promise<bigint> {
    const { batch } = payload;
    const progress = { contributed: false };
    try {
      return await this.handleAndCommit(payload, () => {
        progress.contributed = true;
      });
    } finally {
      if (!progress.contributed) this.cycles.leave(batch.partition);
    }
  }

  private async handleAndCommit(payload: EachBatchPayload, contributing: () => void): Promise<bigint> {
    const { batch } = payload;
    await this.restore();
    const { logic } = this.options;
    const state = this.stateFor(batch.partition);
    const outputs: OutputMessage[] = [];
    const dead: Message[] = [];
    const decoded: { input: InputMessage; item: T }[] = [];

    const inputs: InputMessage[] = batch.messages.map((message) => ({
      partition: batch.partition,
      message,
      timestampMs: Number(message.timestamp),
    }));
    if (logic.prepare !== undefined) {
      const prepare = logic.prepare.bind(logic);
      await retry(() => prepare(inputs), { attempts: 5, retriable: () => true });
    }
    for (const input of inputs) {
      try {
        decoded.push({ input, item: logic.decode(input) });
      } catch (error) {
        dead.push(this.deadLetter(input, error));
      }
    }
    logic.beginBatch?.(batch.partition);
    for (const { input, item } of decoded) {
      const staged: OutputMessage[] = [];
      state.advanceClock(input.timestampMs);
      try {
        logic.handle(item, input, state, { emit: (out) => staged.push(out) });
        state.commitRecord();
        outputs.push(...staged);
        this.failures.record(true);
      } catch (error) {
        state.rollbackRecord();
        dead.push(this.deadLetter(input, error));
        // Bad data is not the use case failing; its code throwing is.
        this.failures.record(error instanceof Rejection);
      }
    }
    state.sweep();
    const changes = state.takeChanges();
    if (logic.afterBatch !== undefined) {
      const after = logic.afterBatch.bind(logic);
      await retry(
        () =>
          after(
            batch.partition,
            state,
            changes.map((c) => c.key),
          ),
        { attempts: 6, retriable: () => true },
      );
    }
    await payload.heartbeat();
    // batch.lastOffset() counts transaction markers fetched after the last message: commit past them,
    // or a consumer of a transactional topic would always look one offset behind.
    const through = batch.lastOffset();
    contributing();
    await this.cycles
      .commit({
        topic: batch.topic,
        partition: batch.partition,
        nextOffset: BigInt(through) + 1n,
        outputs: this.outputsOf(batch.partition, outputs, dead, changes),
      })
      .catch((error: unknown) => {
        throw new Error(
          `${this.options.name}: batch at ${batch.topic}/${batch.partition}@${through} not committed: ${describeError(error)}`,
          { cause: error },
        );
      });
    payload.resolveOffset(through);
    await payload.heartbeat();

    const now = Date.now();
    for (const message of batch.messages)
      this.metrics.latency.observe((now - Number(message.timestamp)) / 1000);
    this.metrics.recordsIn.inc(batch.messages.length);
    this.metrics.recordsOut.inc(outputs.length);
    this.metrics.lag.set({ partition: String(batch.partition) }, Number(batch.offsetLag()));
    this.metrics.stateEntries.set([...this.states.values()].reduce((n, s) => n + s.size, 0));
    const pause = this.failures.verdict();
    if (pause !== undefined && this.pausedReason === undefined) {
      this.paused = pause;
      this.logger.error({ reason: pause }, 'pausing the job: its records keep failing');
      this.options.onPause?.(pause);
    }
    return BigInt(through) + 1n;
  }

  private deadLetter(input: InputMessage, error: unknown): Message {
    const code = error instanceof Rejection ? error.code : 'USECASE_ERROR';
    this.metrics.deadLetters.inc({ code });
    const headers: IHeaders = {
      ...(input.message.headers ?? {}),
      'tributary.job': this.options.name,
      'tributary.error.code': code,
      'tributary.error.reason': describeError(error).slice(0, 2_000),
      'tributary.source.topic': this.options.inputTopic,
      'tributary.source.partition': String(input.partition),
      'tributary.source.offset': input.message.offset,
    };
    if (!(error instanceof Rejection) && error instanceof Error && error.stack !== undefined) {
      headers['tributary.error.stack'] = error.stack.slice(0, 4_000);
    }
    return { key: input.message.key, value: input.message.value, headers };
  }

  /** What a batch produces in its transaction: outputs, dead letters, and its state changelog. */
  private outputsOf(
    partition: number,
    outputs: readonly OutputMessage[],
    dead: readonly Message[],
    changes: readonly { key: string; value: string | null }[],
  ): { topic: string; messages: Message[] }[] {
    const byTopic = new Map<string, Message[]>();
    for (const out of outputs) {
      const list = byTopic.get(out.topic) ?? [];
      list.push({
        key: out.key,
        value: out.value,
        ...(out.headers === undefined ? {} : { headers: out.headers }),
        ...(out.timestamp === undefined ? {} : { timestamp: out.timestamp }),
      });
      byTopic.set(out.topic, list);
    }
    if (dead.length > 0) byTopic.set(this.deadLetterTopic, [...dead]);
    // The changelog partition is the input partition: whoever owns the input owns the state.
    if (changes.length > 0)
      byTopic.set(
        this.changelogTopic,
        changes.map((c) => ({ key: c.key, value: c.value, partition })),
      );
    return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
  }

  /** Stops fetching, lets in-flight batches finish and commit, disconnects. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.markers.close();
      await this.consumer.disconnect();
      await this.inflight.drain();
      await this.cycles.close();
      this.logger.info('job stopped');
    })();
    return this.closing;
  }
}
