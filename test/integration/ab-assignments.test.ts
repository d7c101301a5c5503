/**
 * The delivery job's A/B assignment cache against the real control plane: batches of several
 * partitions prepare at once, and one that starts while another reloads must wait for that reload —
 * going on with what it had delivered a customer the variant it had just been moved off (CI saw it).
 * It also follows deployments: a customer is only ever given a variant that is deployed.
 */
import { describe, expect, it } from 'vitest';
import type { PgPool } from '../../core/postgres/index.js';
import { addCustomer } from '../../core/tenants/customers.js';
import { AssignmentCache, assignVariant, chooseVariant, setExperiment } from '../../speed/ab/assignments.js';
import { deploy, setStatus } from '../../speed/deploy/deployments.js';
import { pgPool } from '../helpers/context.js';
import { intercept } from '../helpers/intercept.js';
import { speedWorld } from '../helpers/speed.js';

/** The real pool, holding every query after the first (the change probe) until `release`; `reloading` resolves when the second (the reload) is asked for. */
function gated(real: PgPool): { pool: PgPool; reloading: Promise<void>; release: () => void } {
  let queries = 0;
  let reloadingResolve = (): void => undefined;
  let release = (): void => undefined;
  const reloading = new Promise<void>((resolve) => (reloadingResolve = resolve));
  const open = new Promise<void>((resolve) => (release = resolve));
  const pool = intercept(
    real,
    'query',
    (query) =>
      (async (...args: unknown[]) => {
        queries += 1;
        if (queries > 1) {
          reloadingResolve();
          await open;
        }
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
    await assignVariant(pool, 'amount-anomaly', 'c-moved', 'B');

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
});
