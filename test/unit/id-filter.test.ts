/**
 * The first-seen index's Bloom filter (speed/runtime/id-filter.ts): never "certainly new" for an id
 * it holds, few false "maybe"s, ids forgotten only after their generations, rebuilt exactly from its
 * checkpoints — and, through the state store, carried in a checkpoint chain.
 */
import { describe, expect, it } from 'vitest';
import { IdFilter } from '../../speed/runtime/id-filter.js';
import { applyChain, encodeNode, PartitionStore } from '../../speed/runtime/store.js';

const HOUR = 3_600_000;

function filter(bits = 1 << 20): IdFilter {
  const f = new IdFilter({ bits, generationMs: 24 * HOUR, generations: 3 });
  f.markComplete();
  return f;
}

describe('id filter', () => {
  it('answers maybe for every id it holds, and certainly-new for almost all others', () => {
    const f = filter();
    for (let i = 0; i < 50_000; i += 1) f.add(`c|id-${i}`, i);
    for (let i = 0; i < 50_000; i += 1) expect(f.mightContain(`c|id-${i}`, 50_000)).toBe(true);
    let maybe = 0;
    for (let i = 0; i < 50_000; i += 1) if (f.mightContain(`c|other-${i}`, 50_000)) maybe += 1;
    expect(maybe / 50_000).toBeLessThan(0.01); // 2^20 bits, 7 hashes, 50k ids: ~0.2 % expected
  });

  it('remembers an id for at least two generations, then forgets it', () => {
    const f = filter();
    f.add('c|late-in-day-0', 24 * HOUR - 1);
    f.add('c|day-1', 24 * HOUR);
    expect(f.mightContain('c|late-in-day-0', 48 * HOUR)).toBe(true);
    f.add('c|day-2', 48 * HOUR);
    expect(f.mightContain('c|late-in-day-0', 71 * HOUR)).toBe(true);
    f.add('c|day-3', 72 * HOUR); // generation 0 is dropped
    expect(f.mightContain('c|late-in-day-0', 72 * HOUR)).toBe(false);
    expect(f.mightContain('c|day-1', 72 * HOUR)).toBe(true);
  });

  it('is rebuilt exactly from a snapshot and the deltas after it', () => {
    const live = filter(1 << 16);
    for (let i = 0; i < 500; i += 1) live.add(`c|a-${i}`, i * HOUR);
    const snapshot = live.snapshot();
    for (let i = 0; i < 500; i += 1) live.add(`c|b-${i}`, 500 * HOUR + i);
    const delta = live.takeDelta();
    expect(live.takeDelta()).toBeUndefined();
    if (delta === undefined) throw new Error('no delta');
    const rebuilt = new IdFilter({ bits: 1 << 16, generationMs: 24 * HOUR, generations: 3 });
    rebuilt.applySnapshot(snapshot);
    rebuilt.applyDelta(delta);
    expect(rebuilt.snapshot()).toBe(live.snapshot());
  });

  it('answers maybe for everything while it may lack ids from before it existed', () => {
    const f = new IdFilter({ bits: 1 << 16, generationMs: 24 * HOUR, generations: 3 });
    expect(f.mightContain('c|never', 0)).toBe(true);
    expect(f.mightContain('c|never', 71 * HOUR)).toBe(true);
    expect(f.mightContain('c|never', 72 * HOUR)).toBe(false); // three generations later: complete
    // An incomplete filter's snapshot stays incomplete.
    const g = new IdFilter({ bits: 1 << 16, generationMs: 24 * HOUR, generations: 3 });
    g.mightContain('c|x', 10 * HOUR);
    const restored = new IdFilter({ bits: 1 << 16, generationMs: 24 * HOUR, generations: 3 });
    restored.applySnapshot(g.snapshot());
    expect(restored.mightContain('c|never', 50 * HOUR)).toBe(true);
    expect(restored.mightContain('c|never', 82 * HOUR)).toBe(false);
  });

  it('travels in the checkpoint chain: a snapshot in pieces, then deltas', () => {
    const bits = 1 << 22; // 512 KiB per generation: the snapshot spans several messages
    const make = (): Map<string, IdFilter> =>
      new Map([['first-seen', new IdFilter({ bits, generationMs: 24 * HOUR, generations: 3 })]]);
    const writerFilters = make();
    const writer = new PartitionStore(0, () => writerFilters);
    writerFilters.get('first-seen')?.markComplete();
    const log: { offset: bigint; value: Buffer }[] = [];
    const append = (values: string[]): bigint => {
      for (const value of values) log.push({ offset: BigInt(log.length), value: Buffer.from(value) });
      return BigInt(log.length - 1);
    };
    const live = writerFilters.get('first-seen');
    if (live === undefined) throw new Error('no filter');
    for (let i = 0; i < 1_000; i += 1) live.add(`c|s-${i}`, i);
    writer.through = 9n;
    const snapshotMessages = encodeNode(writer, true, writer.state.takeAll());
    expect(snapshotMessages.length).toBeGreaterThan(3);
    writer.tip = append(snapshotMessages);
    for (let i = 0; i < 1_000; i += 1) live.add(`c|d-${i}`, 2_000 + i);
    writer.through = 19n;
    writer.tip = append(encodeNode(writer, false, writer.state.takeChanges()));

    const readerFilters = make();
    const reader = new PartitionStore(0, () => readerFilters);
    applyChain('state', reader, log, writer.tip, 20n);
    expect(readerFilters.get('first-seen')?.snapshot()).toBe(live.snapshot());
    expect(readerFilters.get('first-seen')?.mightContain('c|d-999', 3_000)).toBe(true);
  });
});
