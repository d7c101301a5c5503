/**
 * One `migrate` at a time, per control plane. The live process holds a PostgreSQL session-level
 * advisory lock for its whole run; a second process fails to take it and refuses. A run left
 * 'running' by a killed process is told apart from a live one by that lock: the server released it
 * when the killed process's connection died, so whoever holds the lock knows every 'running' row
 * is stale. If the lock's connection is lost, the run stops (the lock is gone with it).
 */
import { TributaryError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { PgClient, PgPool } from '../../core/postgres/index.js';

/** The first 8 bytes of sha256('tributary.migrate'), fixed forever. */
const LOCK_KEY = 'e67dbdb7a0f239c0';
const HEARTBEAT_MS = 10_000;

export class RunLock {
  private readonly lost = new AbortController();
  private heartbeat: NodeJS.Timeout | undefined;
  private released = false;

  private constructor(
    private readonly client: PgClient,
    private readonly logger: Logger,
  ) {
    client.on('error', (error) => {
      this.loseLock(error);
    });
  }

  /** Takes the lock or throws MIGRATION_LOCKED naming the live run. */
  static async acquire(pool: PgPool, logger: Logger): Promise<RunLock> {
    const client = await pool.connect();
    const lock = new RunLock(client, logger);
    try {
      const result = await client.query<Record<string, unknown>>(
        `SELECT pg_try_advisory_lock(x'${LOCK_KEY}'::bigint) AS locked`,
      );
      if (result.rows[0]?.locked !== true) {
        const live = await client.query<Record<string, unknown>>(
          `SELECT run_id::text AS run_id, started_at::text AS started_at, heartbeat_at::text AS heartbeat_at
             FROM migration_runs WHERE status = 'running'`,
        );
        const row = live.rows[0];
        const which =
          row === undefined
            ? 'another process holds the migration lock'
            : `run ${String(row.run_id)} started ${String(row.started_at)}, last heartbeat ${String(row.heartbeat_at)}`;
        throw new TributaryError('MIGRATION_LOCKED', `another migrate is running (${which}); not starting`, {
          details: { run: row?.run_id },
        });
      }
    } catch (error) {
      lock.released = true;
      client.release();
      throw error;
    }
    return lock;
  }

  /** Aborted when the lock's connection is lost: the run must stop writing. */
  get signal(): AbortSignal {
    return this.lost.signal;
  }

  /** Refreshes `heartbeat_at` of the run every 10 s (operators see a live run is alive). */
  startHeartbeat(runId: string): void {
    this.heartbeat = setInterval(() => {
      this.client
        .query('UPDATE migration_runs SET heartbeat_at = now() WHERE run_id = $1', [runId])
        .catch((error: unknown) => {
          this.loseLock(error);
        });
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  private loseLock(error: unknown): void {
    if (this.released || this.lost.signal.aborted) return;
    this.logger.error({ err: error }, 'lost the connection holding the migration lock; stopping');
    this.lost.abort(
      new TributaryError(
        'UNAVAILABLE',
        'lost the connection holding the migration lock; stopped so that two runs never write at once (run migrate again to resume)',
        { cause: error },
      ),
    );
  }

  /** Idempotent; releases the lock and returns the connection (destroyed if it failed). */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    clearInterval(this.heartbeat);
    if (this.lost.signal.aborted) {
      this.client.release(true);
      return;
    }
    try {
      await this.client.query(`SELECT pg_advisory_unlock(x'${LOCK_KEY}'::bigint)`);
      this.client.release();
    } catch (error) {
      this.logger.warn({ err: error }, 'could not release the migration lock; closing its connection');
      this.client.release(true);
    }
  }
}
