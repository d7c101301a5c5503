/**
 * `tributary migrate` end to end on a database and keyspace of its own per test: edge values read
 * back from Cassandra exactly, the reject report, one run at a time, a dry run that writes nothing,
 * and verification that catches a row changed in Cassandra afterwards.
 */
import { describe, expect, it } from 'vitest';
import { cassandraTypes } from '../../core/cassandra/index.js';
import { findingId } from '../../core/finding.js';
import type { PgPool } from '../../core/postgres/index.js';
import { recordBucket, utcDay } from '../../ingest/index.js';
import { fillLegacy } from '../../migrations/legacy/index.js';
import { runCli } from '../helpers/cli.js';
import { cassandraClient } from '../helpers/context.js';
import { checkpointRows, legacyWorlds, migrationRuns, startMigrate } from '../helpers/legacy.js';
import { waitFor } from '../helpers/wait-for.js';

const cassandra = cassandraClient();
const world = legacyWorlds();
const DAY_MS = 86_400_000;
/** A recent instant (within the retention window), in whole seconds. */
const recent = Math.floor((Date.now() - 2 * DAY_MS) / 1000) * 1000;

interface EdgeRecord {
  readonly recordId: string;
  readonly eventTime: string;
  readonly eventMs: number;
  readonly amount: string;
  readonly amountMinor: bigint;
  readonly currency: string;
  readonly merchant: string | null;
  readonly attributes: string;
  readonly expectedAttributes: Record<string, string>;
}

const isoAt = (ms: number, offset: string): string => {
  const sign = offset.startsWith('-') ? -1 : 1;
  const [h = 0, m = 0] = offset.slice(1).split(':').map(Number);
  const local = new Date(ms + sign * (h * 60 + m) * 60_000).toISOString().replace('T', ' ').replace('Z', '');
  return `${local}${offset}`;
};

const EDGE: readonly EdgeRecord[] = [
  {
    recordId: 'r-epoch',
    eventTime: '1970-01-01 00:00:00+00',
    eventMs: 0,
    amount: '0.01',
    amountMinor: 1n,
    currency: 'EUR',
    merchant: 'Nordwind',
    attributes: '{}',
    expectedAttributes: {},
  },
  {
    recordId: 'r-moon',
    eventTime: '1969-07-20 16:17:40.123456-04',
    eventMs: Date.UTC(1969, 6, 20, 20, 17, 40, 123),
    amount: '-9999999999999999.99',
    amountMinor: -999_999_999_999_999_999n,
    currency: 'USD',
    merchant: null,
    attributes: '{}',
    expectedAttributes: {},
  },
  {
    recordId: 'r-dst',
    eventTime: '2026-03-29 03:30:00+02',
    eventMs: Date.UTC(2026, 2, 29, 1, 30),
    amount: '-0.01',
    amountMinor: -1n,
    currency: 'EUR',
    merchant: 'Café Lumière',
    attributes: '{"tags": ["a", "b"], "geo": {"lon": 2.35, "lat": 48.85}}',
    expectedAttributes: { geo: '{"lat":48.85,"lon":2.35}', tags: '["a","b"]' },
  },
  {
    recordId: 'r-max-🚀',
    eventTime: isoAt(recent, '+05:30'),
    eventMs: recent,
    amount: '9999999999999999.99',
    amountMinor: 999_999_999_999_999_999n,
    currency: 'GBP',
    merchant: '東京ストア 🛒',
    attributes: '{"note": "Grüße 😀", "n": 1.50, "ok": true, "none": null, "big": 12345678901234567890.000}',
    expectedAttributes: {
      big: '12345678901234567890.000',
      n: '1.50',
      none: 'null',
      note: 'Grüße 😀',
      ok: 'true',
    },
  },
  {
    recordId: 'r-yen',
    eventTime: isoAt(recent + 1_000, '-03:30'),
    eventMs: recent + 1_000,
    amount: '1500.00',
    amountMinor: 1500n,
    currency: 'JPY',
    merchant: null,
    attributes: '{"empty": {}}',
    expectedAttributes: { empty: '{}' },
  },
  {
    recordId: 'r-2040',
    eventTime: '2040-02-29 12:00:00+00',
    eventMs: Date.UTC(2040, 1, 29, 12),
    amount: '1.00',
    amountMinor: 100n,
    currency: 'CHF',
    merchant: 'Atlas',
    attributes: '{}',
    expectedAttributes: {},
  },
];

async function insertEdgeRows(pool: PgPool): Promise<void> {
  await pool.query(
    `INSERT INTO legacy_customers (customer_id, name, settings, created_at) VALUES
       ('edge', 'Édge Çorp ✨', '{"velocity_max_records": 20, "nested": {"b": [1, 2.50]}}', '2019-12-31 23:00:00-01')`,
  );
  for (const r of EDGE) {
    await pool.query(
      `INSERT INTO legacy_records (customer_id, record_id, event_time, account_id, amount, currency, category, country, merchant, attributes, inserted_at)
       VALUES ('edge', $1, $2, 'конто-1', $3, $4, 'café ☕', 'FR', $5, $6::jsonb, $7)`,
      [r.recordId, r.eventTime, r.amount, r.currency, r.merchant, r.attributes, '2026-11-01 00:00:00.5+00'],
    );
  }
  await pool.query(
    `INSERT INTO legacy_findings (customer_id, usecase, record_ids, code, detail, created_at)
     VALUES ('edge', 'velocity', ARRAY['r-max-🚀', 'r-yen'], 'VELOCITY', '{"count": 15, "window": {"s": 60}}', $1)`,
    [isoAt(recent + 2_000, '+09:00')],
  );
}

async function storedRecord(keyspace: string, recordId: string, eventMs: number) {
  const day = cassandraTypes.LocalDate.fromString(utcDay(new Date(eventMs)));
  const byCustomer = await cassandra.execute(
    `SELECT * FROM ${keyspace}.records_by_customer WHERE customer_id = ? AND day = ? AND event_time = ? AND record_id = ?`,
    ['edge', day, new Date(eventMs), recordId],
    { prepare: true },
  );
  const byDay = await cassandra.execute(
    `SELECT * FROM ${keyspace}.records WHERE day = ? AND bucket = ? AND customer_id = ? AND record_id = ?`,
    [day, recordBucket('edge', recordId), 'edge', recordId],
    { prepare: true },
  );
  return { byCustomer: byCustomer.rows[0], byDay: byDay.rows[0] };
}

describe('tributary migrate', () => {
  it('refuses bad flags with usage and exit code 2', async () => {
    for (const args of [
      ['--tables', 'records,nope'],
      ['--from', '2026-02-30'],
      ['--to', 'yesterday'],
      ['--concurrency', '0'],
      ['--rate', '-5'],
      ['--source', 'mysql://localhost/db'],
      ['--dry-run', '--verify-only'],
      ['--verify-only', '--restart'],
      ['--from', '2026-11-02', '--to', '2026-11-01'],
    ]) {
      const result = await runCli(['migrate', ...args]);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toMatch(/Usage: tributary migrate|\[USAGE\]/);
    }
  });

  it('moves edge values end to end and reads them back from Cassandra exactly', async () => {
    const w = await world();
    await insertEdgeRows(w.pool);
    const result = await runCli(['migrate'], w.env);
    // The 2040 record may be refused by Cassandra (expiry past 2038-01-19 in storage compatibility
    // mode 4): then it is in the reject report and the exit code says so — never silently lost.
    const refused2040 = /r-2040.*\[write\] refused by Cassandra.*2038/.test(result.stdout);
    expect(result.code, result.stdout + result.stderr).toBe(refused2040 ? 1 : 0);
    expect(result.stdout).toMatch(/verification \([\d.]+ s\): OK/);

    for (const r of EDGE) {
      const { byCustomer, byDay } = await storedRecord(w.keyspace, r.recordId, r.eventMs);
      if (r.recordId === 'r-2040' && refused2040) {
        expect(byCustomer).toBeUndefined();
        continue;
      }
      for (const row of [byCustomer, byDay]) {
        expect(row, r.recordId).toBeDefined();
        expect(row?.get('event_time')).toEqual(new Date(r.eventMs));
        expect(row?.get('amount_minor')).toBe(r.amountMinor);
        expect(row?.get('currency')).toBe(r.currency);
        expect(row?.get('country')).toBe('FR');
        expect(row?.get('category')).toBe('café ☕');
        expect(row?.get('account_id')).toBe('конто-1');
        expect(row?.get('merchant')).toBe(r.merchant);
        expect(row?.get('channel')).toBeNull();
        expect(row?.get('schema_id')).toBe(0);
        expect(row?.get('ingested_at')).toEqual(new Date(Date.UTC(2026, 10, 1, 0, 0, 0, 500)));
        const attributes: unknown = row?.get('attributes');
        expect(attributes ?? {}).toEqual(r.expectedAttributes);
      }
    }

    const finding = await cassandra.execute(
      `SELECT * FROM ${w.keyspace}.findings_by_customer WHERE customer_id = 'edge' AND day = ?`,
      [cassandraTypes.LocalDate.fromString(utcDay(new Date(recent + 2_000)))],
      { prepare: true },
    );
    expect(finding.rows).toHaveLength(1);
    const f = finding.rows[0];
    expect(f?.get('finding_id')).toBe(findingId('velocity', '', 'edge', ['r-max-🚀', 'r-yen']));
    expect(f?.get('event_time')).toEqual(new Date(recent + 2_000));
    expect(f?.get('found_at')).toEqual(new Date(recent + 2_000));
    expect(f?.get('variant')).toBe('');
    expect(f?.get('delivered')).toBe(true);
    expect(f?.get('record_ids')).toEqual(['r-max-🚀', 'r-yen']);
    expect(f?.get('detail')).toEqual({ count: '15', window: '{"s":60}' });
    const byUsecase = await cassandra.execute(
      `SELECT count(*) AS n FROM ${w.keyspace}.findings_by_usecase WHERE usecase = 'velocity' AND day = ?`,
      [cassandraTypes.LocalDate.fromString(utcDay(new Date(recent + 2_000)))],
      { prepare: true },
    );
    expect(Number(byUsecase.rows[0]?.get('n'))).toBe(1);

    const customer = await w.pool.query<Record<string, unknown>>(
      `SELECT c.name, c.created_at = '2020-01-01 00:00:00+00' AS created_ok, s.settings::text AS settings
         FROM customers c JOIN customer_settings s USING (customer_id) WHERE customer_id = 'edge'`,
    );
    expect(customer.rows[0]).toEqual({
      name: 'Édge Çorp ✨',
      created_ok: true,
      settings: '{"nested": {"b": [1, 2.50]}, "velocity_max_records": 20}',
    });
  });

  it('reports rows it cannot convert, migrates the rest, and exits non-zero saying how many', async () => {
    const w = await world();
    await fillLegacy(w.pool, { records: 300, customers: 3, days: 2, endMs: recent, prefix: 'ok' });
    await w.pool.query(
      `INSERT INTO legacy_customers (customer_id, name, created_at) VALUES ('bad customer!', 'x', now());
       INSERT INTO legacy_records (customer_id, record_id, event_time, account_id, amount, currency, category, country)
       VALUES ('bad customer!', 'r1', now() - interval '1 day', 'a', 1, 'EUR', 'fuel', 'FR'),
              ('ok-0001', 'huge', now() - interval '1 day', 'a', 9999999999999999.99, 'BHD', 'fuel', 'BH')`,
    );
    const result = await runCli(['migrate'], w.env);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('3 rows could not be migrated');
    expect(result.stdout).toMatch(/rejected rows: 3 /);
    expect(result.stdout).toMatch(/customers bad customer! bad customer! \[convert\] customer_id must be/);
    expect(result.stdout).toMatch(
      /records \d+ ok-0001\/huge \[convert\] amount: 9999999999999999\.99 BHD is .* beyond a signed 64-bit long/,
    );
    expect(result.stdout).toMatch(/verification \([\d.]+ s\): OK/);
    expect(result.stdout).toMatch(
      /records: 300 rows on \d+ days? compared in records, records_by_customer; match \(excluded: 2 rejected/,
    );

    const rejects = await w.pool.query<Record<string, unknown>>(
      'SELECT table_name, natural_key, stage FROM migration_rejects ORDER BY table_name, natural_key',
    );
    expect(rejects.rows).toEqual([
      { table_name: 'customers', natural_key: 'bad customer!', stage: 'convert' },
      { table_name: 'records', natural_key: 'bad customer!/r1', stage: 'convert' },
      { table_name: 'records', natural_key: 'ok-0001/huge', stage: 'convert' },
    ]);
    expect((await migrationRuns(w.pool))[0]?.status).toBe('failed');
  });

  it('refuses a second run while one is running', async () => {
    const w = await world();
    await fillLegacy(w.pool, { records: 8_000, customers: 3, days: 1, endMs: recent, prefix: 'slow' });
    const first = startMigrate(['--tables', 'records', '--rate', '1000', '--page-size', '100'], w.env);
    await waitFor(async () => (await checkpointRows(w.pool, 'records')) > 0, {
      timeoutMs: 60_000,
      description: 'the first run to make progress',
    });
    const second = await runCli(['migrate', '--tables', 'records'], w.env);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/MIGRATION_LOCKED.*another migrate is running \(run [0-9a-f-]+ started/);
    const verifyDuring = await runCli(['migrate', '--tables', 'records', '--verify-only'], w.env);
    expect(verifyDuring.code).toBe(1);
    expect(verifyDuring.stderr).toContain('another migrate is running');
    expect(await first.exited, first.output()).toBe(0);
    expect((await migrationRuns(w.pool)).map((r) => r.status)).toEqual(['succeeded']);
  });

  it('survives lost source connections; a lost lock connection stops the run, and the next run resumes it', async () => {
    const w = await world();
    await fillLegacy(w.pool, { records: 40_000, customers: 5, days: 2, endMs: recent, prefix: 'lost' });
    const args = ['--tables', 'records', '--rate', '4000', '--page-size', '500'];
    const first = startMigrate(args, w.env);
    const terminate = (application: string) =>
      w.pool.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [
        application,
      ]);
    await waitFor(async () => (await checkpointRows(w.pool, 'records')) >= 2_000, {
      timeoutMs: 60_000,
      description: 'progress',
    });
    await terminate('tributary-migrate-source');
    const afterSourceLoss = await checkpointRows(w.pool, 'records');
    await waitFor(async () => (await checkpointRows(w.pool, 'records')) >= afterSourceLoss + 2_000, {
      timeoutMs: 60_000,
      description: 'progress after the source connections were terminated',
    });
    await terminate('tributary-migrate');
    expect(await first.exited).toBe(1);
    expect(first.output()).toContain('lost the connection holding the migration lock');
    expect((await migrationRuns(w.pool)).map((r) => r.status)).toEqual(['running']);

    const second = await runCli(['migrate', ...args.slice(0, 2)], w.env);
    expect(second.code, second.stdout + second.stderr).toBe(0);
    expect(second.stdout).toMatch(/\(resumed\)/);
    expect(second.stdout).toMatch(/whole run: 40,000 read, 40,000 written, 0 rejected/);
    expect(second.stdout).toMatch(/verification \([\d.]+ s\): OK/);
  });

  it('--dry-run converts and reports, and writes nothing anywhere', async () => {
    const w = await world();
    await fillLegacy(w.pool, { records: 500, customers: 2, days: 1, endMs: recent, prefix: 'dry' });
    await w.pool.query(
      `INSERT INTO legacy_records (customer_id, record_id, event_time, account_id, amount, currency, category, country)
       VALUES ('dry-0001', 'bad', now(), 'a', 1, 'eur', 'fuel', 'FR')`,
    );
    const result = await runCli(['migrate', '--dry-run'], w.env);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/records: 501 read, 500 convertible, 1 rejected/);
    expect(result.stdout).toMatch(
      /records \d+ dry-0001\/bad \[convert\] currency must be three upper-case letters/,
    );
    expect(await migrationRuns(w.pool)).toEqual([]);
    const counts = await w.pool.query<Record<string, unknown>>(
      `SELECT (SELECT count(*) FROM customers)::int AS customers, (SELECT count(*) FROM migration_rejects)::int AS rejects`,
    );
    expect(counts.rows[0]).toEqual({ customers: 0, rejects: 0 });
    for (const table of ['records', 'records_by_customer', 'findings_by_customer', 'findings_by_usecase']) {
      const rows = await cassandra.execute(`SELECT * FROM ${w.keyspace}.${table} LIMIT 1`);
      expect(rows.rows, table).toHaveLength(0);
    }
  });

  it('--verify-only catches a row changed or lost in Cassandra after the migration', async () => {
    const w = await world();
    await fillLegacy(w.pool, { records: 2_000, customers: 4, days: 3, endMs: recent, prefix: 'v' });
    const migrated = await runCli(['migrate'], w.env);
    expect(migrated.code, migrated.stdout + migrated.stderr).toBe(0);
    expect((await runCli(['migrate', '--verify-only'], w.env)).code).toBe(0);

    const victim = await w.pool.query<Record<string, unknown>>(
      `SELECT customer_id, record_id, event_time, to_char(event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day
         FROM legacy_records WHERE record_id = 'v-r1234'`,
    );
    const row = victim.rows[0];
    if (row === undefined || !(row.event_time instanceof Date)) throw new Error('no victim row');
    const day = String(row.day);
    const localDay = cassandraTypes.LocalDate.fromString(day);
    // Changed amount in records_by_customer, and the same record lost from records.
    await cassandra.execute(
      `UPDATE ${w.keyspace}.records_by_customer SET amount_minor = 1 WHERE customer_id = ? AND day = ? AND event_time = ? AND record_id = ?`,
      [row.customer_id, localDay, row.event_time, 'v-r1234'],
      { prepare: true },
    );
    await cassandra.execute(
      `DELETE FROM ${w.keyspace}.records WHERE day = ? AND bucket = ? AND customer_id = ? AND record_id = ?`,
      [localDay, recordBucket(String(row.customer_id), 'v-r1234'), row.customer_id, 'v-r1234'],
      { prepare: true },
    );
    const verify = await runCli(['migrate', '--verify-only'], w.env);
    expect(verify.code).toBe(1);
    expect(verify.stderr).toContain('verification found differences');
    const key = `${String(row.customer_id)}/v-r1234 (legacy id 1234)`;
    expect(verify.stdout).toContain(`MISMATCH records ${day}: 1 missing, 0 different`);
    expect(verify.stdout).toContain(`missing: ${key}`);
    expect(verify.stdout).toContain(`MISMATCH records_by_customer ${day}: 0 missing, 1 different`);
    expect(verify.stdout).toContain(`different: ${key}`);
  });
});
