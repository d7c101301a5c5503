/** Waiting for a freshly started server: probe until it answers, fail fast if its process dies. */
import { setTimeout as delay } from 'node:timers/promises';
import { TributaryError, describeError } from '../../core/errors.js';
import { isAlive, readPid, tailFile } from './processes.js';

export interface ReadinessTarget {
  readonly name: string;
  readonly pidFile: string;
  /** The server's log, then anything else it writes to (what it printed outside its logger). */
  readonly logFiles: readonly string[];
  readonly probe: () => Promise<void>;
}

export async function waitUntilReady(target: ReadinessTarget, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      await target.probe();
      return;
    } catch (error) {
      lastError = error;
    }
    const pid = await readPid(target.pidFile);
    if (pid === undefined || !isAlive(pid)) {
      throw new TributaryError(
        'SERVER_START_FAILED',
        `${target.name} exited during start-up. ${await lastLines(target.logFiles, 30)}`,
      );
    }
    if (Date.now() >= deadline) {
      throw new TributaryError(
        'SERVER_NOT_READY',
        `${target.name} did not answer within ${Math.round(timeoutMs / 1000)} s (last error: ${describeError(lastError)}). ` +
          (await lastLines(target.logFiles, 20)),
        { retriable: true },
      );
    }
    await delay(500);
  }
}

/** The end of the server's log, and of each other file it wrote something to, each with its path. */
async function lastLines(files: readonly string[], lines: number): Promise<string> {
  const parts: string[] = [];
  for (const [i, file] of files.entries()) {
    const tail = await tailFile(file, lines);
    // The first file is the server's log: say so when it was never written. The others only matter when present.
    if (tail !== undefined || i === 0) parts.push(`Last lines of ${file}:\n${tail ?? '(no log written)'}`);
  }
  return parts.join('\n');
}
