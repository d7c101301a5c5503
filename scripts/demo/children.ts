/** The demo runs the platform's own processes (serve, speed) exactly as an operator would. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Config } from '../../core/config.js';

export interface Child {
  readonly process: ChildProcess;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  stop(): Promise<number | null>;
}

/** A `tributary` process: its stdout so far, what to show when it fails, and its exit. */
function spawnTributary(
  config: Config,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): {
  child: ChildProcess;
  stdout: () => string;
  failure: (what: string) => Error;
  exited: Promise<number | null>;
} {
  const child = spawn(process.execPath, [path.join(config.projectRoot, 'bin', 'tributary.js'), ...args], {
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  return {
    child,
    stdout: () => out,
    failure: (what) => new Error(`tributary ${args.join(' ')} ${what}:\n${out}\n${err.slice(-2000)}`),
    // 'close', not 'exit': by then stdout and stderr have been read to their end.
    exited: new Promise<number | null>((resolve) => child.once('close', resolve)),
  };
}

export function startTributary(config: Config, args: readonly string[], env: NodeJS.ProcessEnv): Child {
  const { child, stdout, failure, exited } = spawnTributary(config, args, env);
  return {
    process: child,
    waitFor: async (pattern, timeoutMs = 60_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = pattern.exec(stdout());
        if (match !== null) return match;
        if (child.exitCode !== null || Date.now() > deadline)
          throw failure(`did not print ${String(pattern)}`);
        await delay(100);
      }
    },
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Runs a tributary command to completion; returns its stdout, or throws with its output if it fails. */
export async function runTributary(
  config: Config,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<string> {
  const { stdout, failure, exited } = spawnTributary(config, args, env);
  const code = await exited;
  if (code !== 0) throw failure(`failed (${code})`);
  return stdout().trim();
}
