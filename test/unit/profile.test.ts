/** The profile a use case reads: cached 60-day windows must equal a fresh sum over the records. */
import { describe, expect, it } from 'vitest';
import { addRecord, EMPTY_AGGREGATE, moments } from '../../core/aggregates.js';
import type { TributaryRecord } from '../../core/record.js';
import { addToProfile, NO_BATCH_PROFILES, PROFILE_DAYS, profileReader } from '../../speed/runtime/profile.js';
import { KeyedState, type Change } from '../../speed/runtime/state.js';

const DAY = 86_400_000;
const START = Date.UTC(2026, 0, 1);

/** A small deterministic PRNG (mulberry32), so a failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('profile windows', () => {
  // One test per seed, each with its own time budget (see vitest.config.ts).
  it.each([1, 2, 3])(
    'equal a brute-force sum over the 60 days before each record, with late records and restarts (seed %i)',
    (seed) => {
      const random = prng(seed);
      let state = new KeyedState();
      let seen: TributaryRecord[] = [];
      const changelog = new Map<string, Change>(); // the latest change of each key, as checkpoints keep it
      const categories = ['grocery', 'travel'];
      for (let i = 0; i < 3_000; i += 1) {
        // Ingest time moves forward ~1.5 h per record (≈ 125 days in all); 10 % of events are late.
        const ingest = START + i * 5_400_000;
        const lateDays = random() < 0.1 ? Math.floor(random() * 70) : 0;
        const record: TributaryRecord = {
          record_id: `r${i}`,
          customer_id: 'acme',
          event_time: new Date(ingest - lateDays * DAY - Math.floor(random() * 3_600_000)),
          account_id: 'a',
          amount_minor: BigInt(Math.floor(random() * 100_000) - 10_000),
          currency: 'EUR',
          category: categories[i % 2] ?? 'grocery',
          country: 'FR',
          merchant: null,
          attributes: {},
          channel: null,
        };
        state.advanceClock(ingest);
        // A record whose daily entry has expired stays invisible, since ingest time only moves on: drop
        // it from the brute-force side so that each step sums at most ~62 days of records.
        seen = seen.filter(
          (r) => (Math.floor(r.event_time.getTime() / DAY) + PROFILE_DAYS + 2) * DAY > ingest,
        );
        const reader = profileReader(state, NO_BATCH_PROFILES, record);
        const got = [reader.overall(), reader.category(record.category)];
        // Expected: the records of the window [day − 59, day] whose daily entries have not expired.
        const day = Math.floor(record.event_time.getTime() / DAY);
        const visible = (r: TributaryRecord): boolean => {
          const d = Math.floor(r.event_time.getTime() / DAY);
          return d > day - PROFILE_DAYS && d <= day && (d + PROFILE_DAYS + 2) * DAY > ingest;
        };
        const overall = seen.filter(visible).reduce((a, r) => addRecord(a, r), EMPTY_AGGREGATE);
        const category = seen
          .filter((r) => visible(r) && r.category === record.category)
          .reduce((a, r) => addRecord(a, r), EMPTY_AGGREGATE);
        expect(got).toEqual([moments(overall), moments(category)]);
        addToProfile(state, record);
        state.commitRecord();
        seen.push(record);
        if (i % 50 === 0) state.sweep();
        for (const change of state.takeChanges()) changelog.set(change[0], change);
        if (i % 500 === 499) {
          // A restart: the state comes back from its checkpoints, the caches start empty.
          const clock = state.clock;
          state = new KeyedState();
          for (const change of changelog.values()) state.apply(change);
          state.restoreClock(clock);
        }
      }
    },
  );
});
