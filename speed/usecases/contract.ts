/**
 * The contract for use-case authors. A use case is a module that declares its name, its variants,
 * the state it needs, and a function from (record, context) to findings. The runtime gives it
 * decoding, durable state, the customer's settings and profile, error handling, logging, metrics
 * and deployment. Adding a use case is one new file in this folder plus one line in `index.ts`.
 *
 * Rules for `process`: deterministic given the record and the context (no wall clock, no random, no
 * I/O — the runtime replays records after a crash and must get the same findings), and state values
 * are immutable (write a new value with `state.set`, never mutate one you read).
 */
import type { Moments } from '../../core/aggregates.js';
import type { TributaryRecord } from '../../core/record.js';
import type { StateValue } from '../runtime/state.js';

export interface UseCaseState {
  /** A JSON value you set comes back as set (also after a restart: checkpoints store it as JSON). */
  get(key: string): StateValue | undefined;
  /** `expiresAtMs` is compared with the state's clock: the latest ingest time seen. */
  set(key: string, value: StateValue, expiresAtMs?: number | null): void;
  delete(key: string): void;
}

/** The customer's profile over the 60 days before the record (this record not included). */
export interface ProfileReader {
  overall(): Moments;
  category(category: string): Moments;
}

export interface UseCaseContext {
  readonly variant: string;
  readonly state: UseCaseState;
  /** The customer's settings from the control plane (`customers add --settings`). */
  readonly settings: Readonly<Record<string, unknown>>;
  readonly profile: ProfileReader;
  /** When the platform received the record (deterministic: the records topic's timestamp). */
  readonly ingestTimeMs: number;
  /**
   * True when this customer sent a record with the same record_id before (within
   * DUPLICATE_HORIZON_DAYS), false for the first occurrence: decided once, upstream, so every use
   * case agrees. A re-sent record is one record: it is not added to the profile again, and a use
   * case that counts records should not count it either.
   */
  readonly duplicate: boolean;
}

export interface FindingDraft {
  readonly code: string;
  /** The records the finding is about; with the use case, variant and customer they make its id. */
  readonly recordIds: readonly string[];
  readonly detail?: Readonly<Record<string, string>>;
}

export interface UseCase {
  readonly name: string;
  readonly description: string;
  /** The variants that can be deployed; [''] for a use case without variants. */
  readonly variants: readonly string[];
  /** Ask the runtime to keep the customer's profile (daily aggregates, 60 days) for `ctx.profile`. */
  readonly needsProfile: boolean;
  process(record: TributaryRecord, context: UseCaseContext): readonly FindingDraft[];
}

/** A numeric customer setting, or the default when absent or not a number. */
export function numberSetting(
  settings: Readonly<Record<string, unknown>>,
  name: string,
  fallback: number,
): number {
  const value = settings[name];
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}
