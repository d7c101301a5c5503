/**
 * When a job is stuck outside its group: the group coordinator keeps refusing its commits as a
 * non-member's, and no checkpoint succeeds in between. A Kafka client that no longer rejoins its
 * group after the broker fenced itself (seen in CI for 10 minutes) is stuck like that, and a new
 * process is not, so past `stuckMs` the job exits for its supervisor to start it afresh.
 *
 * Only refused commits count: a checkpoint that failed because Cassandra or Kafka did not answer is
 * retried however long the outage lasts, as a new process would fail the same way and re-send what
 * followed the last checkpoint (a views job that restarted after two minutes of a frozen Cassandra
 * failed CI's outage test). Refusals further apart than `gapMs` (a rebalance long ago, with quiet
 * partitions since) are not one stuck stretch: the clock starts again.
 */

/**
 * What a group coordinator answers a consumer that is no longer a member of the group's current
 * generation, or that asks a broker no longer its coordinator. kafkajs rejoins only when such an
 * error reaches it from its own heartbeat or from eachBatch.
 */
const MEMBERSHIP_ERRORS = new Set([
  'UNKNOWN_MEMBER_ID',
  'ILLEGAL_GENERATION',
  'REBALANCE_IN_PROGRESS',
  'NOT_COORDINATOR_FOR_GROUP',
]);

/** The membership error in `error` or its causes, if any. */
export function membershipError(error: unknown): Error | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; depth += 1) {
    const { type } = e as { type?: unknown };
    if (typeof type === 'string' && MEMBERSHIP_ERRORS.has(type)) return e;
    e = e.cause ?? (e as { originalError?: unknown }).originalError;
  }
  return undefined;
}

export class RefusalClock {
  /** Since when commits have been refused, with no checkpoint succeeding since. */
  private since: number | undefined;
  private last: number | undefined;

  constructor(
    private readonly stuckMs: number,
    private readonly gapMs: number,
  ) {}

  /** A checkpoint committed: whatever was refused before is over. */
  succeeded(): void {
    this.since = undefined;
    this.last = undefined;
  }

  /**
   * A checkpoint failed with `error` at `nowMs`: how long commits have been refused without a break
   * (0 unless this is a refusal), and whether that is long enough to give up.
   */
  failed(error: unknown, nowMs: number): { refusedMs: number; stuck: boolean } {
    if (membershipError(error) === undefined) return { refusedMs: 0, stuck: false };
    const gap = this.last === undefined ? Number.POSITIVE_INFINITY : nowMs - this.last;
    if (this.since === undefined || gap > this.gapMs) this.since = nowMs;
    this.last = nowMs;
    const refusedMs = nowMs - this.since;
    return { refusedMs, stuck: refusedMs >= this.stuckMs };
  }
}
