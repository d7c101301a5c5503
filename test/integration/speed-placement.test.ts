/**
 * Placing jobs: `tributary speed --only` and `--except` split the jobs between supervisors (on
 * other machines in production: the bulk jobs, master and views, next to Cassandra), and together
 * they run the whole diamond, each job once.
 */
import { describe, expect, it } from 'vitest';
import type { JobStatus } from '../../speed/index.js';
import { runCli } from '../helpers/cli.js';
import { kafkaClient } from '../helpers/context.js';
import { startCli, type RunningCli } from '../helpers/process.js';
import { allCaughtUp, speedWorld } from '../helpers/speed.js';
import { waitFor } from '../helpers/wait-for.js';

const kafka = kafkaClient();

async function jobs(url: string): Promise<JobStatus[]> {
  return (await (await fetch(`${url}/jobs`)).json()) as JobStatus[];
}

async function running(url: string): Promise<string[]> {
  return (await jobs(url))
    .filter((j) => j.state === 'running')
    .map((j) => j.job)
    .sort();
}

describe('tributary speed --only / --except', () => {
  it(
    'two supervisors split the jobs between them and run the whole diamond',
    { timeout: 300_000 },
    async () => {
      const world = await speedWorld();
      const deployed = await runCli(['deploy', 'velocity'], world.env);
      expect(deployed.code, deployed.stderr).toBe(0);
      const supervisors: RunningCli[] = [];
      try {
        const front = startCli(['speed', '--except', 'master,views', '--port', '0'], world.env);
        supervisors.push(front);
        const bulk = startCli(['speed', '--only', 'master,views', '--port', '0'], world.env);
        supervisors.push(bulk);
        const [frontUrl, bulkUrl] = await Promise.all(
          [front, bulk].map(async (s) => (await s.waitForOutput(/\/jobs on (\S+)/))[1] ?? ''),
        );
        const frontJobs = ['delivery', 'usecase.velocity', 'validation'];
        const bulkJobs = ['master', 'views'];
        await waitFor(
          async () =>
            JSON.stringify(await running(frontUrl ?? '')) === JSON.stringify(frontJobs) &&
            JSON.stringify(await running(bulkUrl ?? '')) === JSON.stringify(bulkJobs),
          { timeoutMs: 60_000, description: 'each supervisor running its own jobs' },
        );
        const generated = await runCli(
          ['generate', '--records', '5000', '--customers', '5', '--seed', '9'],
          world.env,
        );
        expect(generated.code, generated.stderr).toBe(0);
        await waitFor(() => allCaughtUp(kafka, world.groups([...frontJobs, ...bulkJobs])), {
          timeoutMs: 120_000,
          intervalMs: 500,
          description: 'every job, under one supervisor or the other, to catch up',
        });
        // Still each job in one place only: the other supervisor never started it.
        expect((await jobs(frontUrl ?? '')).map((j) => j.job).sort()).toEqual(frontJobs);
        expect((await jobs(bulkUrl ?? '')).map((j) => j.job).sort()).toEqual(bulkJobs);
        for (const s of supervisors.splice(0)) expect(await s.stop()).toBe(0);
      } finally {
        for (const s of supervisors) await s.stop();
      }
    },
  );
});
