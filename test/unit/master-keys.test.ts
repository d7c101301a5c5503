import { describe, expect, it } from 'vitest';
import { fnv1a32 } from '../../core/hash.js';
import {
  daysBetween,
  recordBucket,
  recordTtlSeconds,
  RECORD_BUCKETS,
  utcDay,
} from '../../ingest/master/index.js';

describe('master dataset keys', () => {
  it('places a record by its UTC day and a stable bucket', () => {
    expect(utcDay(new Date('2026-03-29T23:59:59.999-02:00'))).toBe('2026-03-30');
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(recordBucket('acme', 'r1')).toBe(recordBucket('acme', 'r1'));
    const buckets = new Set(Array.from({ length: 2_000 }, (_, i) => recordBucket('acme', `r${i}`)));
    expect(buckets.size).toBe(RECORD_BUCKETS);
    expect(daysBetween('2026-02-27', '2026-03-02')).toEqual([
      '2026-02-27',
      '2026-02-28',
      '2026-03-01',
      '2026-03-02',
    ]);
  });

  it('keeps a record for the retention window plus grace, at least an hour, never past 2038-01-19', () => {
    const now = Date.UTC(2026, 10, 24);
    expect(recordTtlSeconds(new Date(now), 60, now)).toBe(62 * 86_400);
    expect(recordTtlSeconds(new Date(now - 90 * 86_400_000), 60, now)).toBe(3_600);
    const far = recordTtlSeconds(new Date(Date.UTC(2150, 0, 1)), 60, now);
    expect(now + far * 1000).toBeLessThanOrEqual(Date.UTC(2038, 0, 19, 3, 14, 7));
  });
});
