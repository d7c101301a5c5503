/** Long-running `tributary` processes (serve, speed) for tests: started, awaited on output, killed. */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll } from 'vitest';
import { CLI } from './cli.js';
import { waitFor } from './wait-for.js';

export interface RunningCli {
  readonly child: ChildProcess;
  output(): string;
  /** Resolves with the first match of `pattern` in stdout. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** SIGTERM (graceful) and wait for exit; returns the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL: a crash, nothing flushed. */
  kill(): Promise<void>;
}

const running = new Set<ChildProcess>();
afterAll(() => {
  for (const child of running) child.kill('SIGKILL');
});

export function startCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): RunningCli {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // 'exit', not 'close': `speed`'s jobs share its stdout and stderr, and one killed with it would
  // hold them open after it has gone.
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      running.delete(child);
      resolve(code);
    });
  });
  return {
    child,
    output: () => `${stdout}\n--- stderr ---\n${stderr}`,
    waitForOutput: (pattern, timeoutMs = 60_000) =>
      waitFor(
        () => {
          if (child.exitCode !== null)
            throw new Error(`process exited (${child.exitCode}):\n${stdout}\n${stderr}`);
          return pattern.exec(stdout) ?? undefined;
        },
        { timeoutMs, description: `output matching ${pattern}` },
      ),
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** `tributary serve` on free ports; resolves with its URLs once both servers listen. */
export async function startServe(
  env: NodeJS.ProcessEnv = {},
  extraArgs: readonly string[] = [],
): Promise<{ process: RunningCli; apiUrl: string; registryUrl: string }> {
  const serve = startCli(['serve', '--api-port', '0', '--registry-port', '0', ...extraArgs], env);
  const registry = await serve.waitForOutput(/schema registry listening on (\S+)/);
  const api = await serve.waitForOutput(/API listening on (\S+)/);
  return { process: serve, apiUrl: api[1] ?? '', registryUrl: registry[1] ?? '' };
}
