/**
 * The delivery job's A/B assignment cache against the real control plane: batches of several
 * partitions prepare at once, and one that starts while another reloads must wait for that reload —
 * going on with what it had delivered a customer the variant it had just been moved off (CI saw it).
 */
import { describe, expect, it } from 'vitest';
import type { PgPool } from '../../core/postgres/index.js';
import { addCustomer } from '../../core/tenants/customers.js';
import { AssignmentCache, assignVariant, setExperiment } from '../../speed/ab/assignments.js';
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
});
