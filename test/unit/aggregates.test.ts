/** The aggregate definition: a property test that any split merged equals a full recompute. */
import { describe, expect, it } from 'vitest';
import {
  addRecord,
  EMPTY_AGGREGATE,
  mergeAggregates,
  moments,
  aggregateFromJson,
  aggregateToJson,
  type Aggregate,
} from '../../core/aggregates.js';
import { Random } from '../../scripts/generate/random.js';

function fold(records: { amount_minor: bigint; event_time: Date }[]): Aggregate {
  return records.reduce(addRecord, EMPTY_AGGREGATE);
}

describe('aggregates', () => {
  it('batch ⊕ realtime equals a full recompute for any split point (property, 200 cases)', () => {
    const random = new Random(7);
    for (let run = 0; run < 200; run += 1) {
      const n = random.int(50);
      const records = Array.from({ length: n }, () => ({
        amount_minor:
          BigInt(Math.round(random.normal() * 10_000)) * (random.chance(0.05) ? 999_999_999_999n : 1n),
        event_time: new Date(1_700_000_000_000 + random.int(1e9)),
      }));
      const cut = random.int(n + 1);
      const split = mergeAggregates(fold(records.slice(0, cut)), fold(records.slice(cut)));
      expect(split).toEqual(fold(records));
      expect(mergeAggregates(fold(records.slice(cut)), fold(records.slice(0, cut)))).toEqual(fold(records));
    }
  });

  it('computes mean and standard deviation exactly for huge amounts', () => {
    const big = 900_000_000_000_000_000n;
    const a = fold([big, big + 2n].map((amount_minor) => ({ amount_minor, event_time: new Date(0) })));
    expect(a.sumsq).toBe(big * big + (big + 2n) * (big + 2n));
    expect(moments(a).sd).toBe(1);
    expect(moments(fold([{ amount_minor: 10n, event_time: new Date(0) }])).sd).toBe(0);
  });

  it('round-trips through JSON', () => {
    const a = fold([
      { amount_minor: -5n, event_time: new Date(3) },
      { amount_minor: 7n, event_time: new Date(1) },
    ]);
    expect(
      aggregateFromJson(JSON.parse(JSON.stringify(aggregateToJson(a))) as ReturnType<typeof aggregateToJson>),
    ).toEqual(a);
    expect(a).toMatchObject({ count: 2, sum: 2n, min: -5n, max: 7n, first: 1, last: 3 });
  });
});
