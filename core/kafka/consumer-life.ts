/**
 * Two edges of a kafkajs consumer's life that a job must handle (onConsumerCrash, stopFetching).
 *
 * - kafkajs restarts a consumer that crashed on a retriable error, but on any other error (the group
 *   refusing the member, e.g. for an incompatible partition assigner; an authorization error) it
 *   stops it for good, and says so only by its CRASH event. Left alone, the job's process would sit
 *   "running" and consume nothing; ended, its supervisor restarts it with backoff.
 * - Between such a crash and the restart, or for good after one, the consumer has no group, and
 *   `pause` throws "Consumer group was not initialized". Nothing is fetched then: nothing to stop.
 */
import type { Consumer } from 'kafkajs';

/**
 * Calls `onCrash` when kafkajs crashes the consumer. By then it has left its group (it owns no
 * partition until it rejoins), and `restarting` says whether kafkajs will start it again.
 */
export function onConsumerCrash(
  consumer: Consumer,
  onCrash: (error: Error, restarting: boolean) => void,
): void {
  consumer.on(consumer.events.CRASH, (event) => {
    onCrash(event.payload.error, event.payload.restart);
  });
}

/** Stops the consumer fetching `topic`, for a graceful close; a consumer with no group fetches nothing. */
export function stopFetching(consumer: Consumer, topic: string): void {
  try {
    consumer.pause([{ topic }]);
  } catch (error) {
    if (error instanceof Error && /consumer group was not initialized/i.test(error.message)) return;
    throw error;
  }
}
