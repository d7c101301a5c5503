/**
 * `npm run bench migrate`: rows/s of `tributary migrate` over N generated legacy records, and its ratio
 * to the slower of the two things it cannot beat, measured in the same run on the same rows: a raw
 * keyset read of the legacy table (no conversion) and a raw write of the converted records by the
 * master dataset writer alone (no reading in the timed part). Resident memory is sampled during the
 * migration (it must stay flat whatever N). Runs in a database and keyspaces of its own, dropped after.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { createCassandraClient, type CassandraClient } from '../../core/cassandra/index.js';
import { loadConfig, type Config } from '../../core/config.js';
import type { Logger } from '../../core/logger.js';
import { createPgPool, type PgPool } from '../../core/postgres/index.js';
import {
  fillLegacy,
  LegacySource,
  RecordSink,
  convertRecord,
  runMigration,
} from '../../migrations/legacy/index.js';
import type { LegacyRecordRow, MigratedRecord } from '../../migrations/legacy/index.js';
import { applySchema } from '../../migrations/schema/index.js';
import { perSecond, writeSection, type BenchRow } from './report.js';

const PAGE = 5_000;
const CONCURRENCY = 4;
const MIB = 2 ** 20;
const percent = (share: number): string => `${Math.round(share * 100)}%`;

interface World {
  readonly config: Config;
  readonly keyspace: string;
}

async function world(base: Config, logger: Logger, database: string, keyspace: string): Promise<World> {
  const url = new URL(base.postgres.url);
  url.pathname = `/${database}`;
  const config = loadConfig({ ...process.env, DATABASE_URL: url.toString(), CASSANDRA_KEYSPACE: keyspace });
  const runs = await applySchema(config, logger);
  const failed = runs.find((run) => run.error !== undefined);
  if (failed !== undefined) throw new Error(`schema: ${failed.error ?? ''}`);
  return { config, keyspace };
}

/** (a) Keyset pages of the legacy table, decoded, not converted. */
async function rawRead(source: LegacySource): Promise<number> {
  const began = performance.now();
  let after: string | null = null;
  let rows = 0;
  for (;;) {
    const page: LegacyRecordRow[] = await source.page('records', after, PAGE);
    rows += page.length;
    const last = page.at(-1);
    if (last === undefined || page.length < PAGE) break;
    after = last.id;
  }
  return perSecond(rows, performance.now() - began);
}

/** (b) The same records written by the master dataset writer alone: reading and converting untimed. */
async function rawWrite(source: LegacySource, sink: RecordSink): Promise<{ rate: number; cpu: number }> {
  let after: string | null = null;
  let rows = 0;
  let writingMs = 0;
  let cpuMicros = 0;
  for (;;) {
    const chunk: MigratedRecord[][] = [];
    for (let i = 0; i < CONCURRENCY * 4; i += 1) {
      const page: LegacyRecordRow[] = await source.page('records', after, PAGE);
      const last = page.at(-1);
      if (last === undefined) break;
      after = last.id;
      chunk.push(
        page.flatMap((row) => {
          const converted = convertRecord(row);
          return converted.ok ? [converted.value] : [];
        }),
      );
    }
    if (chunk.length === 0) break;
    const began = performance.now();
    const cpu = process.cpuUsage();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        for (let page = chunk[next++]; page !== undefined; page = chunk[next++]) await sink.write(page);
      }),
    );
    writingMs += performance.now() - began;
    const used = process.cpuUsage(cpu);
    cpuMicros += used.user + used.system;
    rows += chunk.reduce((n, page) => n + page.length, 0);
  }
  return { rate: perSecond(rows, writingMs), cpu: cpuMicros / 1000 / Math.max(1, writingMs) };
}

async function dropAll(
  base: Config,
  cassandra: CassandraClient,
  database: string,
  keyspaces: readonly string[],
) {
  for (const keyspace of keyspaces) await cassandra.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
  const admin = createPgPool({ url: base.postgres.url, max: 1 });
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

/**
 * Waits (up to a minute) until Cassandra runs no compaction, so that one phase does not pay for the
 * compactions of the data the previous phase wrote.
 */
async function settle(cassandra: CassandraClient): Promise<void> {
  const deadline = Date.now() + 60_000;
  let quiet = 0;
  while (quiet < 3 && Date.now() < deadline) {
    const tasks = await cassandra.execute('SELECT kind FROM system_views.sstable_tasks');
    quiet = tasks.rows.length === 0 ? quiet + 1 : 0;
    await delay(1_000);
  }
}

export async function benchMigrate(base: Config, logger: Logger, rows = 5_000_000): Promise<string> {
  const stamp = Date.now().toString(36);
  const database = `bench_migrate_${stamp}`;
  const keyspaces = [`bench_raw_${stamp}`, `bench_mig_${stamp}`] as const;
  const cassandra = createCassandraClient({
    contactPoints: base.cassandra.contactPoints,
    localDataCenter: base.cassandra.localDataCenter,
    logger,
  });
  const admin = createPgPool({ url: base.postgres.url, max: 1, logger });
  await admin.query(`CREATE DATABASE ${database}`);
  await admin.end();
  let pool: PgPool | undefined;
  let source: LegacySource | undefined;
  const out: BenchRow[] = [];
  try {
    const raw = await world(base, logger, database, keyspaces[0]);
    const mig = await world(base, logger, database, keyspaces[1]);
    pool = createPgPool({ url: mig.config.postgres.url, max: 4, logger });
    source = LegacySource.open(mig.config.postgres.url, logger, { fromDay: null, toDay: null });

    let began = performance.now();
    await fillLegacy(pool, {
      records: rows,
      customers: 200,
      days: 7,
      endMs: Date.now() - 3_600_000,
      prefix: 'bench',
      findingEvery: 0,
    });
    out.push({
      metric: 'fill (INSERT … SELECT generate_series)',
      value: `${perSecond(rows, performance.now() - began).toLocaleString('en')} rows/s`,
    });

    const readRate = await rawRead(source);
    out.push({
      metric: '(a) raw PostgreSQL keyset read',
      value: `${readRate.toLocaleString('en')} rows/s`,
      note: `${PAGE.toLocaleString('en')}-row pages, every column as text, decoded, not converted`,
    });
    const sink = new RecordSink({
      client: cassandra,
      keyspace: raw.keyspace,
      retentionDays: raw.config.cassandra.retentionDays,
      logger,
      requests: 16,
    });
    await settle(cassandra);
    const { rate: writeRate, cpu: writeCpu } = await rawWrite(source, sink);
    out.push({
      metric: '(b) raw master dataset write',
      value: `${writeRate.toLocaleString('en')} rows/s`,
      note: `MasterDatasetWriter alone (2 tables), ${CONCURRENCY} pages × 16 requests in flight, reading untimed; Node CPU ${percent(writeCpu)} of a core`,
    });

    // The raw copy is no longer needed: dropping it stops its compactions, which would otherwise run
    // during the migration and slow it down for reasons that are not the migration's.
    await cassandra.execute(`DROP KEYSPACE IF EXISTS ${raw.keyspace}`);
    await settle(cassandra);
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const marks: string[] = [];
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 100);
    began = performance.now();
    const cpuBefore = process.cpuUsage();
    let copyCpu: number | undefined;
    const report = await runMigration(
      { config: mig.config, logger, controlPlane: pool, cassandra, source },
      {
        sourceUrl: mig.config.postgres.url,
        tables: ['records'],
        fromDay: null,
        toDay: null,
        mode: 'migrate',
        restart: true,
        concurrency: CONCURRENCY,
        pageSize: PAGE,
        progress: (label) => {
          if (label.startsWith('verify') && copyCpu === undefined) {
            const used = process.cpuUsage(cpuBefore);
            copyCpu = (used.user + used.system) / 1000 / Math.max(1, performance.now() - began);
          }
          let quarter = 1;
          return {
            update: (done) => {
              if (label === 'records' && done >= (rows * quarter) / 4) {
                marks.push(`${quarter * 25}%: ${Math.round(process.memoryUsage().rss / MIB)} MiB`);
                quarter += 1;
              }
            },
            stop: () => undefined,
          };
        },
      },
    );
    clearInterval(sampler);
    const records = report.tables.find((t) => t.table === 'records');
    const migrateRate = perSecond(records?.read ?? 0, records?.durationMs ?? 1);
    const ceiling = Math.min(readRate, writeRate);
    out.push({
      metric: '(c) `migrate` (read, convert, write both tables, checkpoint)',
      value: `${migrateRate.toLocaleString('en')} rows/s`,
      note: `ratio to the slower of (a) and (b): ${(migrateRate / ceiling).toFixed(2)} (target ≥ 0.70); status ${report.status}; Node CPU ${copyCpu === undefined ? '?' : percent(copyCpu)} of a core`,
    });
    const verification = report.verification;
    const verified = verification?.tables.reduce((n, t) => n + t.verified, 0) ?? 0;
    out.push({
      metric: 'verification (source again + records + records_by_customer)',
      value: `${perSecond(verified, verification?.durationMs ?? 1).toLocaleString('en')} rows/s`,
      note: `${verified.toLocaleString('en')} rows, ${verification?.ok === true ? 'OK' : 'FAILED'}; whole run ${(report.durationMs / 1000).toFixed(1)} s`,
    });
    out.push({
      metric: 'resident memory during the migration',
      value: `peak ${Math.round(peak / MIB)} MiB`,
      note: `${Math.round(baseline / MIB)} MiB before; ${marks.join(', ')}`,
    });
  } finally {
    await source?.close();
    await pool?.end();
    await dropAll(base, cassandra, database, keyspaces);
    await cassandra.shutdown();
  }
  return writeSection(
    base,
    'migrate',
    `\`npm run bench migrate -- --records ${rows}\`: ${rows.toLocaleString('en')} generated legacy records (200 customers, 7 days), pages of ${PAGE.toLocaleString('en')} rows, ${CONCURRENCY} pages in flight.`,
    out,
  );
}
