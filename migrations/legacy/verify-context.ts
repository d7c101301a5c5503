/** What every verification step needs, and the helpers shared by verify.ts and verify-diff.ts. */
import type { CassandraClient } from '../../core/cassandra/index.js';
import type { Logger } from '../../core/logger.js';
import { recordTtlSeconds } from '../../ingest/master/index.js';
import type { LegacyTable } from './tables.js';
import { bucketPartitions, type Target } from './targets.js';
import type { ReadOptions } from './verify-read.js';

/** A day is compared only if its earliest possible row stays in Cassandra at least this long. */
const VERIFY_MARGIN_SECONDS = 86_400;

export interface VerifyContext {
  readonly cassandra: CassandraClient;
  readonly logger: Logger;
  readonly retentionDays: number;
  readonly pageSize: number;
  readonly signal: AbortSignal;
  /** Legacy keys of the rows Cassandra refused during the run, per table. */
  readonly refusedKeys: (table: LegacyTable) => Promise<ReadonlySet<string>>;
  readonly onProgress?: (table: LegacyTable, rows: number) => void;
  readonly now?: number;
}

/**
 * Pages of 450 rows: the master dataset writer stores a null merchant or channel as a tombstone cell,
 * about one per row (two for a row written twice, until compaction), and Cassandra warns about
 * every page holding more than 1,000 of them.
 */
export function readOptions(context: VerifyContext): ReadOptions {
  return { client: context.cassandra, logger: context.logger, parallelism: 8, fetchSize: 450 };
}

/** Whether a day's rows are all still within Cassandra's TTL for a day to come. */
export function dayFilter(retentionDays: number, now: number): (day: string) => boolean {
  const cache = new Map<string, boolean>();
  return (day) => {
    let keep = cache.get(day);
    if (keep === undefined) {
      const ttl = recordTtlSeconds(new Date(`${day}T00:00:00Z`), retentionDays, now);
      keep = ttl > VERIFY_MARGIN_SECONDS;
      cache.set(day, keep);
    }
    return keep;
  };
}

export function partitionsOf<Item>(target: Target<Item>, seen: ReadonlySet<string> | undefined): string[] {
  return target.partitionOf === null ? bucketPartitions() : [...(seen ?? [])].sort();
}
