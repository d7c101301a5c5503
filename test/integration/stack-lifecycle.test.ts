/**
 * `stack up | down | status` on a throw-away stack of its own (own home, own ports), so the shared
 * stack the other tests use is never touched: up twice is a no-op, down stops exactly what up started,
 * up again works; a port in use and a server dying at start-up give clear errors.
 */
import { appendFile, chmod, mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive } from '../../scripts/stack/processes.js';
import { runCli } from '../helpers/cli.js';
import { config } from '../helpers/context.js';

interface StatusRow {
  readonly name: string;
  readonly health: string;
  readonly pid?: number;
  readonly version: string;
}

let home: string;
let env: NodeJS.ProcessEnv;

/** Small enough that every start of Kafka and Cassandra rolls their logs several times. */
const LOG_SIZE_KB = 16;

/** The rolled files of a server's log in `logs/`, newest first, with their sizes. */
async function logFiles(service: string): Promise<{ name: string; bytes: number }[]> {
  const names = (await readdir(path.join(home, 'logs')))
    .filter((name) => name === `${service}.log` || name.startsWith(`${service}.log.`))
    .sort((a, b) => a.length - b.length || a.localeCompare(b));
  return Promise.all(
    names.map(async (name) => ({ name, bytes: (await stat(path.join(home, 'logs', name))).size })),
  );
}

async function status(): Promise<StatusRow[]> {
  const result = await runCli(['stack', 'status', '--json'], env);
  return JSON.parse(result.stdout) as StatusRow[];
}

beforeAll(async () => {
  home = await mkdtemp(path.join(tmpdir(), 'tributary-stack-'));
  await chmod(home, 0o755); // PostgreSQL runs as the postgres account and must reach its data folder
  env = {
    TRIBUTARY_HOME: home,
    TRIBUTARY_CACHE: config.cacheDir,
    KAFKA_PORT: '29092',
    KAFKA_CONTROLLER_PORT: '29093',
    CASSANDRA_PORT: '29042',
    CASSANDRA_STORAGE_PORT: '29000',
    CASSANDRA_HEAP: '512m',
    PG_PORT: '29432',
    STACK_LOG_SIZE: `${LOG_SIZE_KB}KB`,
  };
});

afterAll(async () => {
  await runCli(['stack', 'down'], env);
  await rm(home, { recursive: true, force: true });
});

describe('stack lifecycle', () => {
  it('up starts all three servers, applies the schema, and a second up is a no-op', async () => {
    const first = await runCli(['stack', 'up'], env);
    expect(first.stderr).not.toContain('error');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/started (kafka|cassandra|postgres)/);
    expect(first.stdout).toMatch(/schema postgres: \d+ applied\n/);
    expect(first.stdout).toMatch(/schema cassandra: \d+ applied\n/);

    const before = await status();
    expect(before.map((s) => [s.name, s.health])).toEqual([
      ['kafka', 'healthy'],
      ['cassandra', 'healthy'],
      ['postgres', 'healthy'],
    ]);

    // The servers write and roll their own logs; what their JVMs print goes to the .out file.
    // Kafka rolls at each write past the size, so its start fills all five kept files. Cassandra's
    // logger looks once a second: a start of a few seconds rolls it fewer times (CI saw four).
    for (const [service, logLine, fewestRolled] of [
      ['kafka', /^\[\d{4}-\d\d-\d\d [\d:,]+\] INFO /m, 5],
      ['cassandra', /^INFO {2}\[\S+\] \d{4}-\d\d-\d\d /m, 2],
    ] as const) {
      const files = await logFiles(service);
      const rolled = files.length - 1;
      expect(rolled).toBeGreaterThanOrEqual(fewestRolled);
      expect(rolled).toBeLessThanOrEqual(5); // SERVER_LOGS_KEPT
      expect(files.map((f) => f.name)).toEqual([
        `${service}.log`,
        ...Array.from({ length: rolled }, (_, i) => `${service}.log.${i + 1}`),
      ]);
      // Cassandra's logger looks at the size once a second, so a file can pass it by a second's lines.
      for (const file of files) expect(file.bytes).toBeLessThan(4 * LOG_SIZE_KB * 1024);
      const previous = await readFile(path.join(home, 'logs', `${service}.log.1`), 'utf8');
      expect(previous).toMatch(logLine);
      const out = await readFile(path.join(home, 'logs', `${service}.out`), 'utf8');
      expect(out).toMatch(/^--- \S+ starting java ---$/m);
      expect(out).not.toMatch(logLine);
    }

    const second = await runCli(['stack', 'up'], env);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('started nothing (already running)');
    expect(second.stdout).toMatch(/schema postgres: \d+ already-applied\n/);
    const after = await status();
    expect(after.map((s) => s.pid)).toEqual(before.map((s) => s.pid));
  });

  it('down stops exactly the processes up started, and up brings them back', async () => {
    const pids = (await status()).map((s) => s.pid ?? 0);
    const down = await runCli(['stack', 'down'], env);
    expect(down.code).toBe(0);
    expect(down.stdout).toMatch(/kafka: (stopped|killed)/);
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
    const stopped = await status();
    expect(stopped.every((s) => s.health === 'stopped')).toBe(true);
    expect((await runCli(['stack', 'status'], env)).code).toBe(1);

    // What the servers wrote outside their loggers, grown past STACK_LOG_SIZE, is rolled at the next start.
    const grown = ['postgres.log', 'kafka.out', 'cassandra.out'];
    const filler = `${'x'.repeat(99)}\n`.repeat(LOG_SIZE_KB * 11);
    for (const name of grown) await appendFile(path.join(home, 'logs', name), filler);

    const again = await runCli(['stack', 'up'], env);
    expect(again.code).toBe(0);
    expect((await status()).every((s) => s.health === 'healthy')).toBe(true);
    for (const name of grown) {
      const previous = await readFile(path.join(home, 'logs', `${name}.1`), 'utf8');
      expect(previous.endsWith(filler)).toBe(true);
      const current = await readFile(path.join(home, 'logs', name), 'utf8');
      expect(current).toMatch(/^--- \S+ starting \S+ ---\n/);
      expect(current).not.toContain('xxxx');
    }
  });

  it('a port in use is reported with the port and the process holding it, and nothing starts', async () => {
    await runCli(['stack', 'down'], env);
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(29432, '127.0.0.1', resolve));
    try {
      const result = await runCli(['stack', 'up', '--no-schema'], env);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('PORT_IN_USE');
      expect(result.stderr).toContain('port 29432');
      expect(result.stderr).toContain(`pid ${process.pid}`);
      // Checked before anything starts: no server was left running.
      expect((await status()).every((s) => s.health === 'stopped')).toBe(true);
    } finally {
      await new Promise<void>((resolve) => {
        blocker.close(() => {
          resolve();
        });
      });
      await runCli(['stack', 'down'], env);
    }
  });

  it('a server that dies during start-up is reported with the end of its log and where the log is', async () => {
    const result = await runCli(['stack', 'up', '--no-schema'], { ...env, KAFKA_HEAP: '1m' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('Kafka exited during start-up');
    expect(result.stderr).toMatch(/heap/i);
    expect(result.stderr).toContain(path.join(home, 'logs', 'kafka.log'));
    expect(result.stderr).toContain(path.join(home, 'logs', 'kafka.out'));
  });
});
