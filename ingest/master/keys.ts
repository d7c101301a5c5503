/** How a record is placed in the master dataset: its UTC day, its bucket, its time to live. */
import { fnv1a32 } from '../../core/hash.js';

/** Buckets per day of the `records` table (see migrations/cassandra/0001_master_dataset.cql). */
export const RECORD_BUCKETS = 32;

const DAY_MS = 86_400_000;
/** Cassandra refuses TTLs above 20 years… */
const MAX_TTL_SECONDS = 630_720_000;
/**
 * …and, in its default storage compatibility mode (5.0 with 4.x-readable SSTables), any expiry after
 * 2038-01-19T03:14:06Z: a local deletion time is a 32-bit second count there.
 */
const MAX_EXPIRY_MS = Date.UTC(2038, 0, 19, 3, 14, 6);
/** A record older than the window is still stored (the batch layer ignores it) for at least an hour. */
const MIN_TTL_SECONDS = 3_600;
/** Kept this long past the retention window, so a nightly run at the edge still sees it. */
const GRACE_DAYS = 2;

export function recordBucket(customerId: string, recordId: string): number {
  return fnv1a32(`${customerId}\u0000${recordId}`) % RECORD_BUCKETS;
}

const dayNames = new Map<number, string>();

/** The UTC day of an instant as YYYY-MM-DD (day names are cached: records come from few days). */
export function utcDay(time: Date): string {
  const day = Math.floor(time.getTime() / DAY_MS);
  let name = dayNames.get(day);
  if (name === undefined) {
    name = new Date(day * DAY_MS).toISOString().slice(0, 10);
    if (dayNames.size >= 100_000) dayNames.clear();
    dayNames.set(day, name);
  }
  return name;
}

/** Seconds until the record leaves the retention window (plus grace), measured from `now`. */
export function recordTtlSeconds(eventTime: Date, retentionDays: number, now: number = Date.now()): number {
  const expiresAt = eventTime.getTime() + (retentionDays + GRACE_DAYS) * DAY_MS;
  const seconds = Math.ceil((Math.min(expiresAt, MAX_EXPIRY_MS) - now) / 1000);
  return Math.min(MAX_TTL_SECONDS, Math.max(MIN_TTL_SECONDS, seconds));
}

/** The days from `from` to `to` inclusive, as YYYY-MM-DD. */
export function daysBetween(from: string, to: string): string[] {
  const days: string[] = [];
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += DAY_MS) {
    days.push(new Date(t).toISOString().slice(0, 10));
  }
  return days;
}
