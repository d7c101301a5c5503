/**
 * The supervisor when its workers are signalled twice, and when it cannot read the deployments. A
 * process manager that stops `tributary speed` by signalling its whole process group (systemd's
 * KillMode=control-group, `kill -TERM -PGID`) reaches each worker twice, itself and through the
 * supervisor: every worker still drains, commits and exits 0. While the control plane cannot be read,
 * a worker that crashes is restarted all the same, and nothing deployed is stopped.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { PLATFORM_JOBS, type JobStatus } from '../../speed/index.js';
import { CLI, runCli } from '../helpers/cli.js';
import { kafkaClient, pgPool } from '../helpers/context.js';
import { committedSum, readTopic } from '../helpers/kafka.js';
import { startCli } from '../helpers/process.js';
import { generateUnique, jobStatuses, speedWorld } from '../helpers/speed.js';
import { waitFor } from '../helpers/wait-for.js';

const kafka = kafkaClient();

/** Process groups this file started, killed if a test left them running. */
const groups = new Set<number>();
afterAll(() => {
  for (const pgid of groups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // Already gone: nothing to clean up.
    }
  }
});

interface GroupLeader {
  readonly child: ChildProcess;
  output(): string;
  readonly exited: Promise<number | null>;
}

/** `tributary <args>` as the leader of a process group of its own, as a service manager starts it. */
function startGroupLeader(args: readonly string[], env: NodeJS.ProcessEnv): GroupLeader {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  if (child.pid !== undefined) groups.add(child.pid);
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      resolve(code);
    });
  });
  return { child, output: () => output, exited };
}

/** The JSON log lines of an output whose `msg` is `msg`. */
function logged(output: string, msg: string): { job?: string; code?: number | null; signal?: string }[] {
  const entries = [];
  for (const line of output.split('\n')) {
    if (!line.includes(msg)) continue;
    try {
      const entry = JSON.parse(line) as { msg?: string; job?: string; code?: number | null; signal?: string };
      if (entry.msg === msg) entries.push(entry);
    } catch {
      // Not a log line (a worker's stdout), or two processes' lines interleaved: not one of these.
    }
  }
  return entries;
}

describe('tributary speed stopped through its process group', () => {
  it('every worker drains and exits 0 though it receives SIGTERM twice', { timeout: 300_000 }, async () => {
    const world = await speedWorld();
    const deployed = await runCli(['deploy', 'data-quality'], world.env);
    expect(deployed.code, deployed.stderr).toBe(0);
    const records = 40_000;
    await generateUnique(world.env, records, 31);
    // Info: the supervisor logs how each worker it stops ended.
    const speed = startGroupLeader(['speed', '--port', '0'], { ...world.env, LOG_LEVEL: 'info' });
    const pgid = speed.child.pid ?? 0;
    const url = (
      await waitFor(() => /\/jobs on (\S+)/.exec(speed.output()) ?? undefined, {
        timeoutMs: 60_000,
        description: 'the supervisor to listen',
      })
    )[1];
    const jobs = [...PLATFORM_JOBS, 'usecase.data-quality'];
    // Part-way through the backlog: each job on records.valid has batches in flight to drain.
    let statuses: JobStatus[] = [];
    await waitFor(
      async () => {
        statuses = await jobStatuses(url ?? '');
        const inOf = (job: string): number => statuses.find((s) => s.job === job)?.metrics.in ?? 0;
        return (
          statuses.every((s) => s.state === 'running') &&
          inOf('validation') >= records / 10 &&
          ['master', 'views', 'usecase.data-quality'].every((job) => inOf(job) > 0)
        );
      },
      { timeoutMs: 180_000, intervalMs: 100, description: 'every job running, part-way through' },
    );
    expect(statuses.map((s) => s.job).sort()).toEqual([...jobs].sort());

    const stopping = performance.now();
    process.kill(-pgid, 'SIGTERM');
    expect(await speed.exited, speed.output()).toBe(0);
    groups.delete(pgid);
    // Under the supervisor's 30 s grace before it SIGKILLs a worker that has not stopped.
    expect(performance.now() - stopping).toBeLessThan(25_000);
    const output = speed.output();
    // Each worker exited 0, which it does only once it has drained, checkpointed and committed.
    expect(
      logged(
        output,
        'job worker did not stop cleanly: what it did since its last checkpoint is replayed at its next start',
      ),
    ).toEqual([]);
    const stopped = logged(output, 'job worker stopped');
    expect(stopped.map((e) => `${e.job ?? ''}: ${String(e.code)}`).sort()).toEqual(
      jobs.map((job) => `${job}: 0`).sort(),
    );
    expect(output).not.toContain('final checkpoint failed');
    // The premise: workers got the supervisor's SIGTERM after the group's, while they drained. Not
    // necessarily all: a worker not scheduled between the two (the niced master, under load) has both
    // merged into one by the kernel.
    const twice = logged(output, 'already stopping: signal ignored (SIGKILL stops at once)');
    expect(twice.length).toBeGreaterThan(0);
    // Validation committed exactly what it had sent on: each input offset it passed or refused.
    const [validation = { groupId: '', topic: '' }] = world.groups(['validation']);
    const sent =
      (await readTopic(kafka, world.config.topics.valid)).length +
      (await readTopic(kafka, world.config.topics.deadLetter)).length;
    expect(await committedSum(kafka, validation.groupId, validation.topic)).toBe(BigInt(sent));
  });
});

describe('tributary speed while it cannot read the deployments', () => {
  it(
    'restarts a worker that crashes meanwhile and stops nothing deployed',
    { timeout: 180_000 },
    async () => {
      const world = await speedWorld();
      const deployed = await runCli(['deploy', 'data-quality'], world.env);
      expect(deployed.code, deployed.stderr).toBe(0);
      const speed = startCli(['speed', '--port', '0'], { ...world.env, LOG_LEVEL: 'info' });
      try {
        const url = (await speed.waitForOutput(/\/jobs on (\S+)/))[1] ?? '';
        const status = async (job: string): Promise<JobStatus | undefined> =>
          (await jobStatuses(url)).find((j) => j.job === job);
        const jobs = [...PLATFORM_JOBS, 'usecase.data-quality'];
        await waitFor(
          async () => {
            const statuses = await jobStatuses(url);
            return jobs.every((job) => statuses.find((s) => s.job === job)?.state === 'running');
          },
          { timeoutMs: 90_000, description: 'every job running' },
        );
        const useCasePid = (await status('usecase.data-quality'))?.pid;
        const pool = pgPool(world.env.DATABASE_URL);
        await pool.query('ALTER TABLE deployments RENAME TO deployments_away');
        await waitFor(() => /cannot read the deployments/.test(speed.output()), {
          timeoutMs: 30_000,
          description: 'the supervisor to find it cannot read the deployments',
        });
        const crashed = (await status('validation'))?.pid;
        if (crashed === undefined) throw new Error('validation has no worker');
        process.kill(crashed, 'SIGKILL');
        await waitFor(
          async () => {
            const validation = await status('validation');
            return validation?.state === 'running' && validation.pid !== crashed && validation.restarts === 1;
          },
          {
            timeoutMs: 30_000,
            description: 'validation to be restarted while the deployments cannot be read',
          },
        );
        expect(await status('usecase.data-quality')).toMatchObject({ state: 'running', pid: useCasePid });
        await pool.query('ALTER TABLE deployments_away RENAME TO deployments');
        await waitFor(() => (speed.output().match(/"msg":"deployments read"/g) ?? []).length >= 2, {
          timeoutMs: 30_000,
          description: 'the supervisor to read the deployments again',
        });
        expect(speed.output().match(/cannot read the deployments/g)).toHaveLength(1); // said once
        expect(await status('usecase.data-quality')).toMatchObject({ state: 'running', pid: useCasePid });
        expect(await speed.stop()).toBe(0);
      } finally {
        await speed.stop();
      }
    },
  );
});
