/**
 * What the validation job does to each message of `records`, run by the job runtime
 * (speed/runtime/job.ts): decode and validate it; pass an accepted record on to `records.valid` —
 * same partition number, key, value and timestamp, plus its `records` offset and, when the customer
 * sent the same record_id before, the offset of that first occurrence (`tributary.resent-of`) —
 * and refuse what it cannot accept: the runtime sends it to the job's dead-letter topic, `records.dlq`,
 * with the code, the reason and the origin. Re-sent records are decided here,
 * once, by the first-seen index (speed/runtime/first-seen.ts), so that every job downstream treats
 * them alike; its Bloom filter is this job's state and its rows are written at each checkpoint,
 * before the input offsets that cover them are committed.
 */
import type { Logger } from '../../core/logger.js';
import { retry } from '../../core/retry.js';
import type { FirstSeenIndex, Occurrence } from '../../speed/runtime/first-seen.js';
import { Rejection, type Emitter, type InputMessage, type JobLogic } from '../../speed/runtime/logic.js';
import type { StateExtension } from '../../speed/runtime/store.js';
import { RecordDeserializer, type SchemaSource } from '../serde/index.js';
import { passOnHeaders } from './headers.js';

export const VALIDATION_JOB = 'validation';

export interface ValidationLogicOptions {
  readonly registry: SchemaSource;
  readonly firstSeen: FirstSeenIndex;
  readonly inputTopic: string;
  readonly validTopic: string;
  readonly logger: Logger;
  readonly maxMessageBytes?: number;
}

export interface ValidationCounts {
  in: number;
  accepted: number;
  deadLettered: number;
  resent: number;
}

/** What handling needs of a message: its id, or why it is refused (the decoded record is let go). */
type Verdict = Occurrence | { readonly code: string; readonly reason: string };

export class ValidationLogic implements JobLogic<Occurrence> {
  readonly counts: ValidationCounts = { in: 0, accepted: 0, deadLettered: 0, resent: 0 };
  private readonly deserializer: RecordDeserializer;
  /**
   * The batch in hand per partition, decoded in prepare (the first-seen index needs its ids
   * first). Only the verdicts are kept, not the decoded records, so partitions' batches preparing
   * at once cost little memory and no record is decoded twice.
   */
  private readonly verdicts = new Map<number, Map<InputMessage, Verdict>>();

  constructor(private readonly options: ValidationLogicOptions) {
    this.deserializer = new RecordDeserializer({
      registry: options.registry,
      ...(options.maxMessageBytes === undefined ? {} : { maxBytes: options.maxMessageBytes }),
    });
  }

  async prepare(inputs: readonly InputMessage[]): Promise<void> {
    await retry(() => this.deserializer.prepare(inputs.map((i) => i.message.value)), {
      attempts: 10,
      retriable: () => true,
      onRetry: (error) => {
        this.options.logger.warn({ err: error }, 'schema registry unavailable; retrying');
      },
    });
    const partition = inputs[0]?.partition;
    if (partition === undefined) return;
    const verdicts = new Map<InputMessage, Verdict>();
    this.verdicts.set(partition, verdicts); // what an earlier, failed attempt left is dropped
    const occurrences: Occurrence[] = [];
    for (const input of inputs) {
      const verdict = this.judge(input);
      verdicts.set(input, verdict);
      if ('recordId' in verdict) occurrences.push(verdict);
    }
    await this.options.firstSeen.load(partition, occurrences);
  }

  private judge(input: InputMessage): Verdict {
    const decoded = this.deserializer.decode(input.message.value, input.message.key);
    if (!decoded.ok) return { code: decoded.code, reason: decoded.reason };
    return {
      customerId: decoded.record.customer_id,
      recordId: decoded.record.record_id,
      partition: input.partition,
      offset: BigInt(input.message.offset),
      timestampMs: input.timestampMs,
    };
  }

  decode(input: InputMessage): Occurrence {
    const verdicts = this.verdicts.get(input.partition);
    const prepared = verdicts?.get(input);
    if (prepared !== undefined) verdicts?.delete(input);
    const verdict = prepared ?? this.judge(input);
    this.counts.in += 1;
    if ('recordId' in verdict) return verdict;
    // To records.dlq (the job's dead-letter topic) with the code, the reason and the origin.
    this.counts.deadLettered += 1;
    throw new Rejection(verdict.code, verdict.reason);
  }

  handle(occurrence: Occurrence, input: InputMessage, _state: unknown, emit: Emitter): void {
    const { message, partition } = input;
    const resentOf = this.options.firstSeen.earlierOffset(occurrence);
    this.counts.accepted += 1;
    if (resentOf !== undefined) this.counts.resent += 1;
    emit.emit({
      topic: this.options.validTopic,
      partition,
      key: message.key,
      value: message.value,
      timestamp: message.timestamp,
      headers: passOnHeaders({ topic: this.options.inputTopic, partition, message }, resentOf),
    });
  }

  async checkpoint(partition: number): Promise<void> {
    await this.options.firstSeen.flush(partition);
  }

  restored(): void {
    this.verdicts.clear();
    this.options.firstSeen.reset();
  }

  extensions(partition: number): ReadonlyMap<string, StateExtension> {
    return new Map([['first-seen', this.options.firstSeen.extension(partition)]]);
  }
}
