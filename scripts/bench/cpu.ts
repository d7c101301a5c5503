/** CPU time of the local servers, for a benchmark's account of where the time went. */
import { readFile } from 'node:fs/promises';
import type { Config } from '../../core/config.js';
import type { Logger } from '../../core/logger.js';
import { Stack } from '../stack/index.js';

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

/** The pids of the servers this machine's stack runs (external ones are not measured). */
export async function serverPids(config: Config, logger: Logger): Promise<Map<string, number>> {
  const pids = new Map<string, number>();
  for (const service of new Stack(config, logger).services) {
    if (!service.local) continue;
    const { pid } = await service.status();
    if (pid !== undefined) pids.set(service.name, pid);
  }
  return pids;
}

/** CPU seconds of each server now. */
export async function serverCpu(pids: ReadonlyMap<string, number>): Promise<Map<string, number>> {
  const cpu = new Map<string, number>();
  for (const [name, pid] of pids) {
    const seconds = await cpuSeconds(pid);
    if (seconds !== undefined) cpu.set(name, seconds);
  }
  return cpu;
}
