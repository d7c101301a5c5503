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
 * The real pool, holding every query until `release`; `reloading` resolves when the first is asked
 * for. The change probe is not held: it runs on a client of its own (pool.connect).
 */
function gated(real: PgPool): { pool: PgPool; reloading: Promise<void>; release: () => void } {
  let reloadingResolve = (): void => undefined;
  let release = (): void => undefined;
  const reloading = new Promise<void>((resolve) => (reloadingResolve = resolve));
  const open = new Promise<void>((resolve) => (release = resolve));
  const pool = intercept(
    real,
    'query',
    (query) =>
      (async (...args: unknown[]) => {
        reloadingResolve();
        await open;
        return (query as (...a: unknown[]) => Promise<unknown>)(...args);
      }) as PgPool['query'],
  );
  return { pool, reloading, release };
}

describe('A/B assignment cache', () => {
  it('makes a batch that prepares during a reload wait for it', { timeout: 120_000 }, async () => {
    const world = await speedWorld();
    const pool = pgPool(world.env.DATABASE_URL);
    await addCustomer(pool, 'c-moved', 'moved to B');
    await setExperiment(pool, {
      usecase: 'amount-anomaly',
      control: 'A',
      treatment: 'B',
      treatmentPercent: 0,
      salt: 'salt',
    });
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
      const world = await speedWorld();
      const pool = pgPool(world.env.DATABASE_URL);
      const customers = Array.from({ length: 300 }, (_, i) => `bulk-${i}`);
      for (const id of customers) await addCustomer(pool, id, id);
      await setExperiment(pool, {
        usecase: 'amount-anomaly',
        control: 'A',
        treatment: 'B',
        treatmentPercent: 0,
        salt: 'salt',
      });
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
});
