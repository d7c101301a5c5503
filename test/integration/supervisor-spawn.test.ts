/**
 * The supervisor and its workers when processes fail. A worker that cannot even be started is a
 * crash like any other: the supervisor keeps running, keeps serving /jobs, and retries it with
 * backoff (the start fails for real: an environment variable longer than Linux allows one to be,
 * MAX_ARG_STRLEN = 128 KiB, makes execve fail with E2BIG, which Node throws from spawn() at once).
 * A supervisor killed -9 leaves no worker running: each stops as on SIGTERM, and one still starting exits.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../core/logger.js';
import { createPgPool } from '../../core/postgres/index.js';
import { PLATFORM_JOBS, Supervisor, type JobStatus } from '../../speed/index.js';
import { CLI, runCli } from '../helpers/cli.js';
import { kafkaClient } from '../helpers/context.js';
import { committedSum } from '../helpers/kafka.js';
import { startCli } from '../helpers/process.js';
import { speedWorld } from '../helpers/speed.js';
import { waitFor } from '../helpers/wait-for.js';

const kafka = kafkaClient();

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
    expect(jobs.map((j) => j.job).sort()).toEqual([...PLATFORM_JOBS].sort());
    for (const job of jobs) {
      expect(job.state).toBe('backoff');
      expect(job.pid).toBeUndefined();
    }
    // Still answering.
    const served = (await (await fetch(`http://127.0.0.1:${port}/jobs`)).json()) as unknown[];
    expect(served).toHaveLength(PLATFORM_JOBS.length);
  });

  it(
    'its workers stop cleanly when it is killed -9, and none is left running',
    { timeout: 120_000 },
    async () => {
      const world = await speedWorld();
      const speed = startCli(['speed', '--port', '0'], world.env);
      const url = (await speed.waitForOutput(/\/jobs on (\S+)/))[1] ?? '';
      let pids: number[] = [];
      await waitFor(
        async () => {
          const jobs = (await (await fetch(`${url}/jobs`)).json()) as JobStatus[];
          pids = jobs.flatMap((j) => (j.state === 'running' && j.pid !== undefined ? [j.pid] : []));
          return pids.length === PLATFORM_JOBS.length;
        },
        { timeoutMs: 60_000, description: 'every platform worker running' },
      );
      await speed.kill();
      await waitFor(() => pids.every((pid) => !alive(pid)), {
        timeoutMs: 60_000,
        description: 'every worker of the killed supervisor to exit',
      });
      const output = speed.output(); // the workers wrote to the supervisor’s stdout/stderr
      expect(output.match(/the supervisor is gone: stopping/g)).toHaveLength(PLATFORM_JOBS.length);
      expect(output).not.toMatch(/ERR_IPC_CHANNEL_CLOSED|Unhandled/);
    },
  );

  it(
    'a worker whose consumer Kafka gives up on ends (for its supervisor to restart it) instead of idling',
    { timeout: 180_000 },
    async () => {
      // The group refuses a member with another partition assigner (SPEED_SLOTS 2 against 1), which
      // kafkajs does not retry: it stops the consumer for good. Both kinds of job runtime: the master
      // dataset job's own, and the one views and use cases run on.
      const world = await speedWorld();
      const jobs = ['master', 'views'];
      // Validation feeds records.valid, which both read.
      const first = ['validation', ...jobs].map((job) => startCli(['speed', '--job', job], world.env));
      try {
        await Promise.all(first.map((p) => p.waitForOutput(/job \S+ running/)));
        const generated = await runCli(
          ['generate', '--records', '300', '--customers', '3', '--seed', '5'],
          world.env,
        );
        expect(generated.code, generated.stderr).toBe(0);
        // Each first worker is in its group once it has committed.
        await waitFor(
          async () => {
            for (const { groupId, topic } of world.groups(jobs))
              if ((await committedSum(kafka, groupId, topic)) === 0n) return false;
            return true;
          },
          { timeoutMs: 60_000, description: 'the first workers to join their groups and commit' },
        );
        const second = jobs.map((job) =>
          startCli(['speed', '--job', job], { ...world.env, SPEED_SLOTS: '2' }),
        );
        await waitFor(() => second.every((p) => p.child.exitCode !== null), {
          timeoutMs: 90_000,
          description: 'the refused workers to end',
        });
        for (const p of second) {
          expect(p.child.exitCode).not.toBe(0);
          expect(p.output()).toMatch(/supported protocols are incompatible/);
          expect(p.output()).toMatch(/Kafka gave up on this job’s consumer/);
          // Closing a consumer that has no group any more is not an error.
          expect(p.output()).not.toMatch(/closing the job after its fatal error failed|not initialized/);
        }
        // Under a supervisor, such a worker is restarted with backoff like any crash.
        const supervised = startCli(['speed', '--only', 'views', '--port', '0'], {
          ...world.env,
          SPEED_SLOTS: '2',
        });
        try {
          const url = (await supervised.waitForOutput(/\/jobs on (\S+)/))[1] ?? '';
          await waitFor(
            async () => {
              const [views] = (await (await fetch(`${url}/jobs`)).json()) as JobStatus[];
              return (views?.restarts ?? 0) >= 1;
            },
            { timeoutMs: 90_000, description: 'the supervisor to restart the refused views worker' },
          );
        } finally {
          expect(await supervised.stop()).toBe(0);
        }
        // The first workers were not disturbed.
        for (const p of first) expect(p.child.exitCode).toBeNull();
      } finally {
        for (const p of first) expect(await p.stop()).toBe(0);
      }
    },
  );

  it(
    'a worker whose supervisor is gone before the worker has started exits instead of running unsupervised',
    {
      timeout: 120_000,
    },
    async () => {
      const world = await speedWorld();
      for (const job of ['validation', 'views']) {
        // As a supervisor starts it, with the IPC channel; the supervisor is gone at once (killed -9),
        // long before the worker has joined its group.
        const child = spawn(process.execPath, [CLI, 'speed', '--job', job], {
          env: { ...process.env, ...world.env, LOG_LEVEL: 'warn' },
          stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
        });
        let output = '';
        child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
        child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
        child.disconnect();
        try {
          await waitFor(() => child.exitCode !== null, {
            timeoutMs: 60_000,
            description: `the orphaned ${job} worker to exit`,
          });
          expect(output, job).toMatch(/the supervisor is gone/);
        } finally {
          child.kill('SIGKILL');
        }
      }
    },
  );
});

/** Running: it exists and is not a zombie waiting for whoever inherited it to reap it. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
