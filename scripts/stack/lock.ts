/** A cross-process lock file (O_EXCL) holding the owner's pid; a dead owner's lock is taken over. */
import { open, readFile, rm } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { TributaryError } from '../../core/errors.js';
import { isAlive } from './processes.js';

export async function withFileLock<T>(file: string, timeoutMs: number, work: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const handle = await open(file, 'wx');
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number.parseInt(await readFile(file, 'utf8').catch(() => ''), 10);
      if (!Number.isInteger(owner) || !isAlive(owner)) {
        await rm(file, { force: true });
        continue;
      }
      if (Date.now() >= deadline) {
        throw new TributaryError('CONFLICT', `another stack command (pid ${owner}) holds ${file}`, {
          retriable: true,
        });
      }
      await delay(250);
    }
  }
  try {
    return await work();
  } finally {
    await rm(file, { force: true });
  }
}
