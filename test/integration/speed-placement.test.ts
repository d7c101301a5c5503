/**
 * Placing jobs: `tributary speed --only` and `--except` split the jobs between supervisors (on
 * other machines in production: the bulk jobs, master and views, next to Cassandra), and together
 * they run the whole diamond, each job once. A job that no supervisor takes, or two take, is
 * reported by the supervisors and by `tributary list`, which shows every supervisor's jobs.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { cassandraClient, kafkaClient, pgPool } from '../helpers/context.js';
import { endOffsetSum } from '../helpers/kafka.js';
import { startCli, type RunningCli } from '../helpers/process.js';
import { allCaughtUp, jobStatuses, speedWorld } from '../helpers/speed.js';
import { waitFor } from '../helpers/wait-for.js';

const kafka = kafkaClient();
const cassandra = cassandraClient();

interface Listed {
  deployments: { usecase: string; status: string; statusReason: string | null; generation: number }[];
  supervisors: { share: unknown }[];
  jobs: { job: string; supervisor: string; generation?: number; state?: string }[] | null;
  unplaced: string[];
  standby: { job: string; supervisors: string[]; slots: number }[];
  slotsDiffer: { job: string; slots: { supervisor: string; slots: number }[] }[];
}

async function list(env: NodeJS.ProcessEnv): Promise<Listed> {
  const listed = await runCli(['list', '--json'], env);
  expect(listed.code, listed.stderr).toBe(0);
  return JSON.parse(listed.stdout) as Listed;
}

/** One unlabelled sample of the supervisor's /metrics. */
async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (line === undefined) throw new Error(`${name} is not on /metrics`);
  return Number(line.slice(name.length + 1));
}

async function running(url: string): Promise<string[]> {
  return (await jobStatuses(url))
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
      const start = async (
        args: string[],
        env: NodeJS.ProcessEnv = {},
      ): Promise<{ cli: RunningCli; url: string; name: string }> => {
        const cli = startCli(['speed', ...args, '--port', '0'], { ...world.env, ...env });
        supervisors.push(cli);
        const url = (await cli.waitForOutput(/\/jobs on (\S+)/))[1] ?? '';
        return { cli, url, name: `${hostname()}:${new URL(url).port}` };
      };
      try {
        // The front share alone: master and views run nowhere, and both the supervisor and
        // `tributary list` say so.
        // At info level, to see it say when the placement is mended.
        const front = await start(['--except', 'master,views'], { LOG_LEVEL: 'info' });
        const frontJobs = ['delivery', 'usecase.velocity', 'validation'];
        const bulkJobs = ['master', 'views'];
        await waitFor(async () => JSON.stringify(await running(front.url)) === JSON.stringify(frontJobs), {
          timeoutMs: 60_000,
          description: 'the front supervisor running its jobs',
        });
        expect((await list(world.env)).unplaced).toEqual(bulkJobs);
        await waitFor(() => /master runs nowhere/.test(front.cli.output()), {
          timeoutMs: 30_000,
          description: 'the front supervisor to warn that master runs nowhere',
        });
        expect(front.cli.output()).toMatch(/views runs nowhere/);

        const bulk = await start(['--only', 'master,views']);
        await waitFor(async () => JSON.stringify(await running(bulk.url)) === JSON.stringify(bulkJobs), {
          timeoutMs: 60_000,
          description: 'the bulk supervisor running its jobs',
        });
        await waitFor(async () => (await list(world.env)).jobs?.length === 5, {
          timeoutMs: 10_000,
          description: 'list to show both supervisors’ jobs',
        });
        const listed = await list(world.env);
        expect(listed.unplaced).toEqual([]);
        expect(listed.standby).toEqual([]);
        expect(listed.slotsDiffer).toEqual([]);
        expect(listed.supervisors.map((s) => s.share)).toEqual([{ except: bulkJobs }, { only: bulkJobs }]);
        expect(Object.fromEntries((listed.jobs ?? []).map((j) => [j.job, j.supervisor]))).toEqual({
          ...Object.fromEntries(frontJobs.map((j) => [j, front.name])),
          ...Object.fromEntries(bulkJobs.map((j) => [j, bulk.name])),
        });
        await waitFor(() => /job placement mended/.test(front.cli.output()), {
          timeoutMs: 10_000,
          description: 'the front supervisor to see master and views placed',
        });
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
        expect((await jobStatuses(front.url)).map((j) => j.job).sort()).toEqual(frontJobs);
        expect((await jobStatuses(bulk.url)).map((j) => j.job).sort()).toEqual(bulkJobs);

        // A job more supervisors take than it has slots is found, and one whose supervisors
        // disagree on its slots.
        const extra = await start(['--only', 'views']);
        const other = await start(['--only', 'master'], { SPEED_SLOTS: '2' });
        await waitFor(async () => (await list(world.env)).supervisors.length === 4, {
          timeoutMs: 10_000,
          description: 'list to show four supervisors',
        });
        const crowded = await list(world.env);
        expect(crowded.standby).toEqual([{ job: 'views', supervisors: [bulk.name, extra.name], slots: 1 }]);
        expect(crowded.slotsDiffer).toEqual([
          {
            job: 'master',
            slots: [
              { supervisor: bulk.name, slots: 1 },
              { supervisor: other.name, slots: 2 },
            ],
          },
        ]);
        expect(crowded.unplaced).toEqual([]);
        // Supervisors that stop leave the control plane at once.
        for (const s of supervisors.splice(0)) expect(await s.stop()).toBe(0);
        expect(await list(world.env)).toMatchObject({ supervisors: [], jobs: null, unplaced: [] });
      } finally {
        for (const s of supervisors) await s.stop();
      }
    },
  );

  it(
    'a supervisor that cannot refresh its row says so once, keeps its jobs running, and says when it can again',
    { timeout: 120_000 },
    async () => {
      const world = await speedWorld();
      const pool = pgPool(world.env.DATABASE_URL);
      const cli = startCli(['speed', '--only', 'validation', '--port', '0'], {
        ...world.env,
        LOG_LEVEL: 'info',
      });
      try {
        const url = (await cli.waitForOutput(/\/jobs on (\S+)/))[1] ?? '';
        const checked = (): Promise<number> =>
          metric(url, 'tributary_speed_placement_checked_timestamp_seconds');
        const failures = (): Promise<number> => metric(url, 'tributary_speed_control_plane_failures_total');
        await waitFor(async () => (await checked()) > 0, {
          timeoutMs: 30_000,
          description: 'the supervisor to check placement',
        });
        expect(Math.abs((await checked()) - Date.now() / 1000)).toBeLessThan(10);
        expect(await failures()).toBe(0);
        // The table goes away, as on a control plane from before migration 0004.
        await pool.query('ALTER TABLE speed_supervisors RENAME TO speed_supervisors_away');
        await waitFor(async () => (await failures()) >= 1, {
          timeoutMs: 10_000,
          description: 'a heartbeat to fail',
        });
        const stale = await checked();
        await waitFor(async () => (await failures()) >= 4, {
          timeoutMs: 20_000,
          description: 'three more heartbeats to fail',
        });
        // The gauges are not refreshed, and that shows; the warning is given once, not at every beat.
        expect(await checked()).toBe(stale);
        expect(cli.output().match(/no speed_supervisors table \(run `tributary db apply`\)/g)).toHaveLength(
          1,
        );
        expect(await running(url)).toEqual(['validation']);
        await pool.query('ALTER TABLE speed_supervisors_away RENAME TO speed_supervisors');
        await waitFor(() => /control plane reachable again/.test(cli.output()), {
          timeoutMs: 10_000,
          description: 'the supervisor to say the control plane is back',
        });
        await waitFor(async () => (await checked()) > stale, {
          timeoutMs: 10_000,
          description: 'placement to be checked again',
        });
        const listed = await list(world.env);
        expect(listed.supervisors).toHaveLength(1);
        expect(listed.jobs?.map((j) => j.job)).toEqual(['validation']);
        expect(await cli.stop()).toBe(0);
      } finally {
        await cli.stop();
      }
    },
  );

  it(
    'a supervisor whose release lacks a deployed use case leaves it to one that has it, and pauses it only when none does',
    { timeout: 240_000 },
    async () => {
      // A release rolled out to one machine only: its supervisor has the new use case, the other not.
      const dir = await mkdtemp(path.join(tmpdir(), 'usecases-'));
      const module = path.join(dir, 'rollout.mjs');
      await writeFile(
        module,
        `export default { name: 'rollout', description: 'new in this release', variants: [''], needsProfile: false, process() { return []; } };\n`,
      );
      const world = await speedWorld();
      const newEnv = { ...world.env, USECASE_MODULES: module };
      const job = 'usecase.rollout';
      const supervisors: RunningCli[] = [];
      const start = async (
        env: NodeJS.ProcessEnv,
      ): Promise<{ cli: RunningCli; url: string; name: string }> => {
        // Only the one job, on both: the test is about it, and nothing else needs the CPU.
        const cli = startCli(['speed', '--only', job, '--port', '0'], env);
        supervisors.push(cli);
        const url = (await cli.waitForOutput(/\/jobs on (\S+)/))[1] ?? '';
        return { cli, url, name: `${hostname()}:${new URL(url).port}` };
      };
      const stateOn = async (url: string): Promise<string | undefined> =>
        (await jobStatuses(url)).find((j) => j.job === job)?.state;
      const deployment = async (): Promise<unknown> =>
        (await list(world.env)).deployments.find((d) => d.usecase === 'rollout');
      try {
        // The old one first, alone when the use case is deployed: its worker finds no other
        // supervisor, and waits (one that runs the job may be starting or restarting) instead of
        // pausing at once. The upgraded one starts meanwhile and runs the job.
        const old = await start(world.env);
        const deployed = await runCli(['deploy', 'rollout'], newEnv);
        expect(deployed.code, deployed.stderr).toBe(0);
        await waitFor(async () => (await stateOn(old.url)) === 'lacking', {
          timeoutMs: 30_000,
          intervalMs: 100,
          description: 'the old supervisor to find that its release lacks the job',
        });
        const upgraded = await start(newEnv);
        await waitFor(async () => (await stateOn(old.url)) === 'elsewhere', {
          timeoutMs: 60_000,
          description: 'the old supervisor to leave the job to the upgraded one',
        });
        expect(await stateOn(upgraded.url)).toBe('running');
        expect(await deployment()).toMatchObject({ status: 'active', statusReason: null, generation: 1 });
        expect(old.cli.output()).toMatch(/this release lacks the job’s code and another supervisor runs it/);

        // Deployed again while both run (generation 2): both start it at once, and the old one
        // leaves it again instead of pausing it.
        const again = await runCli(['deploy', 'rollout'], newEnv);
        expect(again.code, again.stderr).toBe(0);
        const atGeneration = async (url: string): Promise<string | undefined> => {
          const status = (await jobStatuses(url)).find((j) => j.job === job);
          return status?.generation === 2 ? status.state : undefined;
        };
        await waitFor(async () => (await atGeneration(old.url)) === 'elsewhere', {
          timeoutMs: 60_000,
          description: 'the old supervisor to leave generation 2 to the upgraded one',
        });
        expect(await atGeneration(upgraded.url)).toBe('running');
        expect(await deployment()).toMatchObject({ status: 'active', generation: 2 });
        // Left, not crashed: never restarted, and `tributary list` counts it placed once, not on standby.
        expect((await jobStatuses(old.url)).find((j) => j.job === job)).toMatchObject({ restarts: 0 });
        await waitFor(
          async () =>
            (await list(world.env)).jobs?.filter((j) => j.job === job && j.generation === 2).length === 2,
          { timeoutMs: 10_000, description: 'list to show generation 2 on both supervisors' },
        );
        const listed = await list(world.env);
        expect(listed.standby).toEqual([]);
        expect(listed.unplaced).toEqual(['delivery', 'master', 'validation', 'views']); // taken by neither
        expect(Object.fromEntries((listed.jobs ?? []).map((j) => [j.supervisor, j.state]))).toEqual({
          [upgraded.name]: 'running',
          [old.name]: 'elsewhere',
        });

        // The upgraded supervisor is killed: once its row expires nothing runs the job, and the old
        // one says so, leaving it deployed for when an upgraded one comes back.
        await upgraded.cli.kill();
        await waitFor(() => /usecase\.rollout runs nowhere/.test(old.cli.output()), {
          timeoutMs: 60_000,
          description: 'the old supervisor to warn that the job runs nowhere',
        });
        expect((await list(world.env)).unplaced).toContain(job);
        expect(await deployment()).toMatchObject({ status: 'active' });
        const back = await start(newEnv);
        // Running, and its row says so: once killed, the row claims the job until it expires.
        await waitFor(
          async () =>
            (await list(world.env)).jobs?.some(
              (j) => j.supervisor === back.name && j.job === job && j.state === 'running',
            ) === true,
          { timeoutMs: 60_000, description: 'an upgraded supervisor to run the job again' },
        );

        // Killed again, and at once the old one is replaced by another without the code. The killed
        // one's row still claims the job for a few seconds: it must not count, since it is no longer
        // refreshed. No supervisor can run the job: it is paused with why, as before.
        await back.cli.kill();
        expect(await old.cli.stop()).toBe(0);
        const alone = await start(world.env);
        await waitFor(async () => (await stateOn(alone.url)) === 'paused', {
          timeoutMs: 60_000,
          description: 'the job to be paused when no supervisor can run it',
        });
        expect(await deployment()).toMatchObject({
          status: 'paused',
          statusReason: expect.stringMatching(/no use case named rollout is registered/) as unknown,
        });
        expect(await alone.cli.stop()).toBe(0);
      } finally {
        for (const s of supervisors) await s.stop();
      }
    },
  );
});
