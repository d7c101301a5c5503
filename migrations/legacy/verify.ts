/**
 * Verification: per table and per day, row counts and an order-independent checksum of the converted
 * content on both sides (fingerprint.ts), computed in Node from the same stored values. The source is
 * converted again exactly as the copy converts it; rows the copy rejected (conversion) or Cassandra
 * refused (write rejects of the run) are excluded from the expected side and counted. Cassandra is
 * read per partition of each day the source has: the 32 buckets of `records`, and for the per-customer
 * and per-use-case tables the partitions the source pass saw. Memory: 32 sums per day and table, plus
 * the partition ids per day. A (day, bucket) that differs is then diffed key by key (verify-diff.ts).
 *
 * Days whose rows leave the retention window within a day are not compared: their rows were written
 * with the minimum TTL, exactly as late ingested records are, and may already have expired.
 */
import { diffBuckets, type Mismatch } from './verify-diff.js';
import { bucketOf, DaySums, rowHash, type Fingerprint } from './fingerprint.js';
import { forEachRow, type TableSpec } from './plans.js';
import type { Target, VerifyTargetName } from './targets.js';
import { dayFilter, partitionsOf, readOptions, type VerifyContext } from './verify-context.js';
import { sumDay } from './verify-read.js';
import type { LegacyTable } from './tables.js';

export type { Mismatch } from './verify-diff.js';
export type { VerifyContext } from './verify-context.js';

export interface DayCount {
  readonly target: VerifyTargetName;
  readonly day: string;
  readonly expected: number;
  readonly actual: number;
  readonly ok: boolean;
}

export interface TableVerification {
  readonly table: LegacyTable;
  /** Source rows compared (each in every target table). */
  readonly verified: number;
  /** Source rows excluded: conversion rejects, and rows Cassandra refused in the run. */
  readonly rejected: number;
  readonly refused: number;
  /** Source rows on days leaving the retention window, not compared. */
  readonly expiring: number;
  readonly days: readonly DayCount[];
  readonly mismatches: readonly Mismatch[];
  readonly ok: boolean;
}

/** The expected side of every target of a table, from one pass over the source. */
interface Expected {
  readonly sums: DaySums[];
  /** Per target, per day, the partitions holding expected rows (targets with a partitionOf). */
  readonly partitions: Map<string, Set<string>>[];
  verified: number;
  rejected: number;
  refused: number;
  expiring: number;
}

export async function verifyTable<Raw, Item>(
  spec: TableSpec<Raw, Item>,
  targets: readonly Target<Item>[],
  context: VerifyContext,
): Promise<TableVerification> {
  const refusedKeys = await context.refusedKeys(spec.table);
  const keepDay = dayFilter(context.retentionDays, context.now ?? Date.now());
  const expected: Expected = {
    sums: targets.map(() => new DaySums()),
    partitions: targets.map(() => new Map<string, Set<string>>()),
    verified: 0,
    rejected: 0,
    refused: 0,
    expiring: 0,
  };
  let seen = 0;
  let phaseStart = performance.now();
  await forEachRow(
    spec,
    context.pageSize,
    (raw) => {
      seen += 1;
      if (seen % 10_000 === 0) context.onProgress?.(spec.table, seen);
      const converted = spec.convert(raw);
      if (!converted.ok) expected.rejected += 1;
      else if (refusedKeys.has(spec.key(raw))) expected.refused += 1;
      else addExpected(expected, targets, converted.value, keepDay);
    },
    context.signal,
  );
  context.onProgress?.(spec.table, seen);
  context.logger.info(
    { table: spec.table, rows: seen, ms: Math.round(performance.now() - phaseStart) },
    'verification: source side read',
  );

  const days: DayCount[] = [];
  const differing: { target: number; day: string; buckets: Set<number> }[] = [];
  for (const [index, target] of targets.entries()) {
    phaseStart = performance.now();
    const want = expected.sums[index] ?? new DaySums();
    const have = new DaySums();
    for (const day of [...want.days.keys()].sort()) {
      if (context.signal.aborted) break;
      const partitions = partitionsOf(target, expected.partitions[index]?.get(day));
      await sumDay(readOptions(context), target, day, partitions, have);
      const buckets = want.differingBuckets(have, day);
      days.push({
        target: target.name,
        day,
        expected: want.count(day),
        actual: have.count(day),
        ok: buckets.length === 0,
      });
      if (buckets.length > 0) differing.push({ target: index, day, buckets: new Set(buckets) });
    }
    context.logger.info(
      {
        target: target.name,
        rows: [...want.days.keys()].reduce((n, d) => n + have.count(d), 0),
        ms: Math.round(performance.now() - phaseStart),
      },
      'verification: Cassandra side read',
    );
  }
  const mismatches =
    differing.length === 0
      ? []
      : await diffBuckets(spec, targets, differing, expected.partitions, refusedKeys, keepDay, context);
  return {
    table: spec.table,
    verified: expected.verified,
    rejected: expected.rejected,
    refused: expected.refused,
    expiring: expected.expiring,
    days,
    mismatches,
    ok: !context.signal.aborted && mismatches.every((m) => m.explained),
  };
}

function addExpected<Item>(
  expected: Expected,
  targets: readonly Target<Item>[],
  item: Item,
  keepDay: (day: string) => boolean,
): void {
  let kept = false;
  // Targets that store the same values (records and records_by_customer) share one fingerprint.
  let previous: { expected: Target<Item>['expected']; fp: Fingerprint; hash: bigint } | undefined;
  for (const [index, target] of targets.entries()) {
    if (previous?.expected !== target.expected) {
      const fp = target.expected(item);
      previous = { expected: target.expected, fp, hash: rowHash(fp.text) };
    }
    const { fp, hash } = previous;
    if (!keepDay(fp.day)) continue;
    kept = true;
    expected.sums[index]?.add(fp.day, bucketOf(fp.key), hash);
    if (target.partitionOf !== null) {
      const byDay = expected.partitions[index];
      let set = byDay?.get(fp.day);
      if (set === undefined) {
        set = new Set();
        byDay?.set(fp.day, set);
      }
      set.add(target.partitionOf(item));
    }
  }
  if (kept) expected.verified += 1;
  else expected.expiring += 1;
}
