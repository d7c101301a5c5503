/** Waiting for a freshly started server: probe until it answers, fail fast if its process dies. */
import { setTimeout as delay } from 'node:timers/promises';
import { TributaryError, describeError } from '../../core/errors.js';
import { isAlive, readPid, tailFile } from './processes.js';

export interface ReadinessTarget {
  readonly name: string;
  readonly pidFile: string;
  readonly logFile: string;
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
        `${target.name} exited during start-up. Last lines of its log:\n${await tailFile(target.logFile, 30)}\n` +
          `Full log: ${target.logFile}`,
      );
    }
    if (Date.now() >= deadline) {
      throw new TributaryError(
        'SERVER_NOT_READY',
        `${target.name} did not answer within ${Math.round(timeoutMs / 1000)} s (last error: ${describeError(lastError)}). ` +
          `Last lines of its log:\n${await tailFile(target.logFile, 20)}\nFull log: ${target.logFile}`,
        { retriable: true },
      );
    }
    await delay(500);
  }
}
