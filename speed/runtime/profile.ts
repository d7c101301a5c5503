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
  aggregateOf,
  AggregateValue,
  EMPTY_AGGREGATE,
  mergeAggregates,
  moments,
  type Aggregate,
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

/**
 * Per state (one per input partition): for each profile prefix, the sum of the days of a window
 * before its last day. A record reads its profile once per use case, so without this a 60-day
 * profile costs 60 lookups and merges per record; with it, one lookup (the record's own day) plus
 * the cached rest. The cache holds exactly what a fresh computation gives: it is dropped when a day
 * inside it is written (a late record) and is not used once the state's clock could have expired
 * one of its days, so replays after a restart (empty cache) decide alike.
 */
interface CachedWindow {
  readonly before: Aggregate;
  readonly validUntil: number;
}
const windowCaches = new WeakMap<KeyedState, Map<string, Map<number, CachedWindow>>>();
const MAX_CACHED_PREFIXES = 200_000;

function cachesOf(state: KeyedState): Map<string, Map<number, CachedWindow>> {
  let caches = windowCaches.get(state);
  if (caches === undefined) {
    caches = new Map();
    windowCaches.set(state, caches);
  }
  return caches;
}

/** When the daily entry of `day` expires (state clock), as addToProfile sets it. */
function dayExpiry(day: number): number {
  return (day + PROFILE_DAYS + 2) * DAY;
}

function dayAggregate(state: KeyedState, prefix: string, day: number): Aggregate | undefined {
  const value = state.get(`${prefix}|${day}`);
  return value === undefined || value === null ? undefined : aggregateOf(value);
}

function sumDays(state: KeyedState, prefix: string, lastDay: number): Aggregate {
  const caches = cachesOf(state);
  let windows = caches.get(prefix);
  let cached = windows?.get(lastDay);
  if (cached === undefined || state.clock >= cached.validUntil) {
    let before = EMPTY_AGGREGATE;
    let validUntil = Number.POSITIVE_INFINITY;
    for (let day = lastDay - PROFILE_DAYS + 1; day < lastDay; day += 1) {
      const aggregate = dayAggregate(state, prefix, day);
      if (aggregate === undefined) continue;
      before = mergeAggregates(before, aggregate);
      // Valid until the first entry it holds expires (a missing day can only appear by a write).
      validUntil = Math.min(validUntil, dayExpiry(day));
    }
    cached = { before, validUntil };
    if (windows === undefined) {
      if (caches.size >= MAX_CACHED_PREFIXES) caches.clear();
      windows = new Map();
      caches.set(prefix, windows);
    }
    for (const day of windows.keys()) if (day < lastDay - 2) windows.delete(day);
    windows.set(lastDay, cached);
  }
  return mergeAggregates(cached.before, dayAggregate(state, prefix, lastDay) ?? EMPTY_AGGREGATE);
}

/** A write to `day` changes every cached window that holds it among its earlier days. */
function invalidate(state: KeyedState, prefix: string, day: number): void {
  const windows = windowCaches.get(state)?.get(prefix);
  if (windows === undefined) return;
  for (const lastDay of windows.keys()) {
    if (lastDay > day && lastDay - PROFILE_DAYS < day) windows.delete(lastDay);
  }
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
  const expires = dayExpiry(day);
  for (const prefix of [`pall|${record.customer_id}`, `pcat|${record.customer_id}|${record.category}`]) {
    invalidate(state, prefix, day);
    const key = `${prefix}|${day}`;
    state.set(key, new AggregateValue(addRecord(aggregateOf(state.get(key)), record)), expires);
  }
}
