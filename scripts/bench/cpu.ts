/** CPU time of the local servers, for a benchmark's account of where the time went. */
import type { Config } from '../../core/config.js';
import type { Logger } from '../../core/logger.js';
import { Stack } from '../stack/index.js';
import { cpuSeconds } from '../stack/processes.js';

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
