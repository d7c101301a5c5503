/**
 * velocity: a finding when one account has more than N records (customer setting
 * `velocity_max_records`, default 10) in any 60-second window of event time. Records may arrive out
 * of event-time order: for each record, the busiest 60-second window containing it is found, and a
 * finding is raised when that record makes it exceed N (so one burst gives one finding, naming the
 * records of the window). A re-sent record (marked by validation, or a record_id the account's
 * window already holds) is not counted again: it is one record, and the master dataset stores it once.
 *
 * What an account keeps: its events within 2 minutes of its newest event time, and the records that
 * were older than that when they arrived, for 2 minutes of ingest time after they arrived. So a late
 * burst (records that arrive together long after the account's newer ones, e.g. from a device that
 * was offline) is flagged like a live one, and a stream in event-time order (a live feed or a
 * backfill) keeps only its last 2 minutes. Late events are bounded per account (the newest-arrived
 * max(64, 4 × N)), and the account's state expires after 10 minutes of ingest time without a
 * record. A late record is not matched with in-order events that left the state before it arrived.
 */
import { numberSetting, type UseCase } from './contract.js';

const WINDOW_MS = 60_000;
/** Events this close (in event time) to the account's newest are kept. */
const RECENT_MS = 2 * WINDOW_MS;
/** Any event is kept this long in ingest time after it arrived. */
const ARRIVAL_KEEP_MS = 2 * 60_000;
const KEEP_MS = 10 * 60_000;

/** [event time, record id], and the ingest time of an event that was late when it arrived. */
type Event = [number, string] | [number, string, number];

function byTime(a: Event, b: Event): number {
  return a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0);
}

/** `sorted` with `event` inserted in event-time order (usually at the end: records mostly arrive in order). */
function inserted(sorted: readonly Event[], event: Event): Event[] {
  let at = sorted.length;
  while (at > 0 && byTime(sorted[at - 1] as Event, event) > 0) at -= 1;
  return [...sorted.slice(0, at), event, ...sorted.slice(at)];
}

/** The events of the fullest window [s, s + 60 s) that contains `time`; `sorted` by event time. */
function busiestWindow(sorted: readonly Event[], time: number): readonly Event[] {
  let best: [number, number] = [0, 0];
  let end = 0;
  for (let start = 0; start < sorted.length; start += 1) {
    const s = sorted[start]?.[0] ?? 0;
    if (s > time) break;
    if (s <= time - WINDOW_MS) continue;
    end = Math.max(end, start);
    while (end < sorted.length && (sorted[end]?.[0] ?? 0) < s + WINDOW_MS) end += 1;
    if (end - start > best[1] - best[0]) best = [start, end];
  }
  return sorted.slice(best[0], best[1]);
}

/**
 * What the account keeps once `current` is in: its recent events, and the late ones still within
 * their arrival time, the newest-arrived `maxLate` of them (`current` always kept).
 */
function keep(sorted: readonly Event[], current: Event, ingestTimeMs: number, maxLate: number): Event[] {
  const recentFrom = (sorted[sorted.length - 1]?.[0] ?? current[0]) - RECENT_MS;
  const arrivedFrom = ingestTimeMs - ARRIVAL_KEEP_MS;
  const late: Event[] = [];
  const kept = sorted.filter((e) => {
    if (e[0] > recentFrom) return true;
    if (e.length !== 3 || e[2] <= arrivedFrom) return false;
    late.push(e);
    return true;
  });
  if (late.length <= maxLate) return kept;
  const arrival = (e: Event): number => (e.length === 3 ? e[2] : 0);
  const dropped = new Set(
    late
      .filter((e) => e !== current)
      .sort((a, b) => arrival(b) - arrival(a) || byTime(b, a))
      .slice(late.includes(current) ? maxLate - 1 : maxLate),
  );
  return kept.filter((e) => !dropped.has(e));
}

function isEvents(value: unknown): value is Event[] {
  return Array.isArray(value);
}

export const velocity: UseCase = {
  name: 'velocity',
  description:
    'more than N records of one account within 60 s of event time (N: velocity_max_records, default 10)',
  variants: [''],
  needsProfile: false,
  process(record, { state, settings, ingestTimeMs, duplicate }) {
    if (duplicate) return [];
    const limit = numberSetting(settings, 'velocity_max_records', 10);
    const key = `acct|${record.customer_id}|${record.account_id}`;
    const stored = state.get(key);
    const events: readonly Event[] = isEvents(stored) ? stored : [];
    if (events.some(([, id]) => id === record.record_id)) return [];
    const time = record.event_time.getTime();
    const late = time <= (events[events.length - 1]?.[0] ?? time) - RECENT_MS;
    const current: Event = late ? [time, record.record_id, ingestTimeMs] : [time, record.record_id];
    const kept = keep(inserted(events, current), current, ingestTimeMs, Math.max(64, 4 * limit));
    state.set(key, kept, ingestTimeMs + KEEP_MS);
    const after = busiestWindow(kept, time);
    const before = busiestWindow(
      kept.filter((e) => e !== current),
      time,
    );
    if (after.length <= limit || before.length > limit) return [];
    const inWindow = after;
    return [
      {
        code: 'VELOCITY',
        recordIds: inWindow.map(([, id]) => id),
        detail: {
          account_id: record.account_id,
          records: String(inWindow.length),
          window_seconds: '60',
          limit: String(limit),
        },
      },
    ];
  },
};
