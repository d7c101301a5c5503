/**
 * Fills a legacy store with generated rows, fast (INSERT … SELECT over generate_series, in batches),
 * for tests, demos and the benchmark. Deterministic: the same options give the same rows. Customers
 * are `<prefix>-0001…`, record ids `<prefix>-r<n>`; event times spread evenly over `days` ending at
 * `endMs`; amounts, currencies, merchants (some null, some not ASCII) and attributes (some nested)
 * vary with n; one record in `findingEvery` has a finding.
 */
import type { PgPool } from '../../core/postgres/index.js';

export interface FillOptions {
  readonly records: number;
  readonly customers: number;
  readonly days: number;
  readonly endMs: number;
  readonly prefix: string;
  /** One finding per this many records (0: none). */
  readonly findingEvery?: number;
  /** Rows per INSERT statement. */
  readonly batch?: number;
}

export interface FillResult {
  readonly customers: number;
  readonly records: number;
  readonly findings: number;
}

const DAY_MS = 86_400_000;

/** The customer of record n, as SQL over the bigint `g`. */
const CUSTOMER = `$1 || '-' || lpad((1 + g % $2)::text, 4, '0')`;
/** The event time of record n, as SQL over `g`: from $3 (epoch ms) in steps of $4 ms. */
const EVENT_TIME = `to_timestamp(($3::bigint + (g - 1) * $4::double precision) / 1000.0)`;

const RECORDS_SQL = `
INSERT INTO legacy_records
  (customer_id, record_id, event_time, account_id, amount, currency, category, country, merchant, attributes, inserted_at)
SELECT ${CUSTOMER}, $1 || '-r' || g, ${EVENT_TIME}, ${CUSTOMER} || '-acc-' || (g % 7),
       ((g * 7919) % 200000 - 1000)::numeric / 100,
       (ARRAY['EUR','USD','GBP','CHF','SEK'])[1 + g % 5],
       (ARRAY['grocery','fuel','restaurants','travel','electronics','clothing','pharmacy','utilities'])[1 + g % 8],
       (ARRAY['FR','DE','US','GB','CH','SE','ES','IT'])[1 + (g / 5) % 8],
       CASE WHEN g % 20 = 0 THEN NULL ELSE (ARRAY['Nordwind','Café Lumière','東京ストア','Corner Shop 🛒'])[1 + g % 4] END,
       CASE WHEN g % 3 = 0 THEN jsonb_build_object('terminal', 'T' || (g % 100))
            WHEN g % 11 = 0 THEN jsonb_build_object('risk', g % 10, 'tags', jsonb_build_array('a', 'b'), 'ok', true)
            ELSE '{}'::jsonb END,
       ${EVENT_TIME} + interval '2 seconds'
  FROM generate_series($5::bigint, $6::bigint) AS g`;

const FINDINGS_SQL = `
INSERT INTO legacy_findings (customer_id, usecase, record_ids, code, detail, created_at)
SELECT ${CUSTOMER}, (ARRAY['data-quality','amount-anomaly','velocity'])[1 + (g / $7) % 3],
       ARRAY[$1 || '-r' || g], (ARRAY['UNKNOWN_CURRENCY','AMOUNT_ZSCORE','VELOCITY'])[1 + (g / $7) % 3],
       jsonb_build_object('z', (g % 50) / 10.0, 'note', 'generated'), ${EVENT_TIME} + interval '1 second'
  FROM generate_series($5::bigint, $6::bigint) AS g
 WHERE g % $7 = 0`;

const CUSTOMERS_SQL = `
INSERT INTO legacy_customers (customer_id, name, settings, created_at)
SELECT $1 || '-' || lpad(i::text, 4, '0'), 'Customer ' || i,
       jsonb_build_object('velocity_max_records', 10 + i % 5, 'merchant_required', i % 2 = 0),
       to_timestamp($2::bigint / 1000.0) - make_interval(days => i)
  FROM generate_series(1, $3::int) AS i
ON CONFLICT (customer_id) DO NOTHING`;

export async function fillLegacy(
  pool: PgPool,
  options: FillOptions,
  onProgress?: (records: number) => void,
): Promise<FillResult> {
  const startMs = options.endMs - options.days * DAY_MS;
  const stepMs = (options.days * DAY_MS) / Math.max(1, options.records);
  const batch = options.batch ?? 100_000;
  const every = options.findingEvery ?? 100;
  const customers = await pool.query(CUSTOMERS_SQL, [options.prefix, startMs, options.customers]);
  let findings = 0;
  for (let from = 1; from <= options.records; from += batch) {
    const to = Math.min(options.records, from + batch - 1);
    const common = [options.prefix, options.customers, startMs, stepMs, from, to];
    await pool.query(RECORDS_SQL, common);
    if (every > 0) findings += (await pool.query(FINDINGS_SQL, [...common, every])).rowCount ?? 0;
    onProgress?.(to);
  }
  await pool.query('ANALYZE legacy_records');
  await pool.query('ANALYZE legacy_findings');
  return { customers: customers.rowCount ?? 0, records: options.records, findings };
}
