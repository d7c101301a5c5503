/**
 * velocity: a finding when one account has more than N records (customer setting
 * `velocity_max_records`, default 10) in any 60-second window of event time. Records may arrive out
 * of event-time order: for each record, the busiest 60-second window containing it is found, and a
 * finding is raised when that record makes it exceed N (so one burst gives one finding, naming the
 * records of the window). An account's events are kept for 10 minutes of ingest time. A re-sent
 * record (marked by validation, or a record_id the account's window already holds) is not counted
 * again: it is one record, and the master dataset stores it once.
 */
import { numberSetting, type UseCase } from './contract.js';

const WINDOW_MS = 60_000;
const KEEP_MS = 10 * 60_000;

type Event = [number, string];

/** The events of the fullest window [s, s + 60 s) that contains `time`. */
function busiestWindow(sorted: readonly Event[], time: number): Event[] {
  let best: Event[] = [];
  for (const [start] of sorted) {
    if (start > time || start <= time - WINDOW_MS) continue;
    const window = sorted.filter(([t]) => t >= start && t < start + WINDOW_MS);
    if (window.length > best.length) best = window;
  }
  return best;
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
    const events: Event[] = isEvents(stored) ? [...stored] : [];
    if (events.some(([, id]) => id === record.record_id)) return [];
    const time = record.event_time.getTime();
    events.push([time, record.record_id]);
    events.sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : 1));
    const newest = events[events.length - 1]?.[0] ?? time;
    const kept = events.filter(([t]) => t > newest - 2 * WINDOW_MS);
    state.set(key, kept, ingestTimeMs + KEEP_MS);
    const after = busiestWindow(kept, time);
    const before = busiestWindow(
      kept.filter(([t, id]) => !(t === time && id === record.record_id)),
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
