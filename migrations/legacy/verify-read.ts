/**
 * Reading one day of a Cassandra table for verification: each partition paged (`fetchSize`, async
 * iteration, so memory is one page), a bounded number of partitions at once, a failed partition read
 * retried from its start (its partial sums are discarded, never merged twice).
 */
import type { CassandraClient } from '../../core/cassandra/index.js';
import type { Logger } from '../../core/logger.js';
import { retry } from '../../core/retry.js';
import { isTransientCassandraError } from './failures.js';
import { DaySums, bucketOf, rowHash, type Fingerprint } from './fingerprint.js';
import { forEachBounded } from './pacing.js';
import { localDate, type Target } from './targets.js';

export interface ReadOptions {
  readonly client: CassandraClient;
  readonly logger: Logger;
  /** Partitions read at once. */
  readonly parallelism: number;
  readonly fetchSize: number;
}

async function readPartition<Item>(
  options: ReadOptions,
  target: Target<Item>,
  day: string,
  partition: string,
  visit: (fp: Fingerprint) => void,
): Promise<void> {
  const result = await options.client.execute(target.query, target.params(localDate(day), partition), {
    prepare: true,
    fetchSize: options.fetchSize,
    isIdempotent: true,
  });
  for await (const row of result) {
    const fp = target.actual(row, day);
    if (fp !== null) visit(fp);
  }
}

function withRetry(options: ReadOptions, what: string, read: () => Promise<void>): Promise<void> {
  return retry(read, {
    attempts: 8,
    maxDelayMs: 10_000,
    retriable: isTransientCassandraError,
    onRetry: (error, attempt) => {
      options.logger.warn({ err: error, attempt, what }, 'Cassandra read failed; retrying');
    },
  });
}

/** Count and hash sum per bucket of the given partitions of a day. */
export async function sumDay<Item>(
  options: ReadOptions,
  target: Target<Item>,
  day: string,
  partitions: readonly string[],
  into: DaySums,
): Promise<void> {
  await forEachBounded(partitions, options.parallelism, async (partition) => {
    let local = new DaySums();
    await withRetry(options, `${target.name} ${day} ${partition}`, async () => {
      local = new DaySums();
      await readPartition(options, target, day, partition, (fp) => {
        local.addFingerprint(fp);
      });
    });
    into.merge(local);
  });
}

/** Key → hash of the stored rows of a day whose bucket is in `buckets` (for a mismatch's diff). */
export async function collectDay<Item>(
  options: ReadOptions,
  target: Target<Item>,
  day: string,
  partitions: readonly string[],
  buckets: ReadonlySet<number>,
  limit: number,
): Promise<{ rows: Map<string, bigint>; truncated: boolean }> {
  const rows = new Map<string, bigint>();
  let truncated = false;
  await forEachBounded(partitions, options.parallelism, async (partition) => {
    let local = new Map<string, bigint>();
    await withRetry(options, `${target.name} ${day} ${partition}`, async () => {
      local = new Map();
      await readPartition(options, target, day, partition, (fp) => {
        if (!buckets.has(bucketOf(fp.key))) return;
        if (rows.size + local.size >= limit) truncated = true;
        else local.set(fp.key, rowHash(fp.text));
      });
    });
    for (const [key, value] of local) rows.set(key, value);
  });
  return { rows, truncated };
}
