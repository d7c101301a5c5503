/** Decides when a job's records keep failing: a use case in that state is paused, not left looping. */

export class FailureWindow {
  private readonly outcomes: boolean[] = [];
  private consecutive = 0;

  constructor(
    private readonly size = 200,
    private readonly maxFailureShare = 0.5,
    private readonly maxConsecutive = 50,
  ) {}

  record(ok: boolean): void {
    this.outcomes.push(ok);
    if (this.outcomes.length > this.size) this.outcomes.shift();
    this.consecutive = ok ? 0 : this.consecutive + 1;
  }

  /** A reason to pause, or undefined while the job is healthy. */
  verdict(): string | undefined {
    if (this.consecutive >= this.maxConsecutive) return `${this.consecutive} records in a row failed`;
    if (this.outcomes.length >= this.size) {
      const failed = this.outcomes.filter((ok) => !ok).length;
      if (failed / this.outcomes.length > this.maxFailureShare) {
        return `${failed} of the last ${this.outcomes.length} records failed`;
      }
    }
    return undefined;
  }
}
