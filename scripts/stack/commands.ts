/** Running a command to completion and capturing its output, with a clear error when it is missing. */
import { spawn } from 'node:child_process';
import { TributaryError } from '../../core/errors.js';

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly input?: string;
  /** Run as this user and group (when we are root and a server refuses to run as root). */
  readonly uid?: number;
  readonly gid?: number;
}

/** Runs a command; resolves with its exit code and output (rejects only if it cannot be started). */
export function runCommand(
  command: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      ...(options.uid === undefined ? {} : { uid: options.uid }),
      ...(options.gid === undefined ? {} : { gid: options.gid }),
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => err.push(chunk));
    child.once('error', reject);
    child.once('close', (code) => {
      resolve({
        code: code ?? -1,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** Runs a command and throws `what failed` with its output when it exits non-zero. */
export async function runChecked(
  what: string,
  command: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<CommandResult> {
  let result: CommandResult;
  try {
    result = await runCommand(command, args, options);
  } catch (error) {
    throw new TributaryError('PREREQUISITE_MISSING', `${what}: cannot run ${command}`, { cause: error });
  }
  if (result.code !== 0) {
    const output = `${result.stdout}\n${result.stderr}`.trim().split('\n').slice(-25).join('\n');
    throw new TributaryError('SERVER_START_FAILED', `${what} failed (exit code ${result.code}):\n${output}`);
  }
  return result;
}

/** True when `command` can be found on PATH. */
export async function commandExists(command: string): Promise<boolean> {
  const result = await runCommand('sh', ['-c', `command -v ${command}`]).catch(() => undefined);
  return result?.code === 0;
}

const INSTALL_HINTS: Readonly<Record<string, string>> = {
  java: 'install OpenJDK 17 or newer (Debian: apt-get install openjdk-17-jre-headless)',
  mvn: 'install Apache Maven 3.8 or newer (Debian: apt-get install maven)',
  'apt-get': 'install PostgreSQL 15+ yourself, or set DATABASE_URL to an existing server',
};

export async function requireCommand(command: string, neededFor: string): Promise<void> {
  if (await commandExists(command)) return;
  const hint = INSTALL_HINTS[command] ?? `install ${command}`;
  throw new TributaryError(
    'PREREQUISITE_MISSING',
    `${neededFor} needs \`${command}\`, which is not on PATH: ${hint}`,
  );
}
