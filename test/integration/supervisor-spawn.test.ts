/**
 * A worker that cannot even be started is a crash like any other: the supervisor keeps running,
 * keeps serving /jobs, and retries it with backoff. Here the start fails for real: an environment
 * variable longer than Linux allows one to be (MAX_ARG_STRLEN, 128 KiB) makes execve fail with
 * E2BIG, which Node throws from spawn() at once.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../core/logger.js';
import { createPgPool } from '../../core/postgres/index.js';
import { Supervisor } from '../../speed/index.js';
import { speedWorld } from '../helpers/speed.js';
import { waitFor } from '../helpers/wait-for.js';

/** Every failed start is logged as an error; expected here. */
const logger = createLogger({ level: 'fatal' });

describe('the speed supervisor', () => {
  it('survives workers that fail to start, and retries them with backoff', { timeout: 120_000 }, async () => {
    const world = await speedWorld();
    const pool = createPgPool({ url: world.config.postgres.url, logger, max: 2 });
    const supervisor = new Supervisor({
      config: world.config,
      logger,
      pool,
      env: { ...world.env, TOO_LONG: 'x'.repeat(200_000) },
    });
    afterAll(async () => {
      await supervisor.close();
      await pool.end();
    });

    const port = await supervisor.start(0);
    await waitFor(() => supervisor.jobs().some((j) => j.restarts >= 2), {
      timeoutMs: 60_000,
      description: 'a worker to be retried after its failed start',
    });
    const jobs = supervisor.jobs();
    expect(jobs.map((j) => j.job).sort()).toEqual(['delivery', 'validation', 'views']);
    for (const job of jobs) {
      expect(job.state).toBe('backoff');
      expect(job.pid).toBeUndefined();
    }
    // Still answering.
    const served = (await (await fetch(`http://127.0.0.1:${port}/jobs`)).json()) as unknown[];
    expect(served).toHaveLength(3);
  });
});
