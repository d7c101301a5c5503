/**
 * The aggregates of the views, defined once. The speed layer folds records into them one at a time;
 * the batch layer computes the same thing in DuckDB from the SQL in `AGGREGATE_SQL`; the serving
 * layer merges a batch aggregate with realtime ones. `merge` is associative and commutative, so
 * batch ⊕ realtime equals a recompute over all records, whatever the split.
 */
import type { TributaryRecord } from './record.js';

export interface Aggregate {
  readonly count: number;
  /** Sums in minor units, exact (a sum of squares of amounts exceeds 2^64). */
  readonly sum: bigint;
  readonly sumsq: bigint;
  readonly min: bigint | null;
  readonly max: bigint | null;
  /** Epoch milliseconds of the first and last event time. */
  readonly first: number | null;
  readonly last: number | null;
}

export const EMPTY_AGGREGATE: Aggregate = {
  count: 0,
  sum: 0n,
  sumsq: 0n,
  min: null,
  max: null,
  first: null,
  last: null,
};

function minOf<T extends bigint | number>(a: T | null, b: T | null): T | null {
  if (a === null) return b;
  if (b === null) return a;
  return b < a ? b : a;
}

function maxOf<T extends bigint | number>(a: T | null, b: T | null): T | null {
  if (a === null) return b;
  if (b === null) return a;
  return b > a ? b : a;
}

export function addRecord(
  aggregate: Aggregate,
  record: Pick<TributaryRecord, 'amount_minor' | 'event_time'>,
): Aggregate {
  const amount = record.amount_minor;
  const time = record.event_time.getTime();
  return {
    count: aggregate.count + 1,
    sum: aggregate.sum + amount,
    sumsq: aggregate.sumsq + amount * amount,
    min: minOf(aggregate.min, amount),
    max: maxOf(aggregate.max, amount),
    first: minOf(aggregate.first, time),
    last: maxOf(aggregate.last, time),
  };
}

export function mergeAggregates(a: Aggregate, b: Aggregate): Aggregate {
  return {
    count: a.count + b.count,
    sum: a.sum + b.sum,
    sumsq: a.sumsq + b.sumsq,
    min: minOf(a.min, b.min),
    max: maxOf(a.max, b.max),
    first: minOf(a.first, b.first),
    last: maxOf(a.last, b.last),
  };
}

export interface Moments {
  readonly count: number;
  readonly mean: number;
  /** Population standard deviation. */
  readonly sd: number;
}

/** Mean and standard deviation, computed from the exact sums (variance = E[x²] − E[x]²). */
export function moments(aggregate: Aggregate): Moments {
  const n = aggregate.count;
  if (n === 0) return { count: 0, mean: 0, sd: 0 };
  const mean = Number(aggregate.sum) / n;
  const big = BigInt(n);
  // n·Σx² − (Σx)², exact, then scaled: variance = that / n².
  const numerator = big * aggregate.sumsq - aggregate.sum * aggregate.sum;
  const variance = Number(numerator) / (n * n);
  return { count: n, mean, sd: Math.sqrt(Math.max(0, variance)) };
}

/** JSON-safe form (bigints as strings) for state changelogs and HTTP answers. */
export interface AggregateJson {
  readonly count: number;
  readonly sum: string;
  readonly sumsq: string;
  readonly min: string | null;
  readonly max: string | null;
  readonly first: number | null;
  readonly last: number | null;
}

export function aggregateToJson(a: Aggregate): AggregateJson {
  return {
    count: a.count,
    sum: a.sum.toString(),
    sumsq: a.sumsq.toString(),
    min: a.min === null ? null : a.min.toString(),
    max: a.max === null ? null : a.max.toString(),
    first: a.first,
    last: a.last,
  };
}

export function aggregateFromJson(j: AggregateJson): Aggregate {
  return {
    count: j.count,
    sum: BigInt(j.sum),
    sumsq: BigInt(j.sumsq),
    min: j.min === null ? null : BigInt(j.min),
    max: j.max === null ? null : BigInt(j.max),
    first: j.first,
    last: j.last,
  };
}

/**
 * An aggregate kept live in a job's state: JSON only when a checkpoint writes it. `aggregateOf`
 * reads either form (live, or the JSON a restore brings back).
 */
export class AggregateValue {
  constructor(readonly aggregate: Aggregate) {}

  toJSON(): AggregateJson {
    return aggregateToJson(this.aggregate);
  }
}

function isAggregateJson(value: unknown): value is AggregateJson {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { count?: unknown }).count === 'number' &&
    typeof (value as { sum?: unknown }).sum === 'string'
  );
}

/** The aggregate held in a state value (live or restored); EMPTY_AGGREGATE when there is none. */
export function aggregateOf(value: unknown): Aggregate {
  if (value instanceof AggregateValue) return value.aggregate;
  return isAggregateJson(value) ? aggregateFromJson(value) : EMPTY_AGGREGATE;
}

/** The same aggregate as SQL over a relation with `amount_minor` and `event_time` (epoch ms). */
export const AGGREGATE_SQL = `count(*) AS record_count,
  sum(amount_minor::HUGEINT) AS amount_sum,
  sum(amount_minor::HUGEINT * amount_minor::HUGEINT) AS amount_sumsq,
  min(amount_minor) AS amount_min,
  max(amount_minor) AS amount_max,
  min(event_time) AS first_event,
  max(event_time) AS last_event`;
