/**
 * Where converted rows go, each write idempotent and retried on transient failures: records through
 * the master dataset writer (both tables, exactly like ingested records), findings as prepared
 * single-partition batches into findings_by_customer and findings_by_usecase, customers as upserts
 * into the control plane. When Cassandra refuses a write as invalid (e.g. a TTL whose expiry is past
 * 2038-01-19, which Cassandra 5 refuses in its default storage compatibility mode), the rows of that
 * write are retried one at a time, so only the rows it refuses are rejected, with its reason.
 */
import { cassandraTypes, type CassandraClient } from '../../core/cassandra/index.js';
import type { Finding } from '../../core/finding.js';
import type { Logger } from '../../core/logger.js';
import { inPgTransaction, type PgPool } from '../../core/postgres/index.js';
import { retry } from '../../core/retry.js';
import { MasterDatasetWriter, recordTtlSeconds, utcDay } from '../../ingest/master/index.js';
import type { MigratedCustomer, MigratedRecord } from './convert.js';
import { isRefusedByCassandra, isTransientCassandraError, isTransientPgError } from './failures.js';
import { forEachBounded } from './pacing.js';

/** Rows of a write that the store refused: their index in the written list and the reason. */
export interface Refusal {
  readonly index: number;
  readonly reason: string;
}

export interface Sink<T> {
  /** Writes every item; resolves with the ones refused (never throws for those). */
  write(items: readonly T[]): Promise<Refusal[]>;
}

export interface CassandraSinkOptions {
  readonly client: CassandraClient;
  readonly keyspace: string;
  readonly retentionDays: number;
  readonly logger: Logger;
  /** Cassandra requests in flight per write call. */
  readonly requests?: number;
}

function retryCassandra<T>(logger: Logger, operation: () => Promise<T>): Promise<T> {
  return retry(operation, {
    attempts: 8,
    maxDelayMs: 10_000,
    retriable: isTransientCassandraError,
    onRetry: (error, attempt, delayMs) => {
      logger.warn({ err: error, attempt, delayMs }, 'Cassandra write failed; retrying');
    },
  });
}

/** Writes all items at once; if Cassandra refuses, writes them one by one and reports who it refused. */
async function writeIsolating<T>(
  items: readonly T[],
  requests: number,
  writeAll: (items: readonly T[]) => Promise<void>,
): Promise<Refusal[]> {
  try {
    await writeAll(items);
    return [];
  } catch (error) {
    if (!isRefusedByCassandra(error)) throw error;
  }
  const refused: Refusal[] = [];
  await forEachBounded([...items.keys()], requests, async (index) => {
    try {
      await writeAll(items.slice(index, index + 1));
    } catch (error) {
      if (!isRefusedByCassandra(error)) throw error;
      refused.push({
        index,
        reason: `refused by Cassandra: ${error instanceof Error ? error.message : String(error)}`,
      });
    }
  });
  return refused.sort((a, b) => a.index - b.index);
}

export class RecordSink implements Sink<MigratedRecord> {
  private readonly writer: MasterDatasetWriter;

  constructor(private readonly options: CassandraSinkOptions) {
    this.writer = new MasterDatasetWriter({
      client: options.client,
      keyspace: options.keyspace,
      retentionDays: options.retentionDays,
      concurrency: options.requests ?? 16,
    });
  }

  write(items: readonly MigratedRecord[]): Promise<Refusal[]> {
    return writeIsolating(items, this.options.requests ?? 16, (some) =>
      retryCassandra(this.options.logger, () => this.writer.write(some)),
    );
  }
}

interface Statement {
  readonly query: string;
  readonly params: unknown[];
}

const ROWS_PER_BATCH = 50;

export class FindingSink implements Sink<Finding> {
  private readonly byCustomer: string;
  private readonly byUsecase: string;

  constructor(private readonly options: CassandraSinkOptions) {
    const ks = options.keyspace;
    this.byCustomer =
      `INSERT INTO ${ks}.findings_by_customer (customer_id, day, event_time, finding_id, usecase, variant, ` +
      'code, record_ids, detail, delivered, found_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TTL ?';
    this.byUsecase =
      `INSERT INTO ${ks}.findings_by_usecase (usecase, day, variant, finding_id, customer_id, code, ` +
      'record_ids, delivered) VALUES (?, ?, ?, ?, ?, ?, ?, ?) USING TTL ?';
  }

  write(items: readonly Finding[]): Promise<Refusal[]> {
    return writeIsolating(items, this.options.requests ?? 16, (some) =>
      retryCassandra(this.options.logger, () => this.writeAll(some)),
    );
  }

  private async writeAll(findings: readonly Finding[]): Promise<void> {
    const partitions = new Map<string, Statement[]>();
    const add = (key: string, statement: Statement): void => {
      const list = partitions.get(key);
      if (list === undefined) partitions.set(key, [statement]);
      else list.push(statement);
    };
    const now = Date.now();
    for (const f of findings) {
      const day = utcDay(f.eventTime);
      const localDay = cassandraTypes.LocalDate.fromString(day);
      const ttl = recordTtlSeconds(f.eventTime, this.options.retentionDays, now);
      const recordIds = [...f.recordIds];
      add(`c|${f.customerId}|${day}`, {
        query: this.byCustomer,
        params: [
          f.customerId,
          localDay,
          f.eventTime,
          f.findingId,
          f.usecase,
          f.variant,
          f.code,
          recordIds,
          f.detail,
          true,
          f.eventTime,
          ttl,
        ],
      });
      add(`u|${f.usecase}|${day}`, {
        query: this.byUsecase,
        params: [f.usecase, localDay, f.variant, f.findingId, f.customerId, f.code, recordIds, true, ttl],
      });
    }
    const batches: Statement[][] = [];
    for (const statements of partitions.values()) {
      for (let i = 0; i < statements.length; i += ROWS_PER_BATCH) {
        batches.push(statements.slice(i, i + ROWS_PER_BATCH));
      }
    }
    const client = this.options.client;
    await forEachBounded(batches, this.options.requests ?? 16, async (batch) => {
      const [only] = batch;
      if (batch.length === 1 && only !== undefined) {
        await client.execute(only.query, only.params, { prepare: true, isIdempotent: true });
      } else {
        await client.batch(batch, { prepare: true, logged: false, isIdempotent: true });
      }
    });
  }
}

/**
 * Customers and their settings into the control plane: upserts in one transaction per page. Name,
 * created_at and settings are the legacy values (settings as the exact jsonb text); a row that is
 * already identical is left untouched, so a second run changes nothing (updated_at included).
 */
export class CustomerSink implements Sink<MigratedCustomer> {
  constructor(
    private readonly pool: PgPool,
    private readonly logger: Logger,
  ) {}

  async write(items: readonly MigratedCustomer[]): Promise<Refusal[]> {
    if (items.length === 0) return [];
    const ids = items.map((c) => c.customerId);
    await retry(
      async () => {
        await inPgTransaction(this.pool, async (client) => {
          await client.query(
            `INSERT INTO customers (customer_id, name, created_at)
             SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[])
             ON CONFLICT (customer_id) DO UPDATE SET name = EXCLUDED.name, created_at = EXCLUDED.created_at
              WHERE (customers.name, customers.created_at) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.created_at)`,
            [ids, items.map((c) => c.name), items.map((c) => c.createdAt)],
          );
          await client.query(
            `INSERT INTO customer_settings (customer_id, settings)
             SELECT id, settings::jsonb FROM unnest($1::text[], $2::text[]) AS u(id, settings)
             ON CONFLICT (customer_id) DO UPDATE SET settings = EXCLUDED.settings, updated_at = now()
              WHERE customer_settings.settings IS DISTINCT FROM EXCLUDED.settings`,
            [ids, items.map((c) => c.settingsJson)],
          );
        });
      },
      {
        attempts: 8,
        maxDelayMs: 10_000,
        retriable: isTransientPgError,
        onRetry: (error, attempt) => {
          this.logger.warn({ err: error, attempt }, 'customer upsert failed; retrying');
        },
      },
    );
    return [];
  }
}
