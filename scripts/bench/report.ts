/** Benchmark results, with the machine and the date, written into BENCHMARKS.md (newest first per bench). */
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../../core/config.js';

export interface BenchRow {
  readonly metric: string;
  readonly value: string;
  readonly note?: string;
}

export function machine(config: Config): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return (
    `${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ` +
    `Kafka ${config.kafka.version}, Cassandra ${config.cassandra.version}, all servers local`
  );
}

/** Replaces the section `## <title>` of BENCHMARKS.md (or appends it). */
export async function writeSection(
  config: Config,
  title: string,
  intro: string,
  rows: readonly BenchRow[],
): Promise<string> {
  const file = path.join(config.projectRoot, 'BENCHMARKS.md');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    text =
      '# Benchmarks\n\nProduced by `npm run bench <name>` on the machine named in each section. Ratios compare against\nthe raw speed of the same server measured in the same run, because these machines are shared and noisy.\n';
  }
  const table = [
    '| metric | value | note |',
    '|---|---|---|',
    ...rows.map((r) => `| ${r.metric} | ${r.value} | ${r.note ?? ''} |`),
  ];
  const section = [
    `## ${title}`,
    '',
    `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC — ${machine(config)}`,
    '',
    intro,
    '',
    ...table,
    '',
  ].join('\n');
  const start = text.indexOf(`## ${title}\n`);
  if (start === -1) text = `${text.trimEnd()}\n\n${section}`;
  else {
    const next = text.indexOf('\n## ', start + 1);
    text = `${text.slice(0, start)}${section}${next === -1 ? '' : text.slice(next + 1)}`;
  }
  await writeFile(file, `${text.trimEnd()}\n`);
  return section;
}

export function perSecond(count: number, ms: number): number {
  return Math.round((count * 1000) / Math.max(1, ms));
}
