/**
 * The customer's profile kept in a job's state for use cases that ask for it: daily aggregates per
 * customer and per (customer, category), for the 60 days before each record. The same aggregate
 * definition as the views (core/aggregates.ts).
 *
 * Batch ⊕ realtime: until the batch layer publishes views, the realtime part is the whole profile.
 * When it does, `BatchProfiles` supplies the batch part up to its cutoff and the job's aggregates
 * are the part after it.
 */
import {
  addRecord,
  aggregateFromJson,
  aggregateToJson,
  EMPTY_AGGREGATE,
  mergeAggregates,
  moments,
  type Aggregate,
  type AggregateJson,
  type Moments,
} from '../../core/aggregates.js';
import type { TributaryRecord } from '../../core/record.js';
import type { ProfileReader } from '../usecases/index.js';
import type { KeyedState } from './state.js';

const DAY = 86_400_000;
export const PROFILE_DAYS = 60;

export interface BatchProfiles {
  overall(customerId: string): Aggregate;
  category(customerId: string, category: string): Aggregate;
}

export const NO_BATCH_PROFILES: BatchProfiles = {
  overall: () => EMPTY_AGGREGATE,
  category: () => EMPTY_AGGREGATE,
};

function dayIndex(time: Date): number {
  return Math.floor(time.getTime() / DAY);
}

function sumDays(state: KeyedState, prefix: string, lastDay: number): Aggregate {
  let total = EMPTY_AGGREGATE;
  for (let day = lastDay - PROFILE_DAYS + 1; day <= lastDay; day += 1) {
    const value = state.get(`${prefix}|${day}`);
    if (value !== undefined && value !== null)
      total = mergeAggregates(total, aggregateFromJson(value as unknown as AggregateJson));
  }
  return total;
}

export function profileReader(
  state: KeyedState,
  batch: BatchProfiles,
  record: TributaryRecord,
): ProfileReader {
  const day = dayIndex(record.event_time);
  const customer = record.customer_id;
  return {
    overall: (): Moments =>
      moments(mergeAggregates(batch.overall(customer), sumDays(state, `pall|${customer}`, day))),
    category: (category: string): Moments =>
      moments(
        mergeAggregates(
          batch.category(customer, category),
          sumDays(state, `pcat|${customer}|${category}`, day),
        ),
      ),
  };
}

/** Adds the record to the customer's daily aggregates (after the use case saw the profile without it). */
export function addToProfile(state: KeyedState, record: TributaryRecord): void {
  const day = dayIndex(record.event_time);
  const expires = (day + PROFILE_DAYS + 2) * DAY;
  for (const key of [
    `pall|${record.customer_id}|${day}`,
    `pcat|${record.customer_id}|${record.category}|${day}`,
  ]) {
    const current = state.get(key);
    const aggregate =
      current === undefined || current === null
        ? EMPTY_AGGREGATE
        : aggregateFromJson(current as unknown as AggregateJson);
    state.set(
      key,
      aggregateToJson(addRecord(aggregate, record)) as unknown as Record<string, string | number | null>,
      expires,
    );
  }
}
