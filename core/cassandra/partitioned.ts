/**
 * Idempotent writes grouped by Cassandra partition: the statements of one partition go together in
 * unlogged single-partition batches (one mutation on the replica, one request instead of one per
 * row), and the batches run with bounded concurrency. Resolves when every write is acknowledged;
 * on the first failure the other workers stop taking batches and the error is thrown (the caller
 * retries the whole write, which is harmless because every statement is an idempotent upsert).
 */
import type { CassandraClient } from './client.js';

export interface PartitionedStatement {
  /** Any string that is equal for statements of the same Cassandra partition (same table + key). */
  readonly partition: string;
  readonly query: string;
  readonly params: unknown[];
}

export interface PartitionedWriteOptions {
  /** Requests in flight at once (default 16). */
  readonly concurrency?: number;
  /** Rows per single-partition batch (default 50, well under Cassandra's batch size warning). */
  readonly rowsPerBatch?: number;
}

export async function writeByPartition(
  client: CassandraClient,
  statements: readonly PartitionedStatement[],
  options: PartitionedWriteOptions = {},
): Promise<void> {
  if (statements.length === 0) return;
  const partitions = new Map<string, PartitionedStatement[]>();
  for (const statement of statements) {
    const list = partitions.get(statement.partition);
    if (list === undefined) partitions.set(statement.partition, [statement]);
    else list.push(statement);
  }
  const size = options.rowsPerBatch ?? 50;
  const batches: PartitionedStatement[][] = [];
  for (const list of partitions.values()) {
    for (let i = 0; i < list.length; i += size) batches.push(list.slice(i, i + size));
  }
  await runBounded(batches, options.concurrency ?? 16, async (batch) => {
    const only = batch.length === 1 ? batch[0] : undefined;
    if (only !== undefined) {
      await client.execute(only.query, only.params, { prepare: true, isIdempotent: true });
    } else {
      await client.batch(
        batch.map(({ query, params }) => ({ query, params })),
        { prepare: true, logged: false, isIdempotent: true },
      );
    }
  });
}

/** Runs `work` over the items with at most `concurrency` in flight; stops taking items after a failure. */
export async function runBounded<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (next < items.length && !failed) {
      const item = items[next] as T;
      next += 1;
      try {
        await work(item);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}
