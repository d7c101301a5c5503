/**
 * Offsets of fetched batches that hold only transaction markers (every upstream transaction leaves
 * one). Such a batch never reaches the job; the next real batch's transaction commits past it, so
 * committing each one would cost a request per upstream transaction for nothing. Only when a
 * partition stays quiet for a moment (the end of a burst) is the marker's offset committed on its
 * own, so that the group's lag reads 0. Never while a batch of that partition is in flight, and
 * never behind what a transaction already committed: offsets only move forward.
 */
export class MarkerCommits {
  private readonly pending = new Map<number, { offset: bigint; timer: NodeJS.Timeout }>();
  private readonly busy = new Set<number>();
  private readonly committedThrough = new Map<number, bigint>();

  constructor(
    private readonly commit: (partition: number, offset: bigint) => Promise<void>,
    private readonly quietMs = 500,
  ) {}

  /** A marker-only batch was fetched: its next offset is `offset`. */
  schedule(partition: number, offset: bigint): void {
    const existing = this.pending.get(partition);
    if (existing !== undefined) {
      if (offset > existing.offset) this.pending.set(partition, { ...existing, offset });
      return;
    }
    const timer = setTimeout(() => {
      this.fire(partition);
    }, this.quietMs);
    timer.unref();
    this.pending.set(partition, { offset, timer });
  }

  /** A batch of this partition is being processed. */
  begin(partition: number): void {
    this.busy.add(partition);
  }

  /** The batch ended; `offset` is what its transaction committed (undefined if it did not commit). */
  end(partition: number, offset: bigint | undefined): void {
    this.busy.delete(partition);
    if (offset === undefined) return;
    if (offset > (this.committedThrough.get(partition) ?? -1n)) this.committedThrough.set(partition, offset);
    const pending = this.pending.get(partition);
    if (pending !== undefined && pending.offset <= offset) {
      clearTimeout(pending.timer);
      this.pending.delete(partition);
    }
  }

  private fire(partition: number): void {
    const pending = this.pending.get(partition);
    this.pending.delete(partition);
    if (pending === undefined) return;
    if (this.busy.has(partition)) {
      this.schedule(partition, pending.offset); // try again once the batch is done
      return;
    }
    if (pending.offset <= (this.committedThrough.get(partition) ?? -1n)) return;
    this.committedThrough.set(partition, pending.offset);
    // Best effort: if it fails, a later batch commits past the marker anyway.
    this.commit(partition, pending.offset).catch(() => undefined);
  }

  close(): void {
    for (const { timer } of this.pending.values()) clearTimeout(timer);
    this.pending.clear();
  }
}
