/** Decides when a job's records keep failing: a use case in that state is paused, not left looping. */

export class FailureWindow {
  /** The last `size` outcomes, as a ring. */
  private readonly outcomes: Uint8Array;
  private next = 0;
  private count = 0;
  private failed = 0;
  private consecutive = 0;

  constructor(
    private readonly size = 200,
    private readonly maxFailureShare = 0.5,
    private readonly maxConsecutive = 50,
  ) {
    this.outcomes = new Uint8Array(size);
  }

  record(ok: boolean): void {
    if (this.count === this.size) this.failed -= this.outcomes[this.next] ?? 0;
    else this.count += 1;
    this.outcomes[this.next] = ok ? 0 : 1;
    if (!ok) this.failed += 1;
    this.next = (this.next + 1) % this.size;
    this.consecutive = ok ? 0 : this.consecutive + 1;
  }

  /** A reason to pause, or undefined while the job is healthy. */
  verdict(): string | undefined {
    if (this.consecutive >= this.maxConsecutive) return `${this.consecutive} records in a row failed`;
    if (this.count >= this.size && this.failed / this.count > this.maxFailureShare)
      return `${this.failed} of the last ${this.count} records failed`;
    return undefined;
  }
}
