/**
 * Durable progress in the control plane: `migration_runs` (one row per run and scope),
 * `migration_checkpoints` (per table: the last key whose rows are all written, counters, done) and
 * `migration_rejects`. A page's rejects and the checkpoint past it commit in one transaction, so a
 * run killed at any instant resumes from a point where everything before it is written and reported.
 */
import { randomUUID } from 'node:crypto';
import { inPgTransaction, type PgPool } from '../../core/postgres/index.js';
import { retry } from '../../core/retry.js';
import { isTransientPgError } from './failures.js';
import { LEGACY_TABLES, isLegacyTable, type LegacyTable, type MigrationScope } from './tables.js';

export const REJECT_STAGES = ['convert', 'write'] as const;
export type RejectStage = (typeof REJECT_STAGES)[number];

function isRejectStage(value: string): value is RejectStage {
  return (REJECT_STAGES as readonly string[]).includes(value);
}

export interface RejectedRow {
  readonly table: LegacyTable;
  /** The legacy primary key. */
  readonly rowKey: string;
  /** What an operator searches for: customer/record id, customer/usecase. */
  readonly naturalKey: string;
  readonly stage: RejectStage;
  readonly reason: string;
}

export interface Checkpoint {
  readonly table: LegacyTable;
  readonly lastKey: string | null;
  readonly rowsRead: number;
  readonly rowsWritten: number;
  readonly rowsRejected: number;
  readonly done: boolean;
}

export interface RunRow {
  readonly runId: string;
  readonly status: string;
}

const RETRY = { attempts: 8, maxDelayMs: 10_000, retriable: isTransientPgError } as const;

export function emptyCheckpoint(table: LegacyTable): Checkpoint {
  return { table, lastKey: null, rowsRead: 0, rowsWritten: 0, rowsRejected: 0, done: false };
}

export class RunStore {
  constructor(private readonly pool: PgPool) {}

  /**
   * The run to continue for this scope: the newest one with exactly this scope, whatever its status
   * (a finished run resumes to "nothing left to copy" and is verified again). Call with the lock held.
   */
  async latest(scope: MigrationScope): Promise<RunRow | undefined> {
    const result = await this.pool.query<Record<string, unknown>>(
      `SELECT run_id::text AS run_id, status FROM migration_runs
        WHERE source = $1 AND tables = $2::text[]
          AND from_day IS NOT DISTINCT FROM $3::date AND to_day IS NOT DISTINCT FROM $4::date
        ORDER BY started_at DESC LIMIT 1`,
      [scope.source, scope.tables, scope.fromDay, scope.toDay],
    );
    const row = result.rows[0];
    return row === undefined ? undefined : { runId: String(row.run_id), status: String(row.status) };
  }

  /**
   * Marks every 'running' run but `except` interrupted. Only the lock holder may call it: with the
   * lock held, every 'running' row belongs to a process that died.
   */
  async interruptStale(except?: string): Promise<number> {
    const result = await this.pool.query(
      `UPDATE migration_runs SET status = 'interrupted', finished_at = now(),
              error = coalesce(error, 'the process running it stopped without finishing')
        WHERE status = 'running' AND run_id IS DISTINCT FROM $1::uuid`,
      [except ?? null],
    );
    return result.rowCount ?? 0;
  }

  async create(scope: MigrationScope): Promise<string> {
    const runId = randomUUID();
    await this.pool.query(
      `INSERT INTO migration_runs (run_id, source, tables, from_day, to_day, status)
       VALUES ($1, $2, $3::text[], $4::date, $5::date, 'running')`,
      [runId, scope.source, scope.tables, scope.fromDay, scope.toDay],
    );
    return runId;
  }

  async resume(runId: string): Promise<void> {
    await this.pool.query(
      `UPDATE migration_runs SET status = 'running', heartbeat_at = now(), finished_at = NULL, error = NULL
        WHERE run_id = $1`,
      [runId],
    );
  }

  async finish(runId: string, status: 'succeeded' | 'failed' | 'interrupted', stats: object, error?: string) {
    await retry(
      () =>
        this.pool.query(
          `UPDATE migration_runs SET status = $2, finished_at = now(), stats = $3::jsonb, error = $4
            WHERE run_id = $1`,
          [runId, status, JSON.stringify(stats), error ?? null],
        ),
      RETRY,
    );
  }

  async checkpoints(runId: string): Promise<Map<LegacyTable, Checkpoint>> {
    const result = await this.pool.query<Record<string, unknown>>(
      `SELECT table_name, last_key, rows_done::text AS rows_done, rows_written::text AS rows_written,
              rows_rejected::text AS rows_rejected, done
         FROM migration_checkpoints WHERE run_id = $1`,
      [runId],
    );
    const map = new Map<LegacyTable, Checkpoint>();
    for (const row of result.rows) {
      const table = String(row.table_name);
      if (!isLegacyTable(table)) continue;
      map.set(table, {
        table,
        lastKey: typeof row.last_key === 'string' ? row.last_key : null,
        rowsRead: Number(row.rows_done),
        rowsWritten: Number(row.rows_written),
        rowsRejected: Number(row.rows_rejected),
        done: row.done === true,
      });
    }
    return map;
  }

  /** Records a table's progress and the rejects of the pages it covers, atomically. */
  async save(runId: string, checkpoint: Checkpoint, rejects: readonly RejectedRow[]): Promise<void> {
    await retry(async () => {
      await inPgTransaction(this.pool, async (client) => {
        if (rejects.length > 0) {
          await client.query(
            `INSERT INTO migration_rejects (run_id, table_name, row_key, natural_key, stage, reason)
             SELECT $1, t, k, n, s, r
               FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) AS u(t, k, n, s, r)
             ON CONFLICT (run_id, table_name, row_key) DO UPDATE SET stage = EXCLUDED.stage, reason = EXCLUDED.reason`,
            [
              runId,
              rejects.map((r) => r.table),
              rejects.map((r) => r.rowKey),
              rejects.map((r) => r.naturalKey),
              rejects.map((r) => r.stage),
              rejects.map((r) => r.reason),
            ],
          );
        }
        await client.query(
          `INSERT INTO migration_checkpoints
                 (run_id, table_name, last_key, rows_done, rows_written, rows_rejected, done, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, now())
           ON CONFLICT (run_id, table_name) DO UPDATE SET last_key = EXCLUDED.last_key,
                 rows_done = EXCLUDED.rows_done, rows_written = EXCLUDED.rows_written,
                 rows_rejected = EXCLUDED.rows_rejected, done = EXCLUDED.done, updated_at = now()`,
          [
            runId,
            checkpoint.table,
            checkpoint.lastKey,
            checkpoint.rowsRead,
            checkpoint.rowsWritten,
            checkpoint.rowsRejected,
            checkpoint.done,
          ],
        );
      });
    }, RETRY);
  }

  /** Keys of rows Cassandra refused in this run (conversion rejects are found again by converting). */
  async writeRejectKeys(runId: string, table: LegacyTable): Promise<Set<string>> {
    const result = await this.pool.query<Record<string, unknown>>(
      `SELECT row_key FROM migration_rejects WHERE run_id = $1 AND table_name = $2 AND stage = 'write'`,
      [runId, table],
    );
    return new Set(result.rows.map((row) => String(row.row_key)));
  }

  /** Rejects of a run per table, and the first `limit` of them for the printed report. */
  async rejectSummary(
    runId: string,
    limit: number,
  ): Promise<{ counts: Map<LegacyTable, number>; first: RejectedRow[] }> {
    const counts = new Map<LegacyTable, number>();
    const grouped = await this.pool.query<Record<string, unknown>>(
      'SELECT table_name, count(*)::int AS n FROM migration_rejects WHERE run_id = $1 GROUP BY table_name',
      [runId],
    );
    for (const row of grouped.rows) {
      const table = String(row.table_name);
      if (isLegacyTable(table)) counts.set(table, Number(row.n));
    }
    const listed = await this.pool.query<Record<string, unknown>>(
      `SELECT table_name, row_key, natural_key, stage, reason FROM migration_rejects WHERE run_id = $1
        ORDER BY array_position($2::text[], table_name), created_at, row_key LIMIT $3`,
      [runId, LEGACY_TABLES, limit],
    );
    const first: RejectedRow[] = [];
    for (const row of listed.rows) {
      const table = String(row.table_name);
      const stage = String(row.stage);
      if (!isLegacyTable(table) || !isRejectStage(stage)) continue;
      first.push({
        table,
        rowKey: String(row.row_key),
        naturalKey: String(row.natural_key),
        stage,
        reason: String(row.reason),
      });
    }
    return { counts, first };
  }
}
