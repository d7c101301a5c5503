/**
 * The A/B split: which variant a customer receives is a deterministic hash of the experiment's salt
 * and the customer id, a percentage of customers get the treatment, a roll-out only ever adds
 * customers as its percentage grows, and an explicit assignment wins. Delivery only gives a customer
 * a deployed variant: without an experiment two deployed variants are split, and a chosen variant that
 * is not deployed falls back to the control.
 */
import { describe, expect, it } from 'vitest';
import { fnv1a32 } from '../../core/hash.js';
import { chooseVariant, deliveredVariant, hashBucket, type Experiment } from '../../speed/index.js';

const customers = Array.from({ length: 10_000 }, (_, i) => `cust-${String(i).padStart(5, '0')}`);

function experiment(treatmentPercent: number, salt = 'salt-1'): Experiment {
  return { usecase: 'amount-anomaly', control: 'A', treatment: 'B', treatmentPercent, salt };
}

function treated(e: Experiment): Set<string> {
  return new Set(customers.filter((c) => chooseVariant(e, c, undefined) === 'B'));
}

describe('A/B split', () => {
  it('hashes with FNV-1a 32, the same in every process', () => {
    // Published FNV-1a 32-bit test vectors.
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
    expect(hashBucket('salt-1', 'cust-00042')).toBe(fnv1a32('salt-1|cust-00042') % 100);
  });

  it('gives the treatment to its percentage of customers, none at 0 % and all at 100 %', () => {
    expect(treated(experiment(0)).size).toBe(0);
    expect(treated(experiment(100)).size).toBe(customers.length);
    for (const percent of [10, 30, 50]) {
      const share = (100 * treated(experiment(percent)).size) / customers.length;
      expect(Math.abs(share - percent), `${percent} %`).toBeLessThan(2);
    }
  });

  it('only adds customers as a roll-out grows, and decides each customer the same way every time', () => {
    const steps = [5, 20, 50, 80].map((p) => treated(experiment(p)));
    for (let i = 1; i < steps.length; i += 1)
      for (const c of steps[i - 1] ?? []) expect(steps[i]?.has(c), c).toBe(true);
    expect(treated(experiment(20))).toEqual(steps[1]);
  });

  it('splits each experiment independently (its salt), and an explicit assignment wins', () => {
    const one = treated(experiment(50, 'salt-1'));
    const other = treated(experiment(50, 'salt-2'));
    const both = [...one].filter((c) => other.has(c)).length;
    // Independent halves share about a quarter of the customers.
    expect(Math.abs((100 * both) / customers.length - 25)).toBeLessThan(2);
    expect(chooseVariant(experiment(100), 'cust-00001', 'A')).toBe('A');
    expect(chooseVariant(experiment(0), 'cust-00001', 'B')).toBe('B');
  });
});

describe('delivered variant', () => {
  const customer = 'cust-00042';

  it('delivers the one deployed variant with no experiment, and everything when none was deployed', () => {
    // None deployed when the record was ingested: a use case deployed since, run on older records.
    expect(deliveredVariant(undefined, [], customer, undefined)).toBeUndefined();
    expect(deliveredVariant(undefined, [''], customer, undefined)).toBe('');
    // Only A then: B, deployed since, runs on the record too, but A's finding was the feedback.
    expect(deliveredVariant(undefined, ['A'], customer, undefined)).toBe('A');
  });

  it('splits customers between two deployed variants with no experiment, as a 50 % experiment would', () => {
    const implied: Experiment = { ...experiment(50, ''), control: 'A', treatment: 'B' };
    let b = 0;
    for (const c of customers) {
      const variant = deliveredVariant(undefined, ['A', 'B'], c, undefined);
      expect(variant, c).toBe(chooseVariant(implied, c, undefined));
      if (variant === 'B') b += 1;
    }
    expect(Math.abs((100 * b) / customers.length - 50)).toBeLessThan(2);
    // Three variants: each gets about a third, and every customer exactly one of them.
    const counts = new Map<string | undefined, number>();
    for (const c of customers) {
      const variant = deliveredVariant(undefined, ['A', 'B', 'C'], c, undefined);
      counts.set(variant, (counts.get(variant) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual(['A', 'B', 'C']);
    for (const n of counts.values()) expect(Math.abs((100 * n) / customers.length - 100 / 3)).toBeLessThan(2);
  });

  it('gives the chosen variant when it is deployed, else the control, else the treatment', () => {
    const all = experiment(100);
    expect(deliveredVariant(all, ['A', 'B'], customer, undefined)).toBe('B');
    expect(deliveredVariant(all, ['A', 'B'], customer, 'A')).toBe('A');
    // B undeployed: its customers fall back to the control rather than receive nothing.
    expect(deliveredVariant(all, ['A'], customer, undefined)).toBe('A');
    // An override naming a variant that is not deployed falls back too.
    expect(deliveredVariant(experiment(0), ['A', 'B'], customer, 'C')).toBe('A');
    // The control undeployed: the treatment.
    expect(deliveredVariant(experiment(0), ['B'], customer, undefined)).toBe('B');
    // Neither deployed: the split of what is.
    expect(deliveredVariant(experiment(0), ['C'], customer, undefined)).toBe('C');
    // Nothing known to be deployed: the experiment decides.
    expect(deliveredVariant(all, [], customer, undefined)).toBe('B');
  });
});
