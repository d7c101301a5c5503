/**
 * The smallest fetch a job off the way to feedback (master dataset, views) asks the broker for: it
 * waits for this much, or for SPEED_BULK_FETCH_WAIT_MS, so that at moderate rates it writes fewer,
 * larger batches to Cassandra. One partition's fetch is capped at 1 MiB, so a backlog is unaffected.
 */
export const BULK_FETCH_MIN_BYTES = 1024 * 1024;
