/**
 * What a job does, separated from how it runs: the runtime (job.ts) owns consuming, state
 * durability, transactions, dead letters and metrics; a JobLogic only turns input messages into
 * outputs and state changes.
 */
import type { IHeaders, KafkaMessage } from '../../core/kafka/index.js';
import type { KeyedState } from './state.js';

export interface InputMessage {
  readonly partition: number;
  readonly message: KafkaMessage;
  /** The record's ingest time (the message timestamp, kept from the records topic onwards). */
  readonly timestampMs: number;
}

export interface OutputMessage {
  readonly topic: string;
  readonly key: string;
  readonly value: Buffer | string;
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
   * Idempotent side effects of the batch (e.g. Cassandra upserts), run after every input was handled
   * and before the transaction commits. `state` is the partition's state after the batch.
   */
  afterBatch?(partition: number, state: KeyedState, changedKeys: readonly string[]): Promise<void>;
}
