/** CPU time of the local servers, for a benchmark's account of where the time went. */
import { readFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
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

/** CPU seconds of each process of `pids` (servers, jobs) now; one that has exited is left out. */
export async function processCpu(pids: ReadonlyMap<string, number>): Promise<Map<string, number>> {
  const cpu = new Map<string, number>();
  for (const [name, pid] of pids) {
    const seconds = await cpuSeconds(pid);
    if (seconds !== undefined) cpu.set(name, seconds);
  }
  return cpu;
}

/** One server's CPU µs per record between two processCpu readings; undefined if it was not measured. */
export function serverMicros(
  before: ReadonlyMap<string, number>,
  after: ReadonlyMap<string, number>,
  server: string,
  records: number,
): number | undefined {
  const [b, a] = [before.get(server), after.get(server)];
  return a === undefined || b === undefined ? undefined : ((a - b) * 1e6) / records;
}

/**
 * Waits until every server has been quiet (under `share` of a core) for two seconds in a row, at most
 * `maxMs`: what one measurement left behind (Cassandra's flushes and compactions of a write) must not
 * be billed to the next. Returns how long it waited, or undefined if the servers never went quiet.
 */
export async function serversQuiet(
  pids: ReadonlyMap<string, number>,
  { share = 0.1, maxMs = 120_000 } = {},
): Promise<number | undefined> {
  const began = performance.now();
  let quietFor = 0;
  let before = await processCpu(pids);
  while (performance.now() - began < maxMs) {
    await delay(1_000);
    const now = await processCpu(pids);
    const busiest = Math.max(0, ...[...now].map(([name, s]) => s - (before.get(name) ?? s)));
    before = now;
    quietFor = busiest < share ? quietFor + 1 : 0;
    if (quietFor >= 2) return performance.now() - began;
  }
  return undefined;
}

/** What serversQuiet returned, for a report: "after 3 s", or "never (waited 120 s)". */
export function describeQuiet(waitedMs: number | undefined): string {
  return waitedMs === undefined ? 'never (waited 120 s)' : `after ${(waitedMs / 1000).toFixed(0)} s`;
}

/** The machine's CPU time so far (all cores), busy and in all, from /proc/stat; undefined off Linux. */
export async function machineCpu(): Promise<{ busy: number; total: number } | undefined> {
  const stat = await readFile('/proc/stat', 'utf8').catch(() => undefined);
  const fields = stat?.split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number);
  if (fields === undefined || fields.length < 5) return undefined;
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}

/** The share of the machine's CPU that was busy between two readings, e.g. "87 %". */
export function busyShare(
  before: { busy: number; total: number } | undefined,
  after: { busy: number; total: number } | undefined,
): string {
  if (before === undefined || after === undefined || after.total <= before.total) return 'unknown';
  return `${Math.round((100 * (after.busy - before.busy)) / (after.total - before.total))} %`;
}

/**
 * CPU seconds of this process's children that have exited and been waited for (cutime + cstime), on
 * Linux; 0 elsewhere. Read around a `run` of one command, it is that command's CPU.
 */
export async function exitedChildrenCpu(): Promise<number> {
  const stat = await readFile('/proc/self/stat', 'utf8').catch(() => undefined);
  if (stat === undefined) return 0;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) / 100; // USER_HZ ticks
}

/**
 * What each named process spent between two readings of CPU seconds, as `name <format(seconds)>`,
 * in the order of `after`; a name missing from either reading (not yet started, exited) is left out.
 */
export function cpuSpent(
  before: ReadonlyMap<string, number>,
  after: ReadonlyMap<string, number>,
  format: (seconds: number) => string,
): string[] {
  const spent: string[] = [];
  for (const [name, a] of after) {
    const b = before.get(name);
    if (b !== undefined) spent.push(`${name} ${format(a - b)}`);
  }
  return spent;
}
