/**
 * Paces a consumer's fetches: the next fetch starts no sooner than `minIntervalMs` after the last one
 * started. At a trickle a fetch still returns as soon as a record arrives (the wait is already
 * over), so a lone record is not held back; under a steady flow the job wakes at most 1000 /
 * minIntervalMs times a second and takes what arrived meanwhile — on these machines a kafkajs fetch
 * costs ~1.5 ms of CPU, so cycling at the rate records trickle in cost more than the records. A
 * backlog is not slowed: a cycle that took longer than the interval waits for nothing.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Consumer } from 'kafkajs';

export class FetchPacer {
  private startedAt = Number.NEGATIVE_INFINITY;
  private waiting: { until: number; done: Promise<void> } | undefined;

  constructor(
    consumer: Consumer,
    private readonly minIntervalMs: number,
  ) {
    consumer.on(consumer.events.FETCH_START, () => {
      this.startedAt = performance.now();
    });
  }

  /** Resolves when the next fetch may start (every batch of a fetch shares one wait). */
  wait(): Promise<void> {
    const until = this.startedAt + this.minIntervalMs;
    const left = until - performance.now();
    if (left <= 0) return Promise.resolve();
    if (this.waiting?.until !== until) this.waiting = { until, done: delay(left) };
    return this.waiting.done;
  }
}
