/**
 * Background server processes: started detached with their own log file, tracked by pid file,
 * stopped gracefully then forcibly. Linux only (reads /proc).
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { mkdir, readFile, readdir, readlink, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { TributaryError } from '../../core/errors.js';
import { SERVER_LOGS_KEPT } from './layout.js';

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie (exited, not yet reaped by its parent) is not alive for our purposes.
  return !isZombie(pid);
}

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return /^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false; // no /proc entry readable: trust kill(0)
  }
}

export async function readPid(pidFile: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(pidFile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** The pid recorded in the pid file if that process is still running, else undefined. */
export async function runningPid(pidFile: string): Promise<number | undefined> {
  const pid = await readPid(pidFile);
  return pid !== undefined && isAlive(pid) ? pid : undefined;
}

export interface StartOptions {
  readonly command: string;
  readonly args: readonly string[];
  /** Where its stdout and stderr go, appended, after a line that marks this start. */
  readonly outputFile: string;
  /**
   * An output file this large or larger is rolled before the start (`<file>.1` the newest of
   * SERVER_LOGS_KEPT older files): what a server prints outside its own logger is bounded per start.
   */
  readonly rollAtBytes: number;
  readonly pidFile: string;
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly uid?: number;
  readonly gid?: number;
}

/** Starts a detached process writing stdout and stderr to its output file; returns its pid. */
export async function startDetached(options: StartOptions): Promise<number> {
  await mkdir(path.dirname(options.outputFile), { recursive: true });
  await mkdir(path.dirname(options.pidFile), { recursive: true });
  await rollIfLarge(options.outputFile, options.rollAtBytes);
  const fd = openSync(options.outputFile, 'a');
  try {
    writeSync(fd, `--- ${new Date().toISOString()} starting ${options.command} ---\n`);
    const child = spawn(options.command, options.args, {
      detached: true,
      stdio: ['ignore', fd, fd],
      cwd: options.cwd,
      env: options.env ?? process.env,
      ...(options.uid === undefined ? {} : { uid: options.uid }),
      ...(options.gid === undefined ? {} : { gid: options.gid }),
    });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('spawn', () => {
        if (child.pid === undefined) reject(new Error(`no pid for ${options.command}`));
        else resolve(child.pid);
      });
    });
    child.unref();
    await writeFile(options.pidFile, `${pid}\n`);
    return pid;
  } finally {
    closeSync(fd);
  }
}

/** Renames `file` to `file.1` (and each older one up, dropping the oldest) when it has reached `maxBytes`. */
export async function rollIfLarge(file: string, maxBytes: number): Promise<boolean> {
  const size = await stat(file).then(
    (s) => s.size,
    () => 0,
  );
  if (size < maxBytes) return false;
  await rm(`${file}.${SERVER_LOGS_KEPT}`, { force: true });
  for (let i = SERVER_LOGS_KEPT - 1; i >= 1; i--) {
    await rename(`${file}.${i}`, `${file}.${i + 1}`).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    });
  }
  await rename(file, `${file}.1`);
  return true;
}

export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await delay(100);
  }
  return !isAlive(pid);
}

export type StopOutcome = 'not-running' | 'stopped' | 'killed';

/** Sends `signal`, waits up to `timeoutMs`, then SIGKILL. Removes the pid file. */
export async function stopProcess(
  pidFile: string,
  timeoutMs: number,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<StopOutcome> {
  const pid = await runningPid(pidFile);
  if (pid === undefined) {
    await rm(pidFile, { force: true });
    return 'not-running';
  }
  process.kill(pid, signal);
  let outcome: StopOutcome = 'stopped';
  if (!(await waitForExit(pid, timeoutMs))) {
    process.kill(pid, 'SIGKILL');
    await waitForExit(pid, 10_000);
    outcome = 'killed';
  }
  await rm(pidFile, { force: true });
  return outcome;
}

/** The last `lines` lines of a file; undefined when it cannot be read (never written). */
export async function tailFile(file: string, lines: number): Promise<string | undefined> {
  try {
    const text = await readFile(file, 'utf8');
    return text
      .split('\n')
      .slice(-lines - 1)
      .join('\n')
      .trimEnd();
  } catch {
    return undefined;
  }
}

/** Resident set size of a process in bytes, from /proc. */
export async function residentBytes(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
    return match?.[1] === undefined ? undefined : Number(match[1]) * 1024;
  } catch {
    return undefined;
  }
}

/** Linux's USER_HZ: /proc/<pid>/stat counts CPU time in these ticks. */
const TICKS_PER_SECOND = 100;

/** User + system CPU seconds of a process so far, or undefined if it is gone. */
export async function cpuSeconds(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return undefined; // the process exited
  }
}

export interface PortHolder {
  readonly pid: number;
  readonly command: string;
}

/** The listening TCP socket's owner for a port, found through /proc (undefined if free or unknown). */
export async function findPortHolder(port: number): Promise<PortHolder | undefined> {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = await readFile(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      const local = cols[1];
      const state = cols[3];
      const inode = cols[9];
      if (local === undefined || state !== '0A' || inode === undefined) continue;
      const portHex = local.split(':').pop() ?? '';
      if (Number.parseInt(portHex, 16) === port) inodes.add(inode);
    }
  }
  if (inodes.size === 0) return undefined;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = await readdir(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = await readlink(`/proc/${entry}/fd/${fd}`);
      } catch {
        continue;
      }
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode !== undefined && inodes.has(inode)) {
        const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
        return { pid: Number(entry), command: cmdline.split('\0').join(' ').trim().slice(0, 200) };
      }
    }
  }
  return { pid: 0, command: 'unknown (not visible to this user)' };
}

/** Throws PORT_IN_USE naming the port and its holder when a port this stack needs is taken. */
export async function assertPortFree(service: string, port: number): Promise<void> {
  const holder = await findPortHolder(port);
  if (holder === undefined) return;
  throw new TributaryError(
    'PORT_IN_USE',
    `${service} needs port ${port}, which is in use by pid ${holder.pid} (${holder.command}); ` +
      `stop that process or choose another port in the configuration`,
    { details: { port, holder } },
  );
}
