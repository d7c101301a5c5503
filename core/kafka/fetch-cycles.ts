/**
 * One produce per fetch instead of one per partition: each batch of a fetch `enter`s when it starts,
 * and either `contribute`s its outputs or `leave`s. When every batch that entered has done one or the
 * other (checked after the microtask queue drains, so all the batches of one fetch have entered by
 * then), ONE flush sends all their outputs; each contributor's promise settles with it. Flushes, and
 * work run with `exclusive`, never overlap, so a job can checkpoint between two flushes knowing that
 * every output of what it handled so far was acknowledged.
 */
export interface Contribution<T> {
  readonly partition: number;
  readonly detail: T;
}

interface Pending<T> {
  readonly contribution: Contribution<T>;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export class FetchCycles<T> {
  private active = 0;
  private pending: Pending<T>[] = [];
  private chain: Promise<void> = Promise.resolve();
  private scheduled = false;
  private readonly inProgress = new Map<number, number>();

  /**
   * `settled` runs right after a flush's contributors are released: every batch of that fetch is
   * done and the next fetch has not started, the one moment a busy job is sure to be idle.
   */
  constructor(
    private readonly flush: (contributions: readonly Contribution<T>[]) => Promise<void>,
    private readonly settled: () => void = () => undefined,
  ) {}

  /** A batch of this partition started; it must later `contribute` or `leave`. */
  enter(partition: number): void {
    this.active += 1;
    this.inProgress.set(partition, (this.inProgress.get(partition) ?? 0) + 1);
  }

  /** The batch ends without contributing (it failed). */
  leave(partition: number): void {
    this.active -= 1;
    this.release(partition);
    this.check();
  }

  /** Hands the batch's outputs over; resolves once the flush that carried them succeeded. */
  contribute(contribution: Contribution<T>): Promise<void> {
    this.active -= 1;
    return new Promise<void>((resolve, reject) => {
      this.pending.push({
        contribution,
        resolve: () => {
          this.release(contribution.partition);
          resolve();
        },
        reject: (error) => {
          this.release(contribution.partition);
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      });
      this.check();
    });
  }

  /** True from a batch's `enter` until it left or the flush carrying it settled. */
  busy(partition: number): boolean {
    return (this.inProgress.get(partition) ?? 0) > 0;
  }

  /** Runs `work` after every flush started so far, and before any later one. */
  exclusive(work: () => Promise<void>): Promise<void> {
    const run = this.chain.then(work);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private release(partition: number): void {
    const left = (this.inProgress.get(partition) ?? 1) - 1;
    if (left <= 0) this.inProgress.delete(partition);
    else this.inProgress.set(partition, left);
  }

  private check(): void {
    if (this.scheduled || this.active > 0 || this.pending.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.active > 0 || this.pending.length === 0) return;
      const batch = this.pending;
      this.pending = [];
      this.exclusive(() => this.flush(batch.map((p) => p.contribution))).then(
        () => {
          for (const p of batch) p.resolve();
          this.settled();
        },
        (error: unknown) => {
          for (const p of batch) p.reject(error);
        },
      );
    });
  }

  /** Rejects what still waits for a flush (call once the consumer stopped). */
  close(): void {
    for (const p of this.pending.splice(0)) p.reject(new Error('closing: the batch was not sent'));
  }
}
