/**
 * When a (table, day, bucket) checksum differs, find the keys: collect that bucket's rows on both
 * sides (key → hash; the source converted again, Cassandra read again) and compare the key sets.
 * Memory is bounded by the differing buckets (1/32 of a day each) and capped at DIFF_LIMIT keys.
 *
 * Two legacy rows can map to one stored row (two identical findings get the same deterministic
 * finding id): such a difference is "explained", reported and not a failure. So are rows that only
 * Cassandra has in a table other writers share (findings_by_usecase).
 */
import { bucketOf, rowHash, showKey } from './fingerprint.js';
import { forEachRow, type TableSpec } from './plans.js';
import type { Target, VerifyTargetName } from './targets.js';
import { collectDay } from './verify-read.js';
import { partitionsOf, readOptions, type VerifyContext } from './verify-context.js';

const DIFF_LIMIT = 200_000;
/** Keys shown per kind of difference. */
const SHOW = 20;

export interface Mismatch {
  readonly target: VerifyTargetName;
  readonly day: string;
  /** Keys (legacy id in parentheses when known), at most 20 of each kind; counts are complete. */
  readonly missing: readonly string[];
  readonly extra: readonly string[];
  readonly different: readonly string[];
  readonly duplicates: readonly string[];
  readonly counts: {
    readonly missing: number;
    readonly extra: number;
    readonly different: number;
    readonly duplicates: number;
  };
  /** More keys differ than were collected: counts are lower bounds. */
  readonly truncated: boolean;
  /** Only collapsed legacy duplicates, or extras in a shared table: reported, not a failure. */
  readonly explained: boolean;
}

interface SourceEntry {
  readonly hashes: Set<bigint>;
  count: number;
  readonly rowKey: string;
}

interface DiffState {
  readonly target: number;
  readonly day: string;
  readonly buckets: Set<number>;
  readonly source: Map<string, SourceEntry>;
  truncated: boolean;
}

export async function diffBuckets<Raw, Item>(
  spec: TableSpec<Raw, Item>,
  targets: readonly Target<Item>[],
  differing: readonly { target: number; day: string; buckets: Set<number> }[],
  partitions: readonly Map<string, Set<string>>[],
  refusedKeys: ReadonlySet<string>,
  keepDay: (day: string) => boolean,
  context: VerifyContext,
): Promise<Mismatch[]> {
  const states = new Map<string, DiffState>();
  for (const d of differing) {
    states.set(`${d.target}|${d.day}`, { ...d, source: new Map(), truncated: false });
  }
  let collected = 0;
  await forEachRow(
    spec,
    context.pageSize,
    (raw) => {
      const converted = spec.convert(raw);
      const rowKey = spec.key(raw);
      if (!converted.ok || refusedKeys.has(rowKey)) return;
      for (const [index, target] of targets.entries()) {
        const fp = target.expected(converted.value);
        const state = states.get(`${index}|${fp.day}`);
        if (state === undefined || !keepDay(fp.day) || !state.buckets.has(bucketOf(fp.key))) continue;
        const entry = state.source.get(fp.key);
        if (entry !== undefined) {
          entry.count += 1;
          entry.hashes.add(rowHash(fp.text));
        } else if (collected >= DIFF_LIMIT) {
          state.truncated = true;
        } else {
          collected += 1;
          state.source.set(fp.key, { hashes: new Set([rowHash(fp.text)]), count: 1, rowKey });
        }
      }
    },
    context.signal,
  );

  const mismatches: Mismatch[] = [];
  for (const state of states.values()) {
    const target = targets[state.target];
    if (target === undefined) continue;
    const toRead =
      target.partitionOf === null
        ? [...state.buckets].sort((a, b) => a - b).map(String)
        : partitionsOf(target, partitions[state.target]?.get(state.day));
    const stored = await collectDay(
      readOptions(context),
      target,
      state.day,
      toRead,
      state.buckets,
      DIFF_LIMIT,
    );
    mismatches.push(compare(target, state, stored.rows, state.truncated || stored.truncated));
  }
  return mismatches.sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : 0));
}

function compare<Item>(
  target: Target<Item>,
  state: DiffState,
  stored: ReadonlyMap<string, bigint>,
  truncated: boolean,
): Mismatch {
  const missing: string[] = [];
  const different: string[] = [];
  const duplicates: string[] = [];
  const extra: string[] = [];
  const label = (key: string, entry: SourceEntry): string => `${showKey(key)} (legacy id ${entry.rowKey})`;
  for (const [key, entry] of state.source) {
    const have = stored.get(key);
    if (have === undefined) missing.push(label(key, entry));
    else if (entry.hashes.size !== 1 || !entry.hashes.has(have)) different.push(label(key, entry));
    else if (entry.count > 1) duplicates.push(`${label(key, entry)} ×${entry.count}`);
  }
  for (const key of stored.keys()) if (!state.source.has(key)) extra.push(showKey(key));
  const explained =
    !truncated &&
    missing.length === 0 &&
    different.length === 0 &&
    (extra.length === 0 || !target.extrasAreErrors);
  return {
    target: target.name,
    day: state.day,
    missing: missing.slice(0, SHOW),
    extra: extra.slice(0, SHOW),
    different: different.slice(0, SHOW),
    duplicates: duplicates.slice(0, SHOW),
    counts: {
      missing: missing.length,
      extra: extra.length,
      different: different.length,
      duplicates: duplicates.length,
    },
    truncated,
    explained,
  };
}
