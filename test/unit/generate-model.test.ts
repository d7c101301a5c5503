import { describe, expect, it } from 'vitest';
import { DEFAULT_GENERATE, generateStream } from '../../scripts/generate/index.js';

describe('generateStream', () => {
  it('puts no record after the end of its period, bursts included', () => {
    // The latest end `generate --end` takes: validation refuses event times from 2200 on.
    const endMs = Date.UTC(2200, 0, 1) - 1;
    const options = { ...DEFAULT_GENERATE, records: 2_000, days: 0.001, bursts: 0.5, endMs };
    const times = [...generateStream(options)].map((item) => item.record.event_time.getTime());
    expect(Math.max(...times)).toBeLessThanOrEqual(endMs);
    // Bursts that began in the period's last 42 s reached its end: the bound was put to the test.
    expect(times.filter((t) => t === endMs).length).toBeGreaterThan(0);
  });
});
