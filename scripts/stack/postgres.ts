/**
 * A PostgreSQL server from Debian's packages, on a data folder and port of our own (so the system's
 * cluster and configuration are never touched). Installed with apt-get when absent.
 */
import { existsSync } from 'node:fs';
import { chown, mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { LOCAL_PG_DATABASE, LOCAL_PG_PASSWORD, LOCAL_PG_USER, type Config } from '../../core/config.js';
import { TributaryError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { probePostgres } from '../../core/postgres/index.js';
import { commandExists, requireCommand, runChecked, runCommand } from './commands.js';
import type { StackLayout } from './layout.js';
import { runningPid, startDetached, stopProcess } from './processes.js';
import { waitUntilReady } from './readiness.js';
import { describeService, type LocalService, type ServiceStatus } from './service.js';

interface RunAs {
  readonly uid: number;
  readonly gid: number;
}

/** The newest installed PostgreSQL's bin folder (Debian keeps them in /usr/lib/postgresql/<v>/bin). */
async function findBinDir(): Promise<string | undefined> {
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = (await readdir(root))
      .filter((v) => /^\d+$/.test(v) && existsSync(path.join(root, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0] !== undefined) return path.join(root, versions[0], 'bin');
  }
  if (await commandExists('pg_config')) {
    const result = await runCommand('pg_config', ['--bindir']);
    const dir = result.stdout.trim();
    if (result.code === 0 && existsSync(path.join(dir, 'initdb'))) return dir;
  }
  return undefined;
}

async function installPostgres(logger: Logger): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new TributaryError(
      'PREREQUISITE_MISSING',
      'PostgreSQL is not installed and installing it needs root: run `sudo apt-get install postgresql`, ' +
        'or set DATABASE_URL to an existing server',
    );
  }
  await requireCommand('apt-get', 'installing PostgreSQL');
  logger.info('installing PostgreSQL from Debian packages (apt-get)');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await runChecked('apt-get update', 'apt-get', ['update', '-q'], { env });
  await runChecked('apt-get install postgresql', 'apt-get', ['install', '-y', '-q', 'postgresql'], { env });
}

/** Servers refuse to run as root: when we are root, run them as the `postgres` account. */
async function runAsFor(): Promise<RunAs | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const uid = await runCommand('id', ['-u', 'postgres']);
  const gid = await runCommand('id', ['-g', 'postgres']);
  if (uid.code !== 0 || gid.code !== 0) {
    throw new TributaryError(
      'PREREQUISITE_MISSING',
      'running PostgreSQL as root needs the `postgres` system account (created by Debian`s postgresql package)',
    );
  }
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

export class PostgresService implements LocalService {
  readonly name = 'postgres' as const;
  private readonly paths;
  private binDir: string | undefined;
  private version = 'unknown';

  constructor(
    private readonly config: Config,
    layout: StackLayout,
    private readonly logger: Logger,
  ) {
    this.paths = layout.service('postgres');
  }

  get local(): boolean {
    return this.config.postgres.local;
  }

  get ports(): { label: string; port: number }[] {
    const config = this.config;
    return [{ label: 'PostgreSQL', port: config.postgres.port }];
  }

  async isRunning(): Promise<boolean> {
    return (await runningPid(this.paths.pidFile)) !== undefined;
  }

  private get socketDir(): string {
    return path.join(this.paths.dataDir, 'socket');
  }

  private get clusterDir(): string {
    return path.join(this.paths.dataDir, 'cluster');
  }

  /** The maintenance database URL (exists before ours is created). */
  private get adminUrl(): string {
    const url = new URL(this.config.postgres.url);
    url.pathname = '/postgres';
    return url.toString();
  }

  async prepare(): Promise<void> {
    this.binDir = await findBinDir();
    if (this.binDir === undefined) {
      await installPostgres(this.logger);
      this.binDir = await findBinDir();
      if (this.binDir === undefined) {
        throw new TributaryError(
          'PREREQUISITE_MISSING',
          'PostgreSQL was installed but initdb cannot be found',
        );
      }
    }
    const versionOut = await runCommand(path.join(this.binDir, 'postgres'), ['--version']);
    this.version = /(\d+(\.\d+)*)/.exec(versionOut.stdout)?.[1] ?? 'unknown';
    const runAs = await runAsFor();
    await mkdir(this.paths.dataDir, { recursive: true });
    await mkdir(this.socketDir, { recursive: true });
    await mkdir(path.dirname(this.paths.logFile), { recursive: true });
    if (runAs !== undefined) {
      await chown(this.paths.dataDir, runAs.uid, runAs.gid);
      await chown(this.socketDir, runAs.uid, runAs.gid);
      const reach = await runCommand('test', ['-w', this.paths.dataDir], runAs);
      if (reach.code !== 0) {
        throw new TributaryError(
          'PREREQUISITE_MISSING',
          `PostgreSQL runs as the postgres account, which cannot reach ${this.paths.dataDir}: make its parent ` +
            'folders traversable (chmod o+x) or set TRIBUTARY_HOME to a folder it can reach',
        );
      }
    }
    if (!existsSync(path.join(this.clusterDir, 'PG_VERSION'))) {
      const pwFile = path.join(this.paths.dataDir, 'initdb.pw');
      await writeFile(pwFile, `${LOCAL_PG_PASSWORD}\n`, { mode: 0o600 });
      if (runAs !== undefined) await chown(pwFile, runAs.uid, runAs.gid);
      this.logger.info({ dataDir: this.clusterDir }, 'initialising PostgreSQL cluster');
      await runChecked(
        'initdb',
        path.join(this.binDir, 'initdb'),
        [
          '-D',
          this.clusterDir,
          '-U',
          LOCAL_PG_USER,
          `--pwfile=${pwFile}`,
          '--auth-local=trust',
          '--auth-host=scram-sha-256',
          '--encoding=UTF8',
          '--no-locale',
        ],
        { ...(runAs ?? {}) },
      );
    }
  }

  async start(): Promise<boolean> {
    if (await this.isRunning()) return false;
    if (this.binDir === undefined) await this.prepare();
    const binDir = this.binDir ?? '';
    const runAs = await runAsFor();
    const pid = await startDetached({
      command: path.join(binDir, 'postgres'),
      args: [
        '-D',
        this.clusterDir,
        '-p',
        String(this.config.postgres.port),
        '-k',
        this.socketDir,
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'max_connections=200',
        '-c',
        'shared_buffers=256MB',
        '-c',
        'fsync=on',
      ],
      outputFile: this.paths.logFile,
      rollAtBytes: this.config.stackLogBytes,
      pidFile: this.paths.pidFile,
      ...(runAs ?? {}),
    });
    this.logger.info({ pid, log: this.paths.logFile }, 'PostgreSQL started');
    return true;
  }

  async probe(): Promise<void> {
    await probePostgres(this.config.postgres.url);
  }

  async waitReady(timeoutMs: number): Promise<void> {
    await waitUntilReady(
      {
        name: 'PostgreSQL',
        pidFile: this.paths.pidFile,
        logFiles: [this.paths.logFile],
        probe: () => probePostgres(this.adminUrl).then(() => undefined),
      },
      timeoutMs,
    );
    await this.ensureDatabase();
    await this.probe();
  }

  private async ensureDatabase(): Promise<void> {
    const client = new pg.Client({ connectionString: this.adminUrl });
    client.on('error', () => undefined); // a lost session fails the statement below instead
    await client.connect();
    try {
      const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [LOCAL_PG_DATABASE]);
      if (exists.rowCount === 0) {
        await client.query(`CREATE DATABASE ${LOCAL_PG_DATABASE}`).catch((error: unknown) => {
          // Another `stack up` created it between our check and our create.
          if ((error as { code?: string }).code !== '42P04') throw error;
        });
      }
    } finally {
      await client.end();
    }
  }

  /** SIGINT is PostgreSQL's "fast" shutdown: clients are disconnected, data is flushed. */
  stop(): Promise<'not-running' | 'stopped' | 'killed'> {
    return stopProcess(this.paths.pidFile, 30_000, 'SIGINT');
  }

  async status(): Promise<ServiceStatus> {
    if (this.version === 'unknown') {
      const binDir = await findBinDir();
      if (binDir !== undefined) {
        const out = await runCommand(path.join(binDir, 'postgres'), ['--version']);
        this.version = /(\d+(\.\d+)*)/.exec(out.stdout)?.[1] ?? 'unknown';
      }
    }
    const url = new URL(this.config.postgres.url);
    return describeService(this, {
      version: this.version,
      address: `${url.hostname}:${url.port || '5432'}`,
      pidFile: this.paths.pidFile,
      dataDir: this.clusterDir,
    });
  }
}
