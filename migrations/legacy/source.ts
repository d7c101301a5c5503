/**
 * Reading the legacy store: keyset pages (`WHERE key > $last ORDER BY key LIMIT n`) on the primary
 * key, so memory is bounded by one page, each page is an independent short query (a lost connection
 * costs one retry of one page, never a restart), and the last key of a page is the resume point.
 * Every value is selected as text and decoded at the edge (rows.ts).
 */
import type { Logger } from '../../core/logger.js';
import { createPgPool, type PgPool } from '../../core/postgres/index.js';
import { retry } from '../../core/retry.js';
import { isTransientPgError } from './failures.js';
import {
  decodeCustomerRow,
  decodeFindingRow,
  decodeRecordRow,
  type LegacyCustomerRow,
  type LegacyFindingRow,
  type LegacyRecordRow,
} from './rows.js';
import { dayRange, type LegacyTable, type MigrationScope } from './tables.js';

/** The row type each table is read as. */
export interface LegacyRows {
  readonly customers: LegacyCustomerRow;
  readonly records: LegacyRecordRow;
  readonly findings: LegacyFindingRow;
}

interface TableSql {
  readonly from: string;
  readonly key: string;
  /** The keyset comparison of the key with $1. Qualified: `id` alone would name the text output column. */
  readonly after: string;
  readonly columns: string;
  /** The column the day range applies to; null when the table is not filtered by day. */
  readonly time: string | null;
}

const SQL: Readonly<Record<LegacyTable, TableSql>> = {
  customers: {
    from: 'legacy_customers',
    key: 't.customer_id',
    after: 't.customer_id > $1',
    columns: 'customer_id, name, settings::text AS settings, created_at::text AS created_at',
    time: null,
  },
  records: {
    from: 'legacy_records',
    key: 't.id',
    after: 't.id > $1::bigint',
    columns:
      'id::text AS id, customer_id, record_id, event_time::text AS event_time, account_id, ' +
      'amount::text AS amount, currency, category, country, merchant, attributes::text AS attributes, ' +
      'inserted_at::text AS inserted_at',
    time: 't.event_time',
  },
  findings: {
    from: 'legacy_findings',
    key: 't.id',
    after: 't.id > $1::bigint',
    columns:
      'id::text AS id, customer_id, usecase, record_ids, code, detail::text AS detail, ' +
      'created_at::text AS created_at',
    time: 't.created_at',
  },
};

const DECODERS: { readonly [T in LegacyTable]: (row: unknown) => LegacyRows[T] } = {
  customers: decodeCustomerRow,
  records: decodeRecordRow,
  findings: decodeFindingRow,
};

/** The key a row is paged and checkpointed by. */
export function rowKey(row: LegacyRows[LegacyTable]): string {
  return 'id' in row ? row.id : row.customerId;
}

/**
 * A source URL whose sessions print timestamps as ISO in UTC, whatever the server's defaults
 * (the conversion accepts any offset; a fixed format keeps the text predictable).
 */
export function sourceSessionUrl(url: string): string {
  const parsed = new URL(url);
  const existing = parsed.searchParams.get('options') ?? '';
  parsed.searchParams.set('options', `${existing} -c TimeZone=UTC -c DateStyle=ISO,YMD`.trim());
  return parsed.toString();
}

export class LegacySource {
  private readonly fromIso: string | null;
  private readonly toIso: string | null;

  constructor(
    private readonly pool: PgPool,
    private readonly logger: Logger,
    scope: Pick<MigrationScope, 'fromDay' | 'toDay'>,
  ) {
    const { fromMs, toMsExclusive } = dayRange(scope);
    this.fromIso = fromMs === null ? null : new Date(fromMs).toISOString();
    this.toIso = toMsExclusive === null ? null : new Date(toMsExclusive).toISOString();
  }

  static open(url: string, logger: Logger, scope: Pick<MigrationScope, 'fromDay' | 'toDay'>): LegacySource {
    const pool = createPgPool({
      url: sourceSessionUrl(url),
      max: 2,
      logger,
      applicationName: 'tributary-migrate-source',
    });
    return new LegacySource(pool, logger, scope);
  }

  /** Rows of `table` after `afterKey` (from the start when null), in key order, at most `limit`. */
  async page<T extends LegacyTable>(
    table: T,
    afterKey: string | null,
    limit: number,
    signal?: AbortSignal,
  ): Promise<LegacyRows[T][]> {
    const sql = SQL[table];
    const where: string[] = [];
    const params: unknown[] = [];
    const param = (value: unknown): string => {
      params.push(value);
      return `$${params.length}`;
    };
    if (afterKey !== null) where.push(sql.after.replace('$1', param(afterKey)));
    if (sql.time !== null && this.fromIso !== null) where.push(`${sql.time} >= ${param(this.fromIso)}`);
    if (sql.time !== null && this.toIso !== null) where.push(`${sql.time} < ${param(this.toIso)}`);
    const text =
      `SELECT ${sql.columns} FROM ${sql.from} AS t` +
      (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') +
      ` ORDER BY ${sql.key} LIMIT ${param(limit)}`;
    const result = await retry(() => this.pool.query<Record<string, unknown>>(text, params), {
      attempts: 8,
      maxDelayMs: 10_000,
      retriable: isTransientPgError,
      ...(signal === undefined ? {} : { signal }),
      onRetry: (error, attempt, delayMs) => {
        this.logger.warn({ err: error, table, attempt, delayMs }, 'legacy read failed; retrying');
      },
    });
    const decode = DECODERS[table];
    return result.rows.map((row) => decode(row));
  }

  /**
   * Roughly how many rows a table holds in the scope, for progress bars: exact below a million rows
   * (or when the planner has no statistics yet), else the planner's estimate of the whole table.
   */
  async estimate(table: LegacyTable): Promise<number> {
    const sql = SQL[table];
    const stats = await this.pool.query<Record<string, unknown>>(
      'SELECT reltuples::bigint::text AS n FROM pg_class WHERE oid = to_regclass($1)',
      [sql.from],
    );
    const estimated = Number(stats.rows[0]?.n ?? -1);
    if (estimated >= 1_000_000) return estimated;
    const where: string[] = [];
    const params: string[] = [];
    if (sql.time !== null && this.fromIso !== null) {
      params.push(this.fromIso);
      where.push(`${sql.time} >= $${params.length}`);
    }
    if (sql.time !== null && this.toIso !== null) {
      params.push(this.toIso);
      where.push(`${sql.time} < $${params.length}`);
    }
    const counted = await this.pool.query<Record<string, unknown>>(
      `SELECT count(*)::text AS n FROM ${sql.from} AS t${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''}`,
      params,
    );
    return Number(counted.rows[0]?.n ?? 0);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
