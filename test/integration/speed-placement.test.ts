/**
 * Placing jobs: `tributary speed --only` and `--except` split the jobs between supervisors (on
 * other machines in production: the bulk jobs, master and views, next to Cassandra), and together
 * they run the whole diamond, each job once.
 */
import { describe, expect, it } from 'vitest';
import type { JobStatus } from '../../speed/index.js';
import { runCli } from '../helpers/cli.js';
import { cassandraClient, kafkaClient } from '../helpers/context.js';
import { endOffsetSum } from '../helpers/kafka.js';
import { startCli, type RunningCli } from '../helpers/process.js';
import { allCaughtUp, speedWorld } from '../helpers/speed.js';
import { waitFor } from '../helpers/wait-for.js';

const kafka = kafkaClient();
const cassandra = cassandraClient();

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
          ['generate', '--records', '5000', '--customers', '5', '--seed', '9', '--json'],
          world.env,
        );
        expect(generated.code, generated.stderr).toBe(0);
        const summary = JSON.parse(generated.stdout) as { valid: number; duplicates: number };
        const distinct = summary.valid - summary.duplicates;
        await waitFor(() => allCaughtUp(kafka, world.groups([...frontJobs, ...bulkJobs])), {
          timeoutMs: 120_000,
          intervalMs: 500,
          description: 'every job, under one supervisor or the other, to catch up',
        });
        // What each share did, so that "caught up" cannot hold on empty topics: the bulk share stored
        // every distinct record in the master dataset and counted each once in the realtime views;
        // the front share found and delivered feedback.
        const ks = world.config.cassandra.keyspace;
        const stored = await cassandra.execute(`SELECT count(*) AS n FROM ${ks}.records`);
        expect(Number(stored.first().get('n'))).toBe(distinct);
        const views = await cassandra.execute(`SELECT record_count FROM ${ks}.realtime_aggregates`, [], {
          fetchSize: 10_000,
        });
        expect(views.rows.reduce((n, r) => n + Number(r.get('record_count')), 0)).toBe(distinct);
        expect(await endOffsetSum(kafka, world.config.topics.feedback)).toBeGreaterThan(0n);
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
