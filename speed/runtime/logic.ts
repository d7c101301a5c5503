/**
 * What a job does, separated from how it runs: the runtime (job.ts) owns consuming, state
 * durability, transactions, dead letters and metrics; a JobLogic only turns input messages into
 * outputs and state changes.
 */
import type { IHeaders, KafkaMessage } from '../../core/kafka/index.js';
import type { KeyedState, StateValue } from './state.js';
import type { StateExtension } from './store.js';

export interface InputMessage {
  readonly partition: number;
  readonly message: KafkaMessage;
  /** The record's ingest time (the message timestamp, kept from the records topic onwards). */
  readonly timestampMs: number;
}

export interface OutputMessage {
  readonly topic: string;
  readonly key: Buffer | string | null;
  readonly value: Buffer | string | null;
  /** The output partition; by default the producer's partitioner chooses by key. */
  readonly partition?: number;
  readonly headers?: IHeaders;
  readonly timestamp?: string;
}

export interface Emitter {
  emit(message: OutputMessage): void;
}

/** A message the logic refuses as data (not a crash): it goes to the job's dead-letter topic. */
export class Rejection extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'Rejection';
  }
}

export interface JobLogic<T> {
  /** Async preparation for a batch before decoding (schemas, settings, lookups); optional, retried. */
  prepare?(inputs: readonly InputMessage[]): Promise<void>;
  /** Decodes an input message (throw Rejection for bad input). */
  decode(input: InputMessage): T;
  /** Called before a batch of a partition is handled (e.g. to reset per-batch buffers). */
  beginBatch?(partition: number): void;
  /**
   * Handles one input. Synchronous and deterministic given the state: the runtime stages its state
   * writes and emitted messages and keeps them only if it returns normally.
   */
  handle(item: T, input: InputMessage, state: KeyedState, emit: Emitter): void;
  /**
   * Idempotent side effects (Cassandra upserts of whole values) of everything handled since this
   * partition's last checkpoint, run before that checkpoint commits the input offsets that cover
   * them; retried. `touched` holds the entries written since then, with their last values (also
   * those that have expired since: KeyedState.takeTouched). Effects wait for a checkpoint (every
   * SPEED_COMMIT_INTERVAL_MS) so that a key written by many records is written once, and a batch's
   * outputs are not held up by them.
   */
  checkpoint?(partition: number, touched: ReadonlyMap<string, StateValue>): Promise<void>;
  /** The state was restored: drop side effects waiting for a checkpoint (their records come again). */
  restored?(): void;
  /** State of a partition that is not key/value entries, checkpointed with it (store.ts). */
  extensions?(partition: number): ReadonlyMap<string, StateExtension>;
}
