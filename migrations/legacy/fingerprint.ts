/**
 * Order-independent fingerprints for verification. Each converted row has a canonical text (the JSON
 * array of its stored values, maps as sorted entries); its 64-bit hash is the first 8 bytes of the
 * text's MD5 (a checksum, not a defence against forgery). A group of rows — one (day, bucket) of a
 * table — is summarised by its row count and the sum of its hashes modulo 2^64: independent of order,
 * and unlike XOR a row present twice does not cancel out. The bucket of a row is fnv1a32(key) mod 32,
 * the same function that places records in the `records` table, so a records bucket is a partition.
 */
import { hash } from 'node:crypto';
import { fnv1a32 } from '../../core/hash.js';

export const VERIFY_BUCKETS = 32;
const MASK_64 = (1n << 64n) - 1n;

/** One row as verification sees it: its identity within the table, its day, and its stored values. */
export interface Fingerprint {
  readonly key: string;
  readonly day: string;
  readonly text: string;
}

export function rowHash(text: string): bigint {
  return hash('md5', text, 'buffer').readBigUInt64BE(0);
}

export function bucketOf(key: string): number {
  return fnv1a32(key) % VERIFY_BUCKETS;
}

/** A key as printed in reports: the parts of a composite key joined by '/'. */
export function showKey(key: string): string {
  return key.replaceAll('\u0000', '/');
}

export function sortedEntries(map: Readonly<Record<string, string>>): [string, string][] {
  return Object.entries(map).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

export interface BucketSum {
  count: number;
  sum: bigint;
}

/** Count and hash sum per day and bucket. Memory: days × 32 small entries. */
export class DaySums {
  readonly days = new Map<string, BucketSum[]>();

  add(day: string, bucket: number, rowHashValue: bigint): void {
    let buckets = this.days.get(day);
    if (buckets === undefined) {
      buckets = Array.from({ length: VERIFY_BUCKETS }, () => ({ count: 0, sum: 0n }));
      this.days.set(day, buckets);
    }
    const entry = buckets[bucket];
    if (entry === undefined) return;
    entry.count += 1;
    entry.sum = (entry.sum + rowHashValue) & MASK_64;
  }

  addFingerprint(fp: Fingerprint): void {
    this.add(fp.day, bucketOf(fp.key), rowHash(fp.text));
  }

  merge(other: DaySums): void {
    for (const [day, buckets] of other.days) {
      buckets.forEach((entry, bucket) => {
        if (entry.count === 0) return;
        let mine = this.days.get(day);
        if (mine === undefined) {
          mine = Array.from({ length: VERIFY_BUCKETS }, () => ({ count: 0, sum: 0n }));
          this.days.set(day, mine);
        }
        const target = mine[bucket];
        if (target === undefined) return;
        target.count += entry.count;
        target.sum = (target.sum + entry.sum) & MASK_64;
      });
    }
  }

  count(day: string): number {
    return (this.days.get(day) ?? []).reduce((n, entry) => n + entry.count, 0);
  }

  /** The buckets of `day` whose count or sum differ from `other`'s. */
  differingBuckets(other: DaySums, day: string): number[] {
    const mine = this.days.get(day);
    const theirs = other.days.get(day);
    const out: number[] = [];
    for (let b = 0; b < VERIFY_BUCKETS; b += 1) {
      const x = mine?.[b] ?? { count: 0, sum: 0n };
      const y = theirs?.[b] ?? { count: 0, sum: 0n };
      if (x.count !== y.count || x.sum !== y.sum) out.push(b);
    }
    return out;
  }
}
