/**
 * Commits what a job did with its input in Kafka transactions, one per transaction slot (see
 * slots.ts) per fetch: each batch of a fetch `enter`s when it starts, and either `commit`s its
 * contribution (outputs + the next input offset) or `leave`s. When every batch of a slot that entered
 * has contributed, ONE transaction sends all their outputs and input offsets and commits; each
 * contributor's promise settles with it. The check runs after the microtask queue is drained, so all
 * the batches of one fetch (which start together) have entered by then.
 *
 * A minimum interval between two transactions of a slot bounds the transaction rate at low input
 * rates (each transaction costs several requests); 0 commits as soon as the batches are done.
 */
import type { Kafka, Message, Producer } from 'kafkajs';
import { chunkTopicMessages } from './chunks.js';
import { slotOf } from './slots.js';

export interface Contribution {
  /** The input topic and partition of the batch, and the offset to commit: the next one to read. */
  readonly topic: string;
  readonly partition: number;
  readonly nextOffset: bigint;
  /** Messages to produce in the same transaction, in order. */
  readonly outputs: readonly { readonly topic: string; readonly messages: readonly Message[] }[];
}

export interface TransactionCyclesOptions {
  readonly kafka: Kafka;
  readonly groupId: string;
  /** The transactional id of slot s is `${transactionalIdPrefix}.${s}`. */
  readonly transactionalIdPrefix: string;
  readonly slots: number;
  readonly commitIntervalMs?: number;
}

interface Pending {
  readonly contribution: Contribution;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

interface SlotState {
  active: number;
  pending: Pending[];
  busy: boolean;
  lastCommitAt: number;
  /** A scheduled check of the slot, if any. */
  timer: { cancel(): void } | undefined;
}

export class TransactionCycles {
  private readonly producers = new Map<number, Promise<Producer>>();
  private readonly slots = new Map<number, SlotState>();

  constructor(private readonly options: TransactionCyclesOptions) {}

  /** A batch of this partition started; it must later `commit` or `leave`. */
  enter(partition: number): void {
    this.slot(partition).active += 1;
  }

  /** The batch ends without contributing (nothing to commit, or it failed). */
  leave(partition: number): void {
    const state = this.slot(partition);
    state.active -= 1;
    this.check(slotOf(partition, this.options.slots), state);
  }

  /** Contributes the batch; resolves once its transaction committed, rejects if it did not. */
  commit(contribution: Contribution): Promise<void> {
    const state = this.slot(contribution.partition);
    state.active -= 1;
    return new Promise<void>((resolve, reject) => {
      state.pending.push({ contribution, resolve, reject });
      this.check(slotOf(contribution.partition, this.options.slots), state);
    });
  }

  private slot(partition: number): SlotState {
    const slot = slotOf(partition, this.options.slots);
    let state = this.slots.get(slot);
    if (state === undefined) {
      state = { active: 0, pending: [], busy: false, lastCommitAt: 0, timer: undefined };
      this.slots.set(slot, state);
    }
    return state;
  }

  private check(slot: number, state: SlotState): void {
    if (state.busy || state.timer !== undefined || state.pending.length === 0 || state.active > 0) return;
    const immediate = setImmediate(() => {
      state.timer = undefined;
      this.flush(slot, state);
    });
    state.timer = {
      cancel: () => {
        clearImmediate(immediate);
      },
    };
  }

  private flush(slot: number, state: SlotState): void {
    if (state.busy || state.pending.length === 0 || state.active > 0) return;
    const wait = state.lastCommitAt + (this.options.commitIntervalMs ?? 0) - performance.now();
    if (wait > 0) {
      const timeout = setTimeout(() => {
        state.timer = undefined;
        this.flush(slot, state);
      }, wait);
      state.timer = {
        cancel: () => {
          clearTimeout(timeout);
        },
      };
      return;
    }
    const batch = state.pending.splice(0);
    state.busy = true;
    this.transact(
      slot,
      batch.map((p) => p.contribution),
    )
      .then(
        () => {
          for (const p of batch) p.resolve();
        },
        (error: unknown) => {
          for (const p of batch) p.reject(error);
        },
      )
      .finally(() => {
        state.busy = false;
        state.lastCommitAt = performance.now();
        this.check(slot, state);
      });
  }

  private async transact(slot: number, contributions: readonly Contribution[]): Promise<void> {
    const producer = await this.producer(slot);
    const transaction = await producer.transaction();
    try {
      for (const chunk of chunkTopicMessages(contributions.flatMap((c) => c.outputs)))
        await transaction.sendBatch({ acks: -1, topicMessages: chunk });
      const offsets = new Map<string, { partition: number; offset: string }[]>();
      for (const c of contributions) {
        const list = offsets.get(c.topic) ?? [];
        list.push({ partition: c.partition, offset: c.nextOffset.toString() });
        offsets.set(c.topic, list);
      }
      await transaction.sendOffsets({
        consumerGroupId: this.options.groupId,
        topics: [...offsets].map(([topic, partitions]) => ({ topic, partitions })),
      });
      await transaction.commit();
    } catch (error) {
      await transaction.abort().catch(() => undefined); // the broker aborts it on timeout anyway
      await this.discard(slot);
      throw error;
    }
  }

  private producer(slot: number): Promise<Producer> {
    let producer = this.producers.get(slot);
    if (producer === undefined) {
      const created = this.options.kafka.producer({
        transactionalId: `${this.options.transactionalIdPrefix}.${slot}`,
        idempotent: true,
        maxInFlightRequests: 1,
        // The next transaction often starts while the broker still writes the last one's markers
        // (CONCURRENT_TRANSACTIONS): retry that within milliseconds, not kafkajs's 100 ms+.
        retry: { initialRetryTime: 10, maxRetryTime: 2_000, retries: 10 },
      });
      producer = created.connect().then(() => created);
      // A failed connection is not kept: the next transaction tries again.
      producer.catch(() => this.producers.delete(slot));
      this.producers.set(slot, producer);
    }
    return producer;
  }

  /** Drops a producer whose transaction failed (its state is unknown); the next one makes a new one. */
  private async discard(slot: number): Promise<void> {
    const producer = this.producers.get(slot);
    this.producers.delete(slot);
    if (producer !== undefined) await (await producer).disconnect().catch(() => undefined);
  }

  /** Disconnects every producer (call after the consumer stopped and in-flight batches drained). */
  async close(): Promise<void> {
    for (const state of this.slots.values()) {
      state.timer?.cancel();
      state.timer = undefined;
      for (const p of state.pending.splice(0)) p.reject(new Error('closing: the batch was not committed'));
    }
    const all = await Promise.allSettled([...this.producers.values()]);
    this.producers.clear();
    for (const result of all) if (result.status === 'fulfilled') await result.value.disconnect();
  }
}
