/**
 * Deployment while jobs run: a new use case starts without pausing or rebalancing a running one;
 * A/B delivers each customer only its variant's findings and keeps both; a throwing use case sends
 * its bad records to its dead-letter topic and goes on; one that keeps failing is paused and reported.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { RecordDeserializer, RegistryClient } from '../../ingest/index.js';
import { HEADER, headerText } from '../../ingest/validation/index.js';
import { customerIds } from '../../scripts/generate/index.js';
import { chooseVariant, listExperiments, type JobStatus } from '../../speed/index.js';
import { runCli } from '../helpers/cli.js';
import { kafkaClient, pgPool } from '../helpers/context.js';
import { committedSum, readTopic } from '../helpers/kafka.js';
import { startCli, type RunningCli } from '../helpers/process.js';
import { allCaughtUp, speedWorld, storedFindings, type SpeedWorld } from '../helpers/speed.js';
import { waitFor } from '../helpers/wait-for.js';

const kafka = kafkaClient();
let world: SpeedWorld;
let speed: RunningCli;
let url: string;

async function jobs(): Promise<JobStatus[]> {
  return (await (await fetch(`${url}/jobs`)).json()) as JobStatus[];
}

async function cli(args: string[]): Promise<string> {
  const result = await runCli(args, world.env);
  expect(result.code, result.stderr).toBe(0);
  return result.stdout;
}

beforeAll(async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'usecases-'));
  const flaky = path.join(dir, 'flaky.mjs');
  const broken = path.join(dir, 'broken.mjs');
  await writeFile(
    flaky,
    `export default { name: 'flaky', description: 'throws on amounts divisible by 7', variants: [''], needsProfile: false,
      process(record) { if (record.amount_minor % 7n === 0n) throw new Error('flaky cannot handle ' + record.record_id); return []; } };\n`,
  );
  await writeFile(
    broken,
    `export default { name: 'broken', description: 'always throws', variants: [''], needsProfile: false,
      process() { throw new TypeError('broken use case'); } };\n`,
  );
  world = await speedWorld({ USECASE_MODULES: `${flaky},${broken}` });
  await cli(['deploy', 'data-quality']);
  speed = startCli(['speed', '--port', '0'], world.env);
  url = (await speed.waitForOutput(/\/jobs on (\S+)/))[1] ?? '';
  await waitFor(
    async () => (await jobs()).find((j) => j.job === 'usecase.data-quality')?.state === 'running',
    { description: 'data-quality running' },
  );
});

describe('hot deploy', () => {
  it(
    'deploying a new use case does not pause, restart or rebalance a running one',
    { timeout: 300_000 },
    async () => {
      const generator = runCli(
        ['generate', '--records', '24000', '--rate', '800', '--customers', '10', '--seed', '3'],
        world.env,
      );
      const dq = world.groups(['usecase.data-quality'])[0];
      if (dq === undefined) throw new Error('no group');
      await waitFor(async () => (await committedSum(kafka, dq.groupId, dq.topic)) > 1_000n, {
        timeoutMs: 60_000,
        description: 'data-quality under way',
      });
      const admin = kafka.admin();
      await admin.connect();
      const before = (await admin.describeGroups([dq.groupId])).groups[0];
      const pidBefore = (await jobs()).find((j) => j.job === 'usecase.data-quality')?.pid;
      // Defined, or the comparisons below would hold vacuously.
      expect(pidBefore).toBeGreaterThan(0);
      expect(before?.members.length).toBeGreaterThan(0);

      // Sample data-quality's progress while a new use case is deployed next to it.
      const samples: { at: number; committed: bigint }[] = [];
      const sampling = { on: true };
      const sampler = (async () => {
        while (sampling.on) {
          samples.push({ at: Date.now(), committed: await committedSum(kafka, dq.groupId, dq.topic) });
          await new Promise((r) => setTimeout(r, 200));
        }
      })();
      const deployedAt = Date.now();
      await cli(['deploy', 'velocity', '--from', 'earliest']);
      // Sample across the deploy, the new worker's start and its first batches: at least 15 s, which
      // is more than twice the stall allowed below, so a pause spanning the deploy cannot hide.
      await waitFor(
        async () =>
          Date.now() - deployedAt >= 15_000 &&
          ((await jobs()).find((j) => j.job === 'usecase.velocity')?.metrics.in ?? 0) > 0,
        { timeoutMs: 60_000, description: 'velocity processing, 15 s after the deploy' },
      );
      sampling.on = false;
      await sampler;
      await generator;

      const after = (await admin.describeGroups([dq.groupId])).groups[0];
      await admin.disconnect();
      expect((await jobs()).find((j) => j.job === 'usecase.data-quality')?.pid).toBe(pidBefore);
      expect(after?.members.map((m) => m.memberId)).toEqual(before?.members.map((m) => m.memberId));
      // Progress never stalled for long while the other job was deployed and started.
      let longestStall = 0;
      let lastChange = samples[0]?.at ?? 0;
      for (let i = 1; i < samples.length; i += 1) {
        const s = samples[i];
        const p = samples[i - 1];
        if (s === undefined || p === undefined) continue;
        if (s.committed > p.committed) lastChange = s.at;
        else longestStall = Math.max(longestStall, s.at - lastChange);
      }
      expect(samples.length).toBeGreaterThan(10);
      // Two cores shared with three servers and a job catching up from the earliest offset: a few
      // seconds between commits happen (3.2 s seen in CI); a paused job would stall for the window.
      expect(longestStall).toBeLessThan(6_000);
    },
  );

  it(
    'A/B: each customer receives only its variant’s findings; both variants are stored',
    { timeout: 300_000 },
    async () => {
      await cli(['deploy', 'amount-anomaly', '--variant', 'A']);
      await cli(['deploy', 'amount-anomaly', '--variant', 'B']);
      await cli(['ab', 'set', 'amount-anomaly', '--control', 'A', '--treatment', 'B', '--percent', '50']);
      const [experiment] = await listExperiments(pgPool(world.env.DATABASE_URL));
      if (experiment === undefined) throw new Error('no experiment');
      // An explicit assignment against the hash split: ab-0001 gets the variant the hash would not give it.
      const overridden = chooseVariant(experiment, 'ab-0001', undefined) === 'A' ? 'B' : 'A';
      await cli(['customers', 'add', 'ab-0001']);
      await cli(['ab', 'assign', 'amount-anomaly', 'ab-0001', overridden]);
      const end = Date.UTC(2026, 10, 22, 0, 0, 0);
      await cli([
        'generate',
        '--records',
        '20000',
        '--customers',
        '12',
        '--customer-prefix',
        'ab',
        '--days',
        '2',
        '--end',
        String(end),
        '--anomalies',
        '0.02',
        '--seed',
        '5',
      ]);
      await waitFor(
        () =>
          allCaughtUp(
            kafka,
            world.groups(['validation', 'usecase.amount-anomaly.A', 'usecase.amount-anomaly.B', 'delivery']),
          ),
        {
          timeoutMs: 240_000,
          intervalMs: 1_000,
          description: 'the diamond to catch up',
        },
      );
      /** Stored amount-anomaly findings per variant, and whether each was delivered. */
      const stored = { A: { delivered: 0, kept: 0 }, B: { delivered: 0, kept: 0 } };
      const deliveredIds = new Set<string>();
      const receivers = new Map<string, string>();
      let overriddenRows = 0;
      for (const customer of customerIds({ customers: 12, customerPrefix: 'ab' })) {
        const expected = chooseVariant(experiment, customer, customer === 'ab-0001' ? overridden : undefined);
        receivers.set(customer, expected);
        for (const { findingId, variant, delivered } of await storedFindings(
          world,
          'amount-anomaly',
          customer,
          end - 2 * 86_400_000,
          end,
        )) {
          if (variant !== 'A' && variant !== 'B') throw new Error(`stored variant ${variant}`);
          expect(delivered, `${customer} ${variant}`).toBe(variant === expected);
          stored[variant][delivered ? 'delivered' : 'kept'] += 1;
          if (customer === 'ab-0001') overriddenRows += 1;
          if (delivered) deliveredIds.add(findingId);
        }
      }
      // Both variants ran on every customer's data: each has findings delivered and findings kept.
      for (const variant of ['A', 'B'] as const) {
        expect(stored[variant].delivered, `${variant} delivered`).toBeGreaterThan(0);
        expect(stored[variant].kept, `${variant} kept, not delivered`).toBeGreaterThan(0);
      }
      // The override was judged: the overridden customer has findings of both variants stored.
      expect(overriddenRows).toBeGreaterThan(1);
      // What customers received is exactly the delivered findings, each once, each of its variant.
      const received: string[] = [];
      for (const m of await readTopic(kafka, world.config.topics.feedback)) {
        const finding = JSON.parse(m.message.value?.toString() ?? '{}') as {
          findingId: string;
          usecase: string;
          variant: string;
          customerId: string;
        };
        if (finding.usecase !== 'amount-anomaly' || !finding.customerId.startsWith('ab-')) continue;
        expect(finding.variant, finding.customerId).toBe(receivers.get(finding.customerId));
        received.push(finding.findingId);
      }
      expect(received.length).toBe(new Set(received).size);
      expect(new Set(received)).toEqual(deliveredIds);
      const report = await cli(['ab', 'report', 'amount-anomaly', '--days', '30']);
      expect(report).toMatch(/variant A: \d+ findings/);
      expect(report).toMatch(/variant B: \d+ findings/);
      expect(report).toMatch(/agreement: [\d.]+%/);
    },
  );

  it(
    'a throwing use case dead-letters its bad records with error and stack, and keeps going',
    { timeout: 300_000 },
    async () => {
      await cli(['deploy', 'flaky']);
      const flaky = world.groups(['usecase.flaky'])[0];
      if (flaky === undefined) throw new Error('no group');
      await waitFor(() => allCaughtUp(kafka, [flaky]), {
        timeoutMs: 180_000,
        intervalMs: 1_000,
        description: 'flaky to process everything',
      });
      // Expected: every message of records.valid whose amount is divisible by 7 (re-sent copies too:
      // a use case sees them, marked), each dead-lettered once, its reason naming its record.
      const deserializer = new RecordDeserializer({
        registry: new RegistryClient({ url: world.env.SCHEMA_REGISTRY_URL ?? '' }),
      });
      const valid = await readTopic(kafka, world.config.topics.valid);
      await deserializer.prepare(valid.map((m) => m.message.value));
      const expected: string[] = [];
      for (const { message } of valid) {
        const decoded = deserializer.decode(message.value, message.key);
        if (!decoded.ok) throw new Error(decoded.reason);
        if (decoded.record.amount_minor % 7n === 0n) expected.push(decoded.record.record_id);
      }
      expect(expected.length).toBeGreaterThan(100);
      const dead = await readTopic(kafka, `${world.config.namespace}.dlq.usecase.flaky`);
      const named: string[] = [];
      for (const { message } of dead) {
        expect(headerText(message.headers, HEADER.errorCode)).toBe('USECASE_ERROR');
        const reason = headerText(message.headers, HEADER.errorReason) ?? '';
        expect(reason).toMatch(/flaky cannot handle \S+/);
        named.push(/flaky cannot handle (\S+)/.exec(reason)?.[1] ?? '');
        expect(headerText(message.headers, 'tributary.error.stack')).toMatch(/at Object.process/);
      }
      expect(named.sort()).toEqual(expected.sort());
      const status = (await jobs()).find((j) => j.job === 'usecase.flaky');
      expect(status?.state).toBe('running');
      expect(status?.restarts).toBe(0);
    },
  );

  it(
    'a use case that keeps failing is paused and reported, not left in a crash loop',
    { timeout: 300_000 },
    async () => {
      await cli(['deploy', 'broken']);
      await waitFor(async () => (await jobs()).find((j) => j.job === 'usecase.broken')?.state === 'paused', {
        timeoutMs: 120_000,
        description: 'broken to be paused',
      });
      const list = await cli(['list']);
      expect(list).toMatch(
        /usecase\.broken\s+1\s+paused \(\d+ (records in a row|of the last \d+ records) failed\)/,
      );
      expect((await jobs()).find((j) => j.job === 'usecase.broken')?.restarts).toBe(0);
      expect((await jobs()).find((j) => j.job === 'usecase.data-quality')?.state).toBe('running');
      expect(await speed.stop()).toBe(0);
    },
  );
});

describe('deploy --from', () => {
  it('an update with --from changes where a group without offsets starts; without it, keeps it', async () => {
    const other = await speedWorld();
    const startFrom = async (): Promise<unknown> => {
      const listed = await runCli(['list', '--json'], other.env);
      expect(listed.code, listed.stderr).toBe(0);
      const { deployments } = JSON.parse(listed.stdout) as {
        deployments: { usecase: string; startFrom: unknown }[];
      };
      return deployments.find((d) => d.usecase === 'velocity')?.startFrom;
    };
    const deploy = async (...args: string[]): Promise<void> => {
      const result = await runCli(['deploy', 'velocity', ...args], other.env);
      expect(result.code, result.stderr).toBe(0);
    };
    await deploy();
    expect(await startFrom()).toBe('earliest');
    // Starting over (its group deleted) from now on: the update must keep that, not the first deploy's.
    await deploy('--from', 'latest');
    expect(await startFrom()).toBe('latest');
    await deploy('--settings', '{"velocity_max_records": 20}');
    expect(await startFrom()).toBe('latest');
    await deploy('--from', '2026-12-01T00:00:00Z');
    expect(await startFrom()).toBe(Date.parse('2026-12-01T00:00:00Z'));
  });
});

describe('deploy --settings', () => {
  it('an update without --settings keeps the deployment’s (resuming a paused one); {} clears them', async () => {
    const other = await speedWorld();
    const deployment = async (): Promise<unknown> => {
      const listed = await runCli(['list', '--json'], other.env);
      expect(listed.code, listed.stderr).toBe(0);
      const { deployments } = JSON.parse(listed.stdout) as { deployments: { usecase: string }[] };
      return deployments.find((d) => d.usecase === 'velocity');
    };
    const deploy = async (...args: string[]): Promise<void> => {
      const result = await runCli(['deploy', 'velocity', ...args], other.env);
      expect(result.code, result.stderr).toBe(0);
    };
    await deploy();
    expect(await deployment()).toMatchObject({ generation: 1, settings: {} });
    await deploy('--settings', '{"velocity_max_records": 20}');
    expect(await deployment()).toMatchObject({ generation: 2, settings: { velocity_max_records: 20 } });
    // Paused (its records kept failing, say) and deployed again after a fix, as documented.
    await pgPool(other.env.DATABASE_URL).query(
      `UPDATE deployments SET status = 'paused', status_reason = 'failing' WHERE usecase = 'velocity'`,
    );
    await deploy();
    expect(await deployment()).toMatchObject({
      generation: 3,
      status: 'active',
      statusReason: null,
      settings: { velocity_max_records: 20 },
    });
    await deploy('--from', 'latest');
    expect(await deployment()).toMatchObject({ generation: 4, settings: { velocity_max_records: 20 } });
    await deploy('--settings', '{}');
    expect(await deployment()).toMatchObject({ generation: 5, settings: {} });
  });
});

describe('a use-case module that cannot be loaded', () => {
  it('pauses the use case it held and stops nothing else', { timeout: 180_000 }, async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'usecases-'));
    const bad = path.join(dir, 'bad.mjs');
    await writeFile(bad, `throw new Error('bad module at import');\n`);
    const other = await speedWorld();
    // Deployed while the module loaded; a later release of it breaks at import.
    const deployed = await runCli(['deploy', 'velocity'], other.env);
    expect(deployed.code, deployed.stderr).toBe(0);
    // ghost's module fails to load; a release of amount-anomaly dropped its deployed variant Z.
    await pgPool(other.env.DATABASE_URL).query(
      `INSERT INTO deployments (usecase, variant) VALUES ('ghost', ''), ('amount-anomaly', 'Z')`,
    );
    const env = { ...other.env, USECASE_MODULES: bad };
    const supervisor = startCli(['speed', '--port', '0'], env);
    try {
      const supervisorUrl = (await supervisor.waitForOutput(/\/jobs on (\S+)/))[1] ?? '';
      const status = async (): Promise<JobStatus[]> =>
        (await (await fetch(`${supervisorUrl}/jobs`)).json()) as JobStatus[];
      await waitFor(async () => (await status()).find((j) => j.job === 'usecase.ghost')?.state === 'paused', {
        timeoutMs: 60_000,
        description: 'ghost to be paused',
      });
      await waitFor(
        async () => (await status()).find((j) => j.job === 'usecase.amount-anomaly.Z')?.state === 'paused',
        { timeoutMs: 60_000, description: 'amount-anomaly.Z to be paused' },
      );
      // Paused at start (exit 3), never restarted as if they had crashed.
      for (const job of ['usecase.ghost', 'usecase.amount-anomaly.Z'])
        expect((await status()).find((j) => j.job === job)).toMatchObject({ state: 'paused', restarts: 0 });
      const listed = await runCli(['list'], other.env);
      expect(listed.stdout).toMatch(
        /usecase\.ghost\s+1\s+paused \(its module could not be loaded \(.*bad module at import/,
      );
      expect(listed.stdout).toMatch(
        /usecase\.amount-anomaly\.Z\s+1\s+paused \(amount-anomaly has no variant Z \(known: A, B\); fix it/,
      );
      // The platform jobs and the built-in use case run on, never restarted, and do their work.
      const generated = await runCli(
        ['generate', '--records', '500', '--customers', '3', '--seed', '4'],
        env,
      );
      expect(generated.code, generated.stderr).toBe(0);
      await waitFor(
        async () => ((await status()).find((j) => j.job === 'usecase.velocity')?.metrics.in ?? 0) > 0,
        { timeoutMs: 60_000, description: 'velocity to take records in' },
      );
      const gone = ['usecase.ghost', 'usecase.amount-anomaly.Z'];
      const others = (await status()).filter((j) => !gone.includes(j.job));
      expect(others.map((j) => j.job).sort()).toEqual([
        'delivery',
        'master',
        'usecase.velocity',
        'validation',
        'views',
      ]);
      for (const j of others)
        expect({ job: j.job, state: j.state, restarts: j.restarts }).toEqual({
          job: j.job,
          state: 'running',
          restarts: 0,
        });
      // Undeployed, a job leaves /jobs and /metrics: its last lag is not served as if current.
      const metricsText = async (): Promise<string> => (await fetch(`${supervisorUrl}/metrics`)).text();
      expect(await metricsText()).toContain('job="usecase.velocity"');
      const undeployed = await runCli(['undeploy', 'velocity'], other.env);
      expect(undeployed.code, undeployed.stderr).toBe(0);
      await waitFor(async () => !(await status()).some((j) => j.job === 'usecase.velocity'), {
        timeoutMs: 30_000,
        description: 'velocity to leave /jobs',
      });
      expect(await metricsText()).not.toContain('job="usecase.velocity"');
      expect((await status()).map((j) => j.job)).toContain('usecase.ghost'); // paused: still listed
      expect(await supervisor.stop()).toBe(0);
    } finally {
      await supervisor.stop();
    }
  });
});

describe('a job this release lacks, undeployed while its worker waits on the other supervisors', () => {
  it(
    'ends as paused (exit 3), not as a crash, and leaves the deployment as the operator left it',
    { timeout: 120_000 },
    async () => {
      const own = await speedWorld();
      // Deployed from a release that had `ghost`; this one does not, and no other supervisor runs.
      await pgPool(own.env.DATABASE_URL).query(
        `INSERT INTO deployments (usecase, variant) VALUES ('ghost', '')`,
      );
      const worker = startCli(['speed', '--job', 'usecase.ghost'], own.env);
      try {
        await waitFor(() => /this release lacks the deployed job/.test(worker.output()), {
          timeoutMs: 30_000,
          description: 'the worker to find that its release lacks the job',
        });
        const undeployed = await runCli(['undeploy', 'ghost'], own.env);
        expect(undeployed.code, undeployed.stderr).toBe(0);
        // Once nothing has been able to run it for 15 s it would pause it: there is nothing left to pause.
        const code = await waitFor(() => worker.child.exitCode ?? undefined, {
          timeoutMs: 60_000,
          description: 'the worker to give up on the job',
        });
        expect(code, worker.output()).toBe(3);
        expect(worker.output()).toMatch(/job usecase\.ghost paused: generation 1 is no longer active/);
        const row = await pgPool(own.env.DATABASE_URL).query<{ status: string }>(
          `SELECT status FROM deployments WHERE usecase = 'ghost'`,
        );
        expect(row.rows).toEqual([{ status: 'undeployed' }]);
      } finally {
        await worker.kill();
      }
    },
  );
});

describe('a use-case module that cannot be loaded, at deploy', () => {
  it('blocks deploying only a use case it may hold, and warns when deploying another', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'usecases-'));
    const bad = path.join(dir, 'bad.mjs');
    await writeFile(bad, `throw new Error('bad module at import');\n`);
    const other = await speedWorld({ USECASE_MODULES: bad });
    const builtIn = await runCli(['deploy', 'velocity'], other.env);
    expect(builtIn.code, builtIn.stderr).toBe(0);
    expect(builtIn.stderr).toMatch(
      /warning: a USECASE_MODULES module could not be loaded: .*bad module at import/,
    );
    const abSet = await runCli(
      ['ab', 'set', 'amount-anomaly', '--control', 'A', '--treatment', 'B', '--percent', '10'],
      other.env,
    );
    expect(abSet.code, abSet.stderr).toBe(0);
    const ghost = await runCli(['deploy', 'ghost'], other.env);
    expect(ghost.code).toBe(1);
    expect(ghost.stderr).toMatch(/no use case named ghost; USECASE_MODULES .*bad module at import/);
  });
});

describe('a use case whose state is not JSON', () => {
  it(
    'is paused and reported, with its offsets where they were, instead of replaying forever',
    { timeout: 180_000 },
    async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'usecases-'));
      const module = path.join(dir, 'bigstate.mjs');
      await writeFile(
        module,
        `export default { name: 'bigstate', description: 'keeps a bigint in its state', variants: [''], needsProfile: false,
        process(record, { state }) { state.set('last-amount', record.amount_minor); return []; } };\n`,
      );
      const other = await speedWorld({ USECASE_MODULES: module });
      const deployed = await runCli(['deploy', 'bigstate'], other.env);
      expect(deployed.code, deployed.stderr).toBe(0);
      const generated = await runCli(
        ['generate', '--records', '500', '--customers', '3', '--seed', '4'],
        other.env,
      );
      expect(generated.code, generated.stderr).toBe(0);
      const supervisor = startCli(
        ['speed', '--only', 'validation,usecase.bigstate', '--port', '0'],
        other.env,
      );
      try {
        const supervisorUrl = (await supervisor.waitForOutput(/\/jobs on (\S+)/))[1] ?? '';
        const status = async (): Promise<JobStatus[]> =>
          (await (await fetch(`${supervisorUrl}/jobs`)).json()) as JobStatus[];
        await waitFor(
          async () => (await status()).find((j) => j.job === 'usecase.bigstate')?.state === 'paused',
          {
            timeoutMs: 90_000,
            description: 'bigstate to be paused',
          },
        );
        const listed = await runCli(['list'], other.env);
        expect(listed.stdout).toMatch(/usecase\.bigstate\s+1\s+paused \(state key .*last-amount.* not JSON/);
        expect((await status()).find((j) => j.job === 'usecase.bigstate')?.restarts).toBe(0);
        // Nothing it handled was committed: a fixed release picks every record up again.
        const [group = { groupId: '', topic: '' }] = other.groups(['usecase.bigstate']);
        expect(await committedSum(kafka, group.groupId, group.topic)).toBe(0n);
        expect(await supervisor.stop()).toBe(0);
      } finally {
        await supervisor.stop();
      }
    },
  );
});
