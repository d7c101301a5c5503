/** The use cases' logic, record by record, with the runtime's state and profile (no servers). */
import { describe, expect, it } from 'vitest';
import type { TributaryRecord } from '../../core/record.js';
import { addToProfile, NO_BATCH_PROFILES, profileReader } from '../../speed/runtime/profile.js';
import { KeyedState } from '../../speed/runtime/state.js';
import { amountAnomaly } from '../../speed/usecases/amount-anomaly.js';
import type { FindingDraft, UseCase } from '../../speed/usecases/contract.js';
import { dataQuality } from '../../speed/usecases/data-quality.js';
import { velocity } from '../../speed/usecases/velocity.js';

const T0 = Date.UTC(2026, 10, 20, 12, 0, 0);

function rec(i: number, over: Partial<TributaryRecord> = {}): TributaryRecord {
  return {
    record_id: `r${i}`,
    customer_id: 'acme',
    event_time: new Date(T0 + i * 1_000),
    account_id: 'acc-1',
    amount_minor: 1_000n,
    currency: 'EUR',
    category: 'grocery',
    country: 'FR',
    merchant: 'Nordwind',
    attributes: {},
    channel: null,
    ...over,
  };
}

/** Runs records through a use case the way the runtime does (state staging, profile after). */
function run(
  useCase: UseCase,
  records: TributaryRecord[],
  options: {
    variant?: string;
    settings?: Record<string, unknown>;
    ingestMs?: (r: TributaryRecord) => number;
    state?: KeyedState;
  } = {},
): FindingDraft[][] {
  const state = options.state ?? new KeyedState();
  const seen = new Set<string>(); // what validation's first-seen index marks
  return records.map((record) => {
    const ingest = options.ingestMs?.(record) ?? record.event_time.getTime() + 1_000;
    state.advanceClock(ingest);
    const key = `${record.customer_id}|${record.record_id}`;
    const duplicate = seen.has(key);
    seen.add(key);
    const out = useCase.process(record, {
      duplicate,
      variant: options.variant ?? '',
      state,
      settings: options.settings ?? {},
      profile: profileReader(state, NO_BATCH_PROFILES, record),
      ingestTimeMs: ingest,
    });
    if (useCase.needsProfile && !duplicate) addToProfile(state, record);
    state.commitRecord();
    return [...out];
  });
}

const codes = (findings: FindingDraft[]): string[] => findings.map((f) => f.code).sort();

describe('data-quality', () => {
  it('reports each problem of a record with its own code', () => {
    const [clean, bad] = run(
      dataQuality,
      [rec(1), rec(2, { currency: 'ZZZ', country: 'XX', amount_minor: 0n, merchant: null })],
      {
        settings: { merchant_required: true },
      },
    );
    expect(clean).toEqual([]);
    expect(codes(bad ?? [])).toEqual([
      'MISSING_MERCHANT',
      'UNKNOWN_COUNTRY',
      'UNKNOWN_CURRENCY',
      'ZERO_AMOUNT',
    ]);
  });

  it('reports absurd amounts, future and stale event times against the ingest time', () => {
    const ingest = T0;
    const [absurd, future, stale, fine] = run(
      dataQuality,
      [
        rec(1, { amount_minor: 5_000_000_000n }),
        rec(2, { event_time: new Date(T0 + 6 * 60_000) }),
        rec(3, { event_time: new Date(T0 - 61 * 86_400_000) }),
        rec(4, { event_time: new Date(T0 + 4 * 60_000) }),
      ],
      { ingestMs: () => ingest },
    );
    expect(codes(absurd ?? [])).toEqual(['ABSURD_AMOUNT']);
    expect(codes(future ?? [])).toEqual(['FUTURE_EVENT']);
    expect(codes(stale ?? [])).toEqual(['STALE_EVENT']);
    expect(fine).toEqual([]);
  });

  it('reports a record_id already seen for that customer, not for another customer', () => {
    const results = run(dataQuality, [rec(1), rec(1), rec(1, { customer_id: 'other' })]);
    expect(results.map(codes)).toEqual([[], ['DUPLICATE_RECORD'], []]);
  });
});

describe('amount-anomaly', () => {
  const history = Array.from({ length: 40 }, (_, i) =>
    rec(i, { amount_minor: BigInt(1_000 + (i % 5) * 10), category: i % 2 === 0 ? 'grocery' : 'fuel' }),
  );

  it('A: |z| > 4 against the customer profile, only once it holds 30 records', () => {
    const early = run(amountAnomaly, [...history.slice(0, 20), rec(100, { amount_minor: 90_000n })], {
      variant: 'A',
    });
    expect(early.flat()).toEqual([]);
    const results = run(
      amountAnomaly,
      [...history, rec(100, { amount_minor: 90_000n }), rec(101, { amount_minor: 1_010n })],
      { variant: 'A' },
    );
    expect(results.slice(0, 40).flat()).toEqual([]);
    expect(results[40]?.[0]).toMatchObject({ code: 'AMOUNT_ANOMALY', recordIds: ['r100'] });
    expect(Number(results[40]?.[0]?.detail?.z)).toBeGreaterThan(4);
    expect(results[41]).toEqual([]);
  });

  it('A: judges |z| > 4 on both sides of the mean, and honours the anomaly_z setting', () => {
    // The history: mean 1,020, sd ~14.1-14.3 (amounts 1,000-1,040).
    const last = (amount: bigint, settings: Record<string, unknown> = {}): unknown[] =>
      run(amountAnomaly, [...history, rec(100, { amount_minor: amount })], { variant: 'A', settings }).at(
        -1,
      ) ?? [];
    expect(last(1_070n)).toEqual([]); // z ~ 3.5
    expect(last(1_091n)).toMatchObject([{ code: 'AMOUNT_ANOMALY' }]); // z ~ 5
    const low = last(949n); // z ~ -5
    expect(low).toMatchObject([{ code: 'AMOUNT_ANOMALY', recordIds: ['r100'] }]);
    expect(Number((low[0] as { detail: { z: string } }).detail.z)).toBeLessThan(-4);
    expect(last(1_091n, { anomaly_z: 6 })).toEqual([]);
    expect(last(1_070n, { anomaly_z: 3 })).toMatchObject([{ code: 'AMOUNT_ANOMALY' }]);
  });

  it('does not count re-sent records in the profile, and does not judge them again', () => {
    // 29 records and 5 re-sends of them: the profile holds 29, short of 30, so the outlier passes.
    const resent = [...history.slice(0, 29), ...history.slice(0, 5)];
    const outlier = rec(100, { amount_minor: 90_000n });
    expect(run(amountAnomaly, [...resent, outlier], { variant: 'A' }).flat()).toEqual([]);
    // With one more distinct record it is judged; a re-send of the outlier is not judged twice.
    const results = run(amountAnomaly, [...resent, history[29] ?? rec(29), outlier, outlier], {
      variant: 'A',
    });
    expect(results[35]?.[0]).toMatchObject({ code: 'AMOUNT_ANOMALY', recordIds: ['r100'] });
    expect(results[36]).toEqual([]);
  });

  it('B: compares with the record’s category, and needs 30 records of that category', () => {
    // 20 grocery + 20 fuel: no category reaches 30 records, so B stays silent where A speaks.
    const outlier = rec(100, { amount_minor: 90_000n, category: 'grocery' });
    expect(run(amountAnomaly, [...history, outlier], { variant: 'B' }).flat()).toEqual([]);
    const grocery = Array.from({ length: 35 }, (_, i) =>
      rec(i, { amount_minor: BigInt(1_000 + (i % 3)), category: 'grocery' }),
    );
    const found = run(amountAnomaly, [...grocery, outlier], { variant: 'B' });
    expect(found.slice(0, 35).flat()).toEqual([]);
    expect(found[35]).toMatchObject([{ code: 'AMOUNT_ANOMALY', detail: { scope: 'category:grocery' } }]);
  });
});

describe('velocity', () => {
  it('one finding when an account exceeds 10 records in 60 s, naming the records', () => {
    const records = Array.from({ length: 14 }, (_, i) => rec(i, { event_time: new Date(T0 + i * 4_000) }));
    const results = run(velocity, records);
    expect(results.flat()).toHaveLength(1);
    expect(results[10]?.[0]?.code).toBe('VELOCITY');
    expect(results[10]?.[0]?.recordIds).toHaveLength(11);
  });

  it('a window is 60 s of event time, its end excluded, and a later burst gives a second finding', () => {
    // 11 records 6 s apart span exactly 60 s: no 60 s window holds all 11.
    const edge = Array.from({ length: 11 }, (_, i) => rec(i, { event_time: new Date(T0 + i * 6_000) }));
    expect(run(velocity, edge).flat()).toEqual([]);
    const inside = Array.from({ length: 11 }, (_, i) => rec(i, { event_time: new Date(T0 + i * 5_999) }));
    expect(run(velocity, inside).flat()).toHaveLength(1);
    const later = Array.from({ length: 11 }, (_, i) =>
      rec(100 + i, { event_time: new Date(T0 + 300_000 + i * 1_000) }),
    );
    const findings = run(velocity, [...inside, ...later]).flat();
    expect(findings).toHaveLength(2);
    expect(findings[1]?.recordIds).toEqual(later.map((r) => r.record_id));
  });

  it('counts windows of event time, whatever the arrival order', () => {
    const records = Array.from({ length: 11 }, (_, i) =>
      rec(i, { event_time: new Date(T0 + (10 - i) * 3_000) }),
    );
    expect(run(velocity, records).flat()).toHaveLength(1);
  });

  it('stays silent for 10 records in a minute, spread records, other accounts, and honours the setting', () => {
    const ten = Array.from({ length: 10 }, (_, i) => rec(i, { event_time: new Date(T0 + i * 5_000) }));
    expect(run(velocity, ten).flat()).toEqual([]);
    const spread = Array.from({ length: 30 }, (_, i) => rec(i, { event_time: new Date(T0 + i * 10_000) }));
    expect(run(velocity, spread).flat()).toEqual([]);
    const accounts = Array.from({ length: 20 }, (_, i) =>
      rec(i, { account_id: `acc-${i % 2}`, event_time: new Date(T0 + i * 1_000) }),
    );
    expect(run(velocity, accounts).flat()).toEqual([]);
    expect(run(velocity, ten, { settings: { velocity_max_records: 5 } }).flat()).toHaveLength(1);
  });

  it('flags a late burst: records arriving together long after their event time', () => {
    // The account is live at T0 + 1 h; then 11 records of T0, 3 s apart, arrive together (a device
    // that was offline), one per 100 ms of ingest time, in and out of event-time order.
    const live = Array.from({ length: 5 }, (_, i) =>
      rec(i, { event_time: new Date(T0 + 3_600_000 + i * 1_000) }),
    );
    const order = [0, 10, 1, 9, 2, 8, 3, 7, 4, 6, 5];
    const late = order.map((k) => rec(100 + k, { event_time: new Date(T0 + k * 3_000) }));
    const arrival = new Map(late.map((r, i) => [r, T0 + 3_700_000 + i * 100]));
    const ingestMs = (r: TributaryRecord): number => arrival.get(r) ?? r.event_time.getTime() + 1_000;
    const results = run(velocity, [...live, ...late], { ingestMs });
    expect(results.flat()).toHaveLength(1);
    expect(new Set(results[results.length - 1]?.[0]?.recordIds)).toEqual(
      new Set(late.map((r) => r.record_id)),
    );
    // Ten late records stay silent; late records that arrive more than 2 min apart are not matched.
    expect(run(velocity, [...live, ...late.slice(0, 10)], { ingestMs }).flat()).toEqual([]);
    const apart = (r: TributaryRecord): number =>
      arrival.has(r) ? T0 + 3_700_000 + late.indexOf(r) * 130_000 : r.event_time.getTime() + 1_000;
    expect(run(velocity, [...live, ...late], { ingestMs: apart }).flat()).toEqual([]);
  });

  it('keeps a bounded number of late events per account', () => {
    // 1,000 late records of scattered times, arriving 10 ms apart (within the 2 min they are kept).
    const live = rec(0, { event_time: new Date(T0 + 86_400_000) });
    const late = Array.from({ length: 1_000 }, (_, i) =>
      rec(1 + i, { event_time: new Date(T0 + i * 61_000) }),
    );
    const state = new KeyedState();
    run(velocity, [live, ...late], {
      state,
      ingestMs: (r) => (r === live ? T0 + 86_401_000 : T0 + 86_402_000 + late.indexOf(r) * 10),
    });
    const kept = state.get('acct|acme|acc-1');
    expect(Array.isArray(kept) ? kept.length : 0).toBe(1 + 64); // the live event and the 64 newest late
  });

  it('does not count a re-sent record again (the master dataset stores it once)', () => {
    const ten = Array.from({ length: 10 }, (_, i) => rec(i, { event_time: new Date(T0 + i * 5_000) }));
    const resent = [...ten, ten[3] as TributaryRecord, ten[9] as TributaryRecord];
    expect(run(velocity, resent).flat()).toEqual([]);
    // A new record still tips the window over, and the finding names each record once.
    const findings = run(velocity, [...resent, rec(10, { event_time: new Date(T0 + 50_000) })]).flat();
    expect(findings).toHaveLength(1);
    expect(findings[0]?.recordIds).toHaveLength(11);
  });
});

describe('keyed state', () => {
  it('keeps a record’s writes only if it succeeds, and round-trips through its changelog', () => {
    const state = new KeyedState();
    state.set('a', 1);
    state.commitRecord();
    state.set('b', 2);
    state.rollbackRecord();
    expect(state.get('a')).toBe(1);
    expect(state.get('b')).toBeUndefined();
    state.advanceClock(100);
    state.set('c', { x: [1, 'y'] }, 150);
    state.commitRecord();
    const restored = new KeyedState();
    for (const change of state.takeChanges()) restored.apply(change);
    restored.restoreClock(state.clock);
    expect(restored.get('a')).toBe(1);
    expect(restored.get('c')).toEqual({ x: [1, 'y'] });
    expect(restored.clock).toBe(100);
    restored.advanceClock(150);
    expect(restored.get('c')).toBeUndefined();
    restored.sweep();
    expect(restored.takeChanges()).toContainEqual(['c', null, null]);
  });
});
