import { Command, InvalidArgumentError, Option } from '@commander-js/extra-typings';
import { createCassandraClient } from '../../core/cassandra/index.js';
import { TributaryError } from '../../core/errors.js';
import { createPgPool } from '../../core/postgres/index.js';
import {
  isLegacyTable,
  LEGACY_TABLES,
  LegacySource,
  redactUrl,
  runMigration,
  type LegacyTable,
  type MigrateReport,
} from '../../migrations/legacy/index.js';
import { action, commandContext } from '../context.js';
import { parsePositiveInt } from '../options.js';
import { progressBar } from '../progress.js';

const EXIT_INTERRUPTED = 130;

function parseSource(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError('expected a postgres://user:password@host:port/database URL');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new InvalidArgumentError('expected a postgres:// or postgresql:// URL');
  }
  return value;
}

export function parseTables(value: string): LegacyTable[] {
  const names = value.split(',').map((name) => name.trim());
  const unknown = names.filter((name) => !isLegacyTable(name));
  if (names.length === 0 || unknown.length > 0) {
    throw new InvalidArgumentError(`expected a comma-separated list of ${LEGACY_TABLES.join(', ')}`);
  }
  return [...new Set(names.filter(isLegacyTable))]; // each table once, however often it is named
}

function parseDay(value: string): string {
  const time = Date.parse(`${value}T00:00:00Z`);
  if (
    !/^\d{4}-\d{2}-\d{2}$/.test(value) ||
    Number.isNaN(time) ||
    new Date(time).toISOString().slice(0, 10) !== value
  ) {
    throw new InvalidArgumentError('expected a day as YYYY-MM-DD');
  }
  return value;
}

function parseConcurrency(value: string): number {
  const n = parsePositiveInt(value);
  if (n > 64) throw new InvalidArgumentError('expected 1–64');
  return n;
}

/** A page's rows are in memory at once, converted and written, times --concurrency. */
const MAX_PAGE_SIZE = 100_000;

function pageSize(value: string): number {
  const n = parsePositiveInt(value);
  if (n > MAX_PAGE_SIZE) throw new InvalidArgumentError(`expected at most ${MAX_PAGE_SIZE} rows`);
  return n;
}

function parseRate(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected rows per second > 0');
  return n;
}

const n = (value: number): string => value.toLocaleString('en');
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

function printReport(report: MigrateReport, source: string): void {
  const out: string[] = [];
  const run =
    report.runId === null ? report.mode : `run ${report.runId}${report.resumed ? ' (resumed)' : ''}`;
  out.push(`migrate ${run} from ${source}`);
  for (const t of report.tables) {
    if (t.alreadyDone) {
      out.push(
        `  ${t.table}: done before, nothing new (${n(t.total.rowsRead)} read, ${n(t.total.rowsWritten)} written, ${n(t.total.rowsRejected)} rejected)`,
      );
      continue;
    }
    const verb = report.mode === 'dry-run' ? 'convertible' : 'written';
    const rate = Math.round((t.read * 1000) / Math.max(1, t.durationMs));
    out.push(
      `  ${t.table}: ${n(t.read)} read, ${n(t.written)} ${verb}, ${n(t.rejected)} rejected in ${seconds(t.durationMs)} (${n(rate)} rows/s)` +
        (t.total.rowsRead !== t.read
          ? `; whole run: ${n(t.total.rowsRead)} read, ${n(t.total.rowsWritten)} ${verb}, ${n(t.total.rowsRejected)} rejected`
          : ''),
    );
  }
  if (report.rejects.total > 0) {
    const where = report.runId === null ? '' : ` (all of them in migration_rejects, run_id ${report.runId})`;
    out.push(`rejected rows: ${n(report.rejects.total)}${where}; the first ${report.rejects.first.length}:`);
    for (const r of report.rejects.first)
      out.push(`  ${r.table} ${r.rowKey} ${r.naturalKey} [${r.stage}] ${r.reason}`);
  }
  const verification = report.verification;
  if (verification !== null) {
    out.push(`verification (${seconds(verification.durationMs)}): ${verification.ok ? 'OK' : 'FAILED'}`);
    for (const t of verification.tables) {
      const targets = [...new Set(t.days.map((d) => d.target))].join(', ');
      const days = new Set(t.days.map((d) => d.day)).size;
      const when = t.table === 'customers' ? '' : ` on ${n(days)} day${days === 1 ? '' : 's'}`;
      out.push(
        `  ${t.table}: ${n(t.verified)} rows${when} compared in ${targets || '-'}; ${t.ok ? 'match' : 'MISMATCH'}` +
          ` (excluded: ${n(t.rejected)} rejected, ${n(t.refused)} refused by Cassandra, ${n(t.expiring)} leaving the retention window)`,
      );
      for (const m of t.mismatches) {
        const kind = m.explained ? 'note' : 'MISMATCH';
        out.push(
          `  ${kind} ${m.target} ${m.day}: ${n(m.counts.missing)} missing, ${n(m.counts.different)} different, ${n(m.counts.extra)} extra, ${n(m.counts.duplicates)} legacy duplicates${m.truncated ? ' (truncated)' : ''}`,
        );
        for (const [label, keys] of [
          ['missing', m.missing],
          ['different', m.different],
          ['extra', m.extra],
          ['duplicates', m.duplicates],
        ] as const) {
          if (keys.length > 0) out.push(`    ${label}: ${keys.join(', ')}`);
        }
      }
    }
  }
  const read = report.tables.reduce((s, t) => s + t.read, 0);
  const written = report.tables.reduce((s, t) => s + t.written, 0);
  const rejected = report.tables.reduce((s, t) => s + t.rejected, 0);
  const verified = verification?.tables.reduce((s, t) => s + t.verified, 0) ?? 0;
  out.push(
    `${report.status} in ${seconds(report.durationMs)}: ${n(read)} read, ${n(written)} ${report.mode === 'dry-run' ? 'convertible' : 'written'}, ` +
      `${n(rejected)} rejected, ${n(verified)} verified`,
  );
  process.stdout.write(`${out.join('\n')}\n`);
}

function exitCode(report: MigrateReport): number {
  if (report.status === 'interrupted') return EXIT_INTERRUPTED;
  if (report.rejects.total > 0) {
    process.stderr.write(
      `tributary: ${n(report.rejects.total)} rows could not be migrated (see the reject report)\n`,
    );
  }
  if (report.verification?.ok === false) process.stderr.write('tributary: verification found differences\n');
  return report.rejects.total > 0 || report.verification?.ok === false ? 1 : 0;
}

export function migrateCommand(): Command {
  return new Command('migrate')
    .description(
      'move the legacy PostgreSQL store into Cassandra and the control plane: resumable, verified, bounded memory',
    )
    .option('--source <url>', 'the legacy PostgreSQL database (default: DATABASE_URL)', parseSource)
    .addOption(
      new Option('--tables <list>', `tables to move: ${LEGACY_TABLES.join(',')}`)
        .argParser(parseTables)
        .default([...LEGACY_TABLES], 'all'),
    )
    .addOption(
      new Option(
        '--from <day>',
        'first day (YYYY-MM-DD, UTC, inclusive) of event_time / created_at',
      ).argParser(parseDay),
    )
    .addOption(new Option('--to <day>', 'last day (YYYY-MM-DD, UTC, inclusive)').argParser(parseDay))
    .addOption(
      new Option('--concurrency <n>', 'pages written at once (1–64)').argParser(parseConcurrency).default(4),
    )
    .addOption(
      new Option('--rate <rows-per-second>', 'at most this many rows per second').argParser(parseRate),
    )
    .addOption(
      new Option(
        '--page-size <rows>',
        `rows per keyset page, at most ${MAX_PAGE_SIZE} (memory grows with it)`,
      )
        .argParser(pageSize)
        .default(5_000),
    )
    .addOption(
      new Option('--dry-run', 'read and convert everything, report rejects, write nothing').conflicts([
        'verifyOnly',
        'restart',
      ]),
    )
    .addOption(
      new Option('--verify-only', 'only compare the source with what was migrated').conflicts(['restart']),
    )
    .option('--restart', 'start a new run instead of resuming the last one of the same scope')
    .option('--json', 'print the report as JSON')
    .action(
      action(async (options) => {
        const { config, logger } = commandContext();
        if (options.from !== undefined && options.to !== undefined && options.from > options.to) {
          throw new TributaryError('USAGE', `--from ${options.from} is after --to ${options.to}`);
        }
        const sourceUrl = options.source ?? config.postgres.url;
        const scope = { fromDay: options.from ?? null, toDay: options.to ?? null };
        const stop = new AbortController();
        const onSignal = (): void => {
          logger.warn('stopping: finishing the pages in flight and saving the checkpoint');
          stop.abort(new TributaryError('UNAVAILABLE', 'interrupted by a signal'));
        };
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        const controlPlane = createPgPool({
          url: config.postgres.url,
          logger,
          max: 4,
          applicationName: 'tributary-migrate',
        });
        const source = LegacySource.open(sourceUrl, logger, scope);
        const cassandra = createCassandraClient({
          contactPoints: config.cassandra.contactPoints,
          localDataCenter: config.cassandra.localDataCenter,
          logger,
        });
        try {
          const report = await runMigration(
            { config, logger, controlPlane, cassandra, source },
            {
              sourceUrl,
              tables: options.tables,
              ...scope,
              mode:
                options.dryRun === true ? 'dry-run' : options.verifyOnly === true ? 'verify-only' : 'migrate',
              restart: options.restart === true,
              concurrency: options.concurrency,
              ...(options.rate === undefined ? {} : { rate: options.rate }),
              pageSize: options.pageSize,
              signal: stop.signal,
              progress: (label, total) => progressBar(label, total, 'rows'),
            },
          );
          if (options.json === true) {
            process.stdout.write(
              `${JSON.stringify(report, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}\n`,
            );
          } else printReport(report, redactUrl(sourceUrl));
          return exitCode(report);
        } finally {
          process.removeListener('SIGINT', onSignal);
          process.removeListener('SIGTERM', onSignal);
          await cassandra.shutdown();
          await source.close();
          await controlPlane.end();
        }
      }),
    );
}
