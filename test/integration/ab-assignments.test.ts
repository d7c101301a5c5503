/**
 * The delivery job's A/B assignment cache against the real control plane: batches of several
 * partitions prepare at once, and one that starts while another reloads must wait for that reload —
 * going on with what it had delivered a customer the variant it had just been moved off (CI saw it).
 * It also follows deployments: a customer is only ever given a variant that is deployed.
 */
import { describe, expect, it } from 'vitest';
import type { PgPool } from '../../core/postgres/index.js';
import { addCustomer } from '../../core/tenants/customers.js';
import {
  AssignmentCache,
  assignVariant,
  chooseVariant,
  setExperiment,
  untilInEffect,
} from '../../speed/ab/assignments.js';
import { deploy, setStatus } from '../../speed/deploy/deployments.js';
import { pgPool } from '../helpers/context.js';
import { intercept } from '../helpers/intercept.js';
import { speedWorld } from '../helpers/speed.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * The real pool, holding the reload of the snapshots until `release`; `reloading` resolves when it is
 * asked for. The change probe before it (the first client the cache takes) is not held.
 */
function gated(real: PgPool): { pool: PgPool; reloading: Promise<void>; release: () => void } {
  let reloadingResolve = (): void => undefined;
  let release = (): void => undefined;
  const reloading = new Promise<void>((resolve) => (reloadingResolve = resolve));
  const open = new Promise<void>((resolve) => (release = resolve));
  let taken = 0;
  const pool = intercept(
    real,
    'connect',
    (connect) =>
      (async (...args: unknown[]) => {
        taken += 1;
        if (taken > 1) {
          reloadingResolve();
          await open;
        }
        return (connect as (...a: unknown[]) => Promise<unknown>)(...args);
      }) as PgPool['connect'],
  );
  return { pool, reloading, release };
}

/** A world whose amount-anomaly experiment gives every customer the control (A), and these customers. */
async function experimentWithCustomers(customers: string[]): Promise<{ pool: PgPool; customers: string[] }> {
  const world = await speedWorld();
  const pool = pgPool(world.env.DATABASE_URL);
  for (const id of customers) await addCustomer(pool, id, id);
  await setExperiment(pool, {
    usecase: 'amount-anomaly',
    control: 'A',
    treatment: 'B',
    treatmentPercent: 0,
    salt: 'salt',
  });
  return { pool, customers };
}

describe('A/B assignment cache', () => {
  it('makes a batch that prepares during a reload wait for it', { timeout: 120_000 }, async () => {
    const { pool } = await experimentWithCustomers(['c-moved']);
    await assignVariant(pool, 'amount-anomaly', ['c-moved'], 'B');

    const { pool: slow, reloading, release } = gated(pool);
    const cache = new AssignmentCache(slow, 60_000);
    const first = cache.refresh();
    await reloading; // the first batch saw a change and is reloading
    const second = cache
      .refresh()
      .then(() => [cache.variantFor('amount-anomaly', 'c-moved'), cache.variantFor('amount-anomaly', 'c-x')]);
    release();
    await first;
    expect(await second).toEqual(['B', 'A']);
  });

  it(
    'gives each customer one deployed variant, falling back to the control when its own is undeployed',
    {
      timeout: 120_000,
    },
    async () => {
      const world = await speedWorld();
      const pool = pgPool(world.env.DATABASE_URL);
      const customers = Array.from({ length: 40 }, (_, i) => `c-${i}`);
      const cache = new AssignmentCache(pool, 0);
      const variants = async (): Promise<(string | undefined)[]> => {
        await cache.refresh();
        return customers.map((c) => cache.variantFor('amount-anomaly', c));
      };

      await deploy(pool, { usecase: 'amount-anomaly', variant: 'A', settings: {} });
      expect(new Set(await variants())).toEqual(new Set(['A'])); // one variant: it is delivered
      await deploy(pool, { usecase: 'amount-anomaly', variant: 'B', settings: {} });
      // Two variants and no experiment: each customer receives one of them, never both.
      const split = await variants();
      expect(new Set(split)).toEqual(new Set(['A', 'B']));

      const experiment = {
        usecase: 'amount-anomaly',
        control: 'A',
        treatment: 'B',
        treatmentPercent: 50,
        salt: '',
      };
      await setExperiment(pool, experiment);
      // The split without an experiment is the one `ab set` gives with its defaults: no one moves.
      expect(await variants()).toEqual(split);
      expect(split).toEqual(customers.map((c) => chooseVariant(experiment, c, undefined)));

      await setStatus(pool, 'amount-anomaly', 'B', 'paused', 'failing');
      expect(await variants()).toEqual(split); // paused is still deployed: its findings come on resume
      await setStatus(pool, 'amount-anomaly', 'B', 'undeployed', null);
      expect(new Set(await variants())).toEqual(new Set(['A'])); // B's customers fall back to the control
      await deploy(pool, { usecase: 'amount-anomaly', variant: 'B', settings: {} });
      expect(await variants()).toEqual(split);
    },
  );

  it(
    'decides the records a use case was deployed onto by its first deployment, so deploying A then B gives each customer one',
    { timeout: 120_000 },
    async () => {
      const world = await speedWorld();
      const pool = pgPool(world.env.DATABASE_URL);
      const customers = Array.from({ length: 40 }, (_, i) => `c-${i}`);
      // Nothing changed since the control plane was created: the one snapshot applies to all records.
      expect(await untilInEffect(pool)).toBeUndefined();
      const cache = new AssignmentCache(pool, 60_000);
      await cache.refresh(Date.now());
      const ingestedAt = Date.now(); // a backlog record, ingested before anything was deployed

      await deploy(pool, { usecase: 'amount-anomaly', variant: 'A', settings: {} });
      await deploy(pool, { usecase: 'amount-anomaly', variant: 'B', settings: {} });
      const inEffect = await untilInEffect(pool);
      expect(inEffect?.getTime()).toBeGreaterThan(ingestedAt);
      // Within checkEveryMs and the time covered, only a finding of a use case no loaded snapshot
      // deploys makes the cache look again: its job was deployed since.
      await cache.refresh(ingestedAt, ['amount-anomaly']);
      expect(customers.map((c) => cache.variantFor('amount-anomaly', c, ingestedAt))).toEqual(
        customers.map(() => 'A'),
      );
      // Records ingested once both are in effect are split between them.
      const split = customers.map((c) => cache.variantFor('amount-anomaly', c, inEffect?.getTime()));
      expect(new Set(split)).toEqual(new Set(['A', 'B']));
    },
  );

  it(
    'decides records ingested while no variant was deployed by the last deployment before, whatever loads later',
    { timeout: 120_000 },
    async () => {
      const world = await speedWorld();
      const pool = pgPool(world.env.DATABASE_URL);
      const customers = Array.from({ length: 40 }, (_, i) => `c-${i}`);
      await deploy(pool, { usecase: 'amount-anomaly', variant: 'A', settings: {} });
      await setStatus(pool, 'amount-anomaly', 'A', 'undeployed', null);
      const gap = (await untilInEffect(pool))?.getTime(); // A's lagging job still has findings of these
      const cache = new AssignmentCache(pool, 0);
      await cache.refresh();
      const decided = (): (string | undefined)[] =>
        customers.map((c) => cache.variantFor('amount-anomaly', c, gap));
      expect(decided()).toEqual(customers.map(() => 'A'));
      // B deployed later (from the earliest) handles the same records: they stay A's.
      await deploy(pool, { usecase: 'amount-anomaly', variant: 'B', settings: {} });
      await cache.refresh();
      expect(decided()).toEqual(customers.map(() => 'A'));
    },
  );
  it(
    'does not read the clock while a change is between its snapshot and its commit',
    { timeout: 120_000 },
    async () => {
      const world = await speedWorld();
      const pool = pgPool(world.env.DATABASE_URL);
      await deploy(pool, { usecase: 'amount-anomaly', variant: 'A', settings: {} });
      await deploy(pool, { usecase: 'amount-anomaly', variant: 'B', settings: {} });
      const cache = new AssignmentCache(pool, 0);
      await cache.refresh();
      const changing = await pool.connect();
      try {
        await changing.query('BEGIN');
        // The change's trigger computes its snapshot (effective 3 s after its clock) and holds the lock.
        await setExperiment(changing as unknown as PgPool, {
          usecase: 'amount-anomaly',
          control: 'A',
          treatment: 'B',
          treatmentPercent: 100,
          salt: '',
        });
        const refreshed = cache.refresh();
        await waitFor(
          async () => {
            const waiting = await pool.query<{ n: string }>(
              `SELECT count(*)::text AS n FROM pg_locks l JOIN pg_database d ON d.oid = l.database
             WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = current_database()`,
            );
            return waiting.rows[0]?.n === '1';
          },
          { timeoutMs: 10_000, intervalMs: 50, description: 'the probe to wait for the change to commit' },
        );
        await changing.query('COMMIT');
        await refreshed;
      } finally {
        changing.release();
      }
      // Its probe read the clock after the commit, so it holds the change it covers.
      expect(new Set(['c-1', 'c-2', 'c-3'].map((c) => cache.variantFor('amount-anomaly', c)))).toEqual(
        new Set(['B']),
      );
    },
  );

  it(
    'pins many customers in one change (one snapshot, one wait); an unknown customer changes nothing and is named',
    { timeout: 120_000 },
    async () => {
      const { pool, customers } = await experimentWithCustomers(
        Array.from({ length: 300 }, (_, i) => `bulk-${i}`),
      );
      const snapshots = async (): Promise<number> =>
        Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM ab_snapshots')).rows[0]?.n);
      const before = await snapshots();

      await assignVariant(pool, 'amount-anomaly', [...customers, customers[0] ?? ''], 'B');
      expect(await snapshots()).toBe(before + 1);
      const cache = new AssignmentCache(pool, 0);
      await untilInEffect(pool);
      await cache.refresh();
      expect(new Set(customers.map((c) => cache.variantFor('amount-anomaly', c)))).toEqual(new Set(['B']));

      await expect(
        assignVariant(pool, 'amount-anomaly', ['bulk-0', 'nobody-1', 'nobody-2'], 'A'),
      ).rejects.toThrow(/no customer nobody-1, nobody-2 \(customers add first\)/);
      await expect(assignVariant(pool, 'velocity', ['bulk-0'], 'A')).rejects.toThrow(
        /no experiment for velocity \(ab set it first\)/,
      );
      expect(await snapshots()).toBe(before + 1);
      const pinned = await pool.query<{ variant: string; n: string }>(
        'SELECT variant, count(*) AS n FROM ab_assignments GROUP BY variant',
      );
      expect(pinned.rows).toEqual([{ variant: 'B', n: String(customers.length) }]);

      await assignVariant(pool, 'amount-anomaly', customers.slice(0, 100), null);
      expect(await snapshots()).toBe(before + 2);
      const left = await pool.query<{ n: string }>('SELECT count(*) AS n FROM ab_assignments');
      expect(left.rows[0]?.n).toBe('200');
    },
  );
  it(
    'keeps overrides as changes: one at a time, n pins store n changes; every snapshot decides as it did, old ones dropped too',
    { timeout: 180_000 },
    async () => {
      const { pool, customers } = await experimentWithCustomers(
        Array.from({ length: 40 }, (_, i) => `one-${String(i).padStart(2, '0')}`),
      );
      const c = (i: number): string => customers[i] ?? '';
      const ids = async (after: number): Promise<{ id: number; at: number }[]> =>
        (
          await pool.query<{ id: string; at: string }>(
            `SELECT snapshot_id::text AS id, (extract(epoch FROM effective_at) * 1000)::text AS at
             FROM ab_snapshots WHERE snapshot_id > $1 ORDER BY snapshot_id`,
            [after],
          )
        ).rows.map((r) => ({ id: Number(r.id), at: Number(r.at) }));
      const stored = async (): Promise<unknown> =>
        (
          await pool.query(
            `SELECT (SELECT coalesce(sum(jsonb_array_length(snapshot->'overrides')), 0) FROM ab_snapshots)::int AS copies,
                    (SELECT count(*) FROM ab_override_changes)::int AS changes`,
          )
        ).rows[0];
      // One `ab assign` each: customers 0…19 pinned to B, 3 unpinned, 4 moved to A, 20…39 pinned to B,
      // 0 unpinned, 1 moved to A. Each makes a snapshot; what each snapshot decides (the control, A,
      // for a customer without an override) is followed here.
      const ops: [string, string | null][] = [
        ...customers.slice(0, 20).map((id): [string, string | null] => [id, 'B']),
        [c(3), null],
        [c(4), 'A'],
        ...customers.slice(20).map((id): [string, string | null] => [id, 'B']),
        [c(0), null],
        [c(1), 'A'],
      ];
      const before = (await ids(0)).at(-1)?.id ?? 0;
      const expected: string[][] = [];
      const state = new Map<string, string>();
      let stale: AssignmentCache | undefined;
      for (const [k, [id, variant]] of ops.entries()) {
        await assignVariant(pool, 'amount-anomaly', [id], variant);
        if (variant === null) state.delete(id);
        else state.set(id, variant);
        expected.push(customers.map((x) => state.get(x) ?? 'A'));
        if (k === 10) {
          // A process that loads now and then idles past the fold below (no finding for 8 days).
          stale = new AssignmentCache(pool, 0);
          await untilInEffect(pool);
          await stale.refresh();
        }
      }
      // Snapshots holding every override stored one copy of each in every snapshot (914 here).
      expect(await stored()).toEqual({ copies: 0, changes: ops.length });
      const decided = (cache: AssignmentCache, atMs: number): (string | undefined)[] =>
        customers.map((x) => cache.variantFor('amount-anomaly', x, atMs));
      await untilInEffect(pool);
      const all = new AssignmentCache(pool, 0);
      await all.refresh();
      const snapshots = await ids(before);
      expect(snapshots).toHaveLength(ops.length);
      for (const [k, { at }] of snapshots.entries())
        expect(decided(all, at), `snapshot ${k}`).toEqual(expected[k]);

      // Snapshots superseded over 8 days ago are dropped but the newest of them, the base (after the
      // unpin and the move of 3 and 4): first by a cache that loads them (in its memory), then by the
      // next change (in the table).
      const b = 30;
      const base = snapshots[b]?.id ?? 0;
      await pool.query(
        `UPDATE ab_snapshots SET effective_at = effective_at - interval '9 days' WHERE snapshot_id <= $1`,
        [base],
      );
      const moved = await ids(before);
      const folding = new AssignmentCache(pool, 0);
      await folding.refresh();
      for (let k = b; k < ops.length; k += 1)
        expect(decided(folding, moved[k]?.at ?? 0), `snapshot ${k}, folded in memory`).toEqual(expected[k]);

      await assignVariant(pool, 'amount-anomaly', [c(2)], 'A');
      const remaining = await ids(0);
      expect(remaining[0]?.id).toBe(base);
      // At the base, the overrides then in effect; after it, one change each, and the last one.
      const atBase = new Set(ops.slice(0, b + 1).map(([id]) => id));
      atBase.delete(c(3));
      expect(await stored()).toEqual({ copies: 0, changes: atBase.size + ops.length - b });
      await untilInEffect(pool);
      const latest = [...(expected.at(-1) ?? [])];
      latest[2] = 'A';
      for (const [name, cache] of [
        ['a new process', new AssignmentCache(pool, 0)],
        ['one that folded in memory', folding],
        ['one that had loaded everything', all],
        ['one that had loaded up to snapshot 10', stale ?? all],
      ] as const) {
        await cache.refresh();
        // (`all` had loaded the base's time before it moved: it is asked from the next one on)
        for (let k = cache === all ? b + 1 : b; k < ops.length; k += 1)
          expect(decided(cache, moved[k]?.at ?? 0), `${name}, snapshot ${k}`).toEqual(expected[k]);
        expect(decided(cache, remaining.at(-1)?.at ?? 0), name).toEqual(latest);
      }
    },
  );
});
