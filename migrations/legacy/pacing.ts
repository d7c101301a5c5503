/** Bounded concurrency over a list, and a pacer that holds a run to at most N rows per second. */
import { setTimeout as delay } from 'node:timers/promises';

/**
 * Calls `work` for every item with at most `limit` calls in flight. On the first failure no new item
 * starts; the calls in flight finish, then the failure is thrown.
 */
export async function forEachBounded<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const item = items[next] as T;
      next += 1;
      try {
        await work(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure !== undefined) throw failure.error;
}

/** Spreads work so that `rowsPerSecond` is never exceeded on average since the start. */
export class Pacer {
  private readonly startedAt = performance.now();
  private taken = 0;

  constructor(private readonly rowsPerSecond: number | undefined) {}

  async take(rows: number, signal?: AbortSignal): Promise<void> {
    this.taken += rows;
    if (this.rowsPerSecond === undefined || this.rowsPerSecond <= 0) return;
    const due = this.startedAt + (this.taken * 1000) / this.rowsPerSecond;
    const wait = due - performance.now();
    if (wait > 0) {
      await delay(wait, undefined, signal === undefined ? undefined : { signal }).catch(() => undefined);
    }
  }
}
