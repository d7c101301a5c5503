/** Bad configuration and bad flags fail clearly, with the documented exit codes. */
import { describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { scratchEnv } from '../../scripts/scratch.js';
import { runCli, runScript } from '../helpers/cli.js';
import { cassandraClient, config, pgPool } from '../helpers/context.js';
import { uniqueName } from '../helpers/names.js';

describe('command line errors', () => {
  it('a bad configuration value names the variable and exits 78 before doing anything', async () => {
    const result = await runCli(['stack', 'status'], {
      KAFKA_PORT: 'not-a-port',
      CASSANDRA_HEAP: '12 bananas',
    });
    expect(result.code).toBe(78);
    expect(result.stderr).toContain('CONFIG_INVALID');
    expect(result.stderr).toContain('KAFKA_PORT="not-a-port"');
    expect(result.stderr).toContain('CASSANDRA_HEAP="12 bananas"');
  });

  it('an unknown flag prints usage and exits 2', async () => {
    const result = await runCli(['stack', 'up', '--bogus']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/unknown option '--bogus'/);
    expect(result.stderr).toMatch(/Usage: tributary stack up/);
  });

  it('tributary speed: a job or job list naming no job, or --only with --except, prints usage and exits 2', async () => {
    const bogus = await runCli(['speed', '--only', 'master,bogus']);
    expect(bogus.code).toBe(2);
    expect(bogus.stderr).toMatch(/"bogus" is not a job/);
    expect(bogus.stderr).toMatch(/Usage: tributary speed/);
    // --job is checked before anything connects: with no Kafka at this port it still answers at once.
    const job = await runCli(['speed', '--job', 'bogus'], { KAFKA_PORT: '1' });
    expect(job.code).toBe(2);
    expect(job.stderr).toMatch(/"bogus" is not a job/);
    const both = await runCli(['speed', '--only', 'master', '--except', 'views']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/cannot be used with option '--except/);
    // A lone job serves no port (its supervisor serves its measurements): refused, not ignored.
    const port = await runCli(['speed', '--job', 'validation', '--port', '9999'], { KAFKA_PORT: '1' });
    expect(port.code).toBe(2);
    // What a supervisor gives its jobs means nothing to a supervisor: refused, not ignored.
    const supervisor = await runCli(['speed', '--supervisor', 'x'], { KAFKA_PORT: '1', PG_PORT: '1' });
    expect(supervisor.code).toBe(2);
    expect(supervisor.stderr).toMatch(/--supervisor .* use it with --job/);
    expect(port.stderr).toMatch(/option '--port <port>' cannot be used with option '--job <name>'/);
  });

  it('tributary speed --job: a use case or variant that does not exist is refused, exit 2, and never runs', async () => {
    // These are judged once the use cases (USECASE_MODULES' too) are loaded, before the job waits on
    // Kafka (none at this port); PostgreSQL (which says whether such a job is deployed, to be paused)
    // need not answer either.
    const env = {
      KAFKA_PORT: '1',
      KAFKA_BROKERS: '127.0.0.1:1',
      PG_PORT: '1',
      DATABASE_URL: 'postgres://tributary@127.0.0.1:1/tributary',
    };
    for (const [job, reason] of [
      ['usecase.amount-anomaly.Z', /amount-anomaly has no variant Z \(known: A, B\)/],
      ['usecase.velocity.A', /velocity has no variant A \(known: \(none\)\)/],
      ['usecase.bogus', /unknown job "usecase.bogus"/],
    ] as const) {
      const result = await runCli(['speed', '--job', job], env);
      expect(result.code, job).toBe(2);
      expect(result.stderr, job).toMatch(reason);
    }
  });

  it('tributary deploy --from: a time the control plane cannot keep, or no calendar has, prints usage and exits 2', async () => {
    // Date.parse would roll these over (to March 1, to the next day) instead of refusing them.
    for (const from of [
      '1999-01-01',
      'yesterday',
      '2024-02-30',
      '2023-02-29',
      '2024-04-31T10:00:00Z',
      '2024-03-01T24:00',
    ]) {
      // Nothing answers at port 1: a --from let through would not deploy anything.
      const result = await runCli(['deploy', 'velocity', '--from', from], { PG_PORT: '1' });
      expect(result.code, from).toBe(2);
      expect(result.stderr).toMatch(/option '--from <position>' argument .* is invalid/);
    }
    expect((await runCli(['deploy', 'velocity', '--from', '1999-01-01'], { PG_PORT: '1' })).stderr).toMatch(
      /between 2001-09-09 and 2286-11-20/,
    );
  });

  it('tributary ab: a variant the use case does not have is refused with its variants and usage, exit 2', async () => {
    for (const args of [
      ['ab', 'assign', 'amount-anomaly', 'acme', 'C'],
      ['ab', 'set', 'amount-anomaly', '--control', 'A', '--treatment', 'C'],
    ]) {
      const result = await runCli(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toContain('amount-anomaly has no variant C (known: A, B)');
      expect(result.stderr).toContain(`Usage: tributary ab ${args[1] ?? ''} [options] <usecase>`);
    }
    // Neither a variant nor --clear: which one is meant cannot be told.
    const neither = await runCli(['ab', 'assign', 'amount-anomaly', 'acme'], { PG_PORT: '1' });
    expect(neither.code).toBe(2);
    expect(neither.stderr).toMatch(
      /^tributary: error \[USAGE\]: give a variant, or --clear\n\nUsage: tributary ab assign /,
    );
  });

  it('tributary ab report --days: more than 400 days prints usage and exits 2 before reading', async () => {
    // With no Cassandra at this port the command would fail (exit 1) if it got as far as connecting.
    for (const days of ['401', '100000', '1000000000']) {
      const result = await runCli(['ab', 'report', 'amount-anomaly', '--days', days], {
        CASSANDRA_PORT: '1',
      });
      expect(result.code, days).toBe(2);
      expect(result.stderr).toMatch(/option '--days <n>' argument .* is invalid\. expected at most 400 days/);
      expect(result.stderr).toMatch(/Usage: tributary ab report/);
    }
  });

  it('tributary ab: an unknown use case is refused with the known ones, exit 2, before connecting', async () => {
    // Nothing answers at port 1: a command that got as far as the database would exit 1.
    const nowhere = { PG_PORT: '1', CASSANDRA_PORT: '1' };
    for (const args of [
      ['ab', 'assign', 'bogus-uc', 'nobody', '--clear'],
      ['ab', 'assign', 'bogus-uc', 'nobody', 'A'],
      ['ab', 'report', 'bogus-uc'],
      ['ab', 'set', 'bogus-uc', '--control', 'A', '--treatment', 'B'],
    ]) {
      const result = await runCli(args, nowhere);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toContain(
        'no use case named bogus-uc (known: data-quality, amount-anomaly, velocity)',
      );
    }
  });

  it('tributary ab set: the same variant as control and treatment is refused, exit 2, before connecting', async () => {
    const result = await runCli(['ab', 'set', 'amount-anomaly', '--control', 'A', '--treatment', 'A'], {
      PG_PORT: '1',
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /^tributary: error \[USAGE\]: --control and --treatment are both A: an experiment needs two variants\n\nUsage: tributary ab set /,
    );
  });

  it('tributary deploy: an unknown use case or variant is refused with the known ones, exit 2, before connecting', async () => {
    for (const [args, message] of [
      [['deploy', 'bogus-uc'], 'no use case named bogus-uc (known: data-quality, amount-anomaly, velocity)'],
      [['deploy', 'amount-anomaly', '--variant', 'C'], 'amount-anomaly has no variant C (known: A, B)'],
      [['deploy', 'amount-anomaly'], 'amount-anomaly has no variant (none) (known: A, B)'],
    ] as const) {
      const result = await runCli(args, { PG_PORT: '1' });
      expect(result.code, args.join(' ')).toBe(2);
      expect(
        result.stderr.startsWith(`tributary: error [USAGE]: ${message}\n\nUsage: tributary deploy `),
      ).toBe(true);
    }
  });

  it('tributary undeploy: a deployed use case whose module is gone still goes; an unknown one is refused, exit 2', async () => {
    const name = uniqueName('cli').toLowerCase();
    const admin = pgPool();
    const cassandra = cassandraClient();
    const dir = await mkdtemp(path.join(tmpdir(), 'usecases-'));
    await admin.query(`CREATE DATABASE ${name}`);
    try {
      const env = scratchEnv(config, name);
      const applied = await runCli(['db', 'apply'], env);
      expect(applied.code, applied.stderr).toBe(0);
      const module = path.join(dir, 'gone.mjs');
      await writeFile(
        module,
        `export default { name: 'gone-uc', description: 'removed after deploy', variants: [''], needsProfile: false, process() { return []; } };\n`,
      );
      const deployed = await runCli(['deploy', 'gone-uc'], { ...env, USECASE_MODULES: module });
      expect(deployed.code, deployed.stderr).toBe(0);
      // The module is no longer in USECASE_MODULES: its deployment can still be undeployed.
      const undeployed = await runCli(['undeploy', 'gone-uc'], env);
      expect(undeployed.code, undeployed.stderr).toBe(0);
      expect(undeployed.stdout).toBe('undeployed usecase.gone-uc\n');
      for (const [args, message] of [
        [
          ['undeploy', 'bogus-uc'],
          'no use case named bogus-uc (known: data-quality, amount-anomaly, velocity)',
        ],
        [['undeploy', 'amount-anomaly', '--variant', 'Z'], 'amount-anomaly has no variant Z (known: A, B)'],
      ] as const) {
        const result = await runCli(args, env);
        expect(result.code, args.join(' ')).toBe(2);
        expect(
          result.stderr.startsWith(`tributary: error [USAGE]: ${message}\n\nUsage: tributary undeploy `),
        ).toBe(true);
      }
      // A job this build knows that is just not deployed: a failure, not a usage error.
      const notDeployed = await runCli(['undeploy', 'velocity'], env);
      expect(notDeployed.code).toBe(1);
      expect(notDeployed.stderr).toBe('tributary: usecase.velocity is not deployed\n');
    } finally {
      await rm(dir, { recursive: true, force: true });
      await cassandra.execute(`DROP KEYSPACE IF EXISTS ${name}`);
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    }
  });

  it('tributary generate and migrate: a prefix that makes no customer id, or a page without bound, exit 2', async () => {
    for (const args of [
      ['generate', '--customer-prefix', 'bad prefix!'],
      ['generate', '--customer-prefix', ''],
      ['migrate', '--page-size', '100001'],
      ['generate', '--seed', '4294967296'],
      ['generate', '--end', String(Date.UTC(2200, 0, 1))],
      ['generate', '--via', 'gateway', '--gateway-url', 'localhost:8080'],
    ]) {
      // Nothing is reachable on port 1: had the command started its work, it would exit 1.
      const result = await runCli(args, { KAFKA_PORT: '1', PG_PORT: '1', CASSANDRA_PORT: '1' });
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toMatch(/argument .* is invalid/);
    }
  });

  it('tributary customers and keys: an id no customer or key can have is refused before connecting, exit 2', async () => {
    for (const args of [
      ['customers', 'add', 'bad id!'],
      ['keys', 'create', 'bad id!'],
      ['keys', 'list', 'bad id!'],
      ['keys', 'revoke', 'nothex'],
      ['ab', 'assign', 'amount-anomaly', 'acme,bad id!', 'A'],
    ]) {
      const result = await runCli(args, { PG_PORT: '1' });
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toMatch(/argument .* is invalid/);
    }
  });

  it('tributary keys list of a customer that does not exist says so, exit 1, instead of listing nothing', async () => {
    const nobody = uniqueName('nobody');
    const result = await runCli(['keys', 'list', nobody]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`no customer ${nobody}`);
    expect(result.stdout).toBe('');
  });

  it('an unknown command exits 2', async () => {
    const result = await runCli(['launch-rockets']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/unknown command/);
  });

  it('a missing subcommand, or help for an unknown command, prints usage and exits 2; asking for help exits 0', async () => {
    for (const args of [
      [],
      ['stack'],
      ['db'],
      ['ab'],
      ['customers'],
      ['keys'],
      ['help', 'bogus'],
      ['ab', 'help', 'bogus'],
    ]) {
      const result = await runCli(args);
      expect(result.code, args.join(' ')).toBe(2);
      // Help for a command that does not exist says so first.
      const why = args.at(-2) === 'help' ? "error: unknown command 'bogus'\n" : '';
      expect(result.stderr.startsWith(`${why}Usage: tributary`), `${args.join(' ')}: ${result.stderr}`).toBe(
        true,
      );
    }
    for (const args of [
      ['--help'],
      ['ab', '--help'],
      ['help'],
      ['help', 'ab'],
      ['ab', 'help', 'set'],
      ['--version'],
    ]) {
      const result = await runCli(args);
      expect(result.code, args.join(' ')).toBe(0);
      expect(result.stdout, args.join(' ')).toMatch(/^Usage: tributary|^0\.1\.0/);
    }
  });

  it('--help works even with a bad environment', async () => {
    const result = await runCli(['--help'], { KAFKA_PORT: 'nope' });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('stack');
  });

  it('npm run bench: a bad flag or value prints usage and exits 2 before touching the stack', async () => {
    const bench = path.join(config.projectRoot, 'dist', 'scripts', 'bench', 'main.js');
    for (const [args, reason] of [
      [['speed', '--bogus'], /Unknown option '--bogus'/],
      [['speed', '--records', 'abc'], /--records must be a whole number above 0, not "abc"/],
      [['speed', '--rate', '0'], /--rate must be a whole number above 0, not "0"/],
      [['rockets'], /expected one benchmark name, got "rockets"/],
    ] as const) {
      const result = await runScript(bench, args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(reason);
      expect(result.stderr).toContain('usage: npm run bench <ingest|speed|steady|migrate>');
    }
  });
});
