/**
 * Offset commits for a job whose effects are idempotent or deduplicated downstream: a partition's
 * offset is recorded once its effects are durable (`done`) and committed every `intervalMs`, and on
 * `flush`, instead of costing a request per batch. A crash replays at most what came after the last
 * commit. Offsets only move forward.
 */
import type { Consumer } from 'kafkajs';
import type { Logger } from '../logger.js';

export class LazyCommits {
  private readonly pending = new Map<number, bigint>();
  private readonly committed = new Map<number, bigint>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly consumer: Consumer,
    private readonly topic: string,
    private readonly intervalMs: number,
    private readonly logger: Logger,
  ) {}

  /** Everything of `partition` before `nextOffset` is durable. */
  done(partition: number, nextOffset: bigint): void {
    if (nextOffset > (this.pending.get(partition) ?? this.committed.get(partition) ?? -1n))
      this.pending.set(partition, nextOffset);
  }

  /** Forgets partitions this member no longer owns (after a rebalance). */
  retain(partitions: readonly number[]): void {
    const keep = new Set(partitions);
    for (const partition of [...this.pending.keys()])
      if (!keep.has(partition)) this.pending.delete(partition);
    for (const partition of [...this.committed.keys()])
      if (!keep.has(partition)) this.committed.delete(partition);
  }

  start(): void {
    this.timer = setInterval(() => {
      this.flush().catch((error: unknown) => {
        this.logger.info({ err: error }, 'offset commit failed; the next one covers it');
      });
    }, this.intervalMs);
    this.timer.unref();
  }

  /** Commits what is pending (one commit at a time). */
  flush(): Promise<void> {
    this.running = this.running
      .catch(() => undefined)
      .then(async () => {
        if (this.pending.size === 0) return;
        const offsets = [...this.pending];
        this.pending.clear();
        try {
          await this.consumer.commitOffsets(
            offsets.map(([partition, offset]) => ({
              topic: this.topic,
              partition,
              offset: offset.toString(),
            })),
          );
          for (const [partition, offset] of offsets) this.committed.set(partition, offset);
        } catch (error) {
          for (const [partition, offset] of offsets) this.done(partition, offset);
          throw error;
        }
      });
    return this.running;
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}
