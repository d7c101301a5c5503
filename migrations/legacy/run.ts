/**
 * `tributary migrate`: one run over a scope (source, tables, days). Takes the migration lock, resumes
 * the newest run of the same scope (or starts one; `restart` always starts one), copies each table
 * from its checkpoint, then verifies. A dry run converts and counts without the lock or any write;
 * verify-only compares without copying.
 */
import { describeError } from '../../core/errors.js';
import { emptyCheckpoint, RunStore, type Checkpoint, type RejectedRow } from './checkpoint.js';
import { RunLock } from './lock.js';
import { Pacer } from './pacing.js';
import { tableSpecs, type TableSpecs } from './plans.js';
import { copyOne, verifyOne } from './run-tables.js';
import { orderTables, redactUrl, type LegacyTable, type MigrationScope } from './tables.js';
import type { TableVerification } from './verify.js';
import type { MigrateDeps, MigrateMode, MigrateOptions, MigrateReport, TableReport } from './run-types.js';

export { MIGRATE_MODES } from './run-types.js';
export type {
  MigrateDeps,
  MigrateMode,
  MigrateOptions,
  MigrateReport,
  ProgressSink,
  TableReport,
} from './run-types.js';

const SHOW_REJECTS = 20;

export async function runMigration(deps: MigrateDeps, options: MigrateOptions): Promise<MigrateReport> {
  const began = performance.now();
  const scope: MigrationScope = {
    source: redactUrl(options.sourceUrl),
    tables: orderTables(options.tables),
    fromDay: options.fromDay,
    toDay: options.toDay,
  };
  const specs = tableSpecs(deps.source);
  const elapsed = (): number => Math.round(performance.now() - began);
  if (options.mode === 'dry-run') return dryRun(deps, options, scope, specs, elapsed);

  const lock = await RunLock.acquire(deps.controlPlane, deps.logger);
  try {
    const store = new RunStore(deps.controlPlane);
    const signal = AbortSignal.any(
      options.signal === undefined ? [lock.signal] : [lock.signal, options.signal],
    );
    const base = { mode: options.mode, specs, scope, store, signal, elapsed };
    const outcome =
      options.mode === 'verify-only'
        ? await verifyOnly(deps, options, base)
        : await migrate(deps, options, base, lock);
    // Without the lock the run must not go on, and must not look like it merely was interrupted.
    if (lock.signal.aborted) throw lock.signal.reason;
    return outcome;
  } finally {
    await lock.release();
  }
}

interface RunContext {
  readonly mode: MigrateMode;
  readonly specs: TableSpecs;
  readonly scope: MigrationScope;
  readonly store: RunStore;
  readonly signal: AbortSignal;
  readonly elapsed: () => number;
}

async function verifyOnly(
  deps: MigrateDeps,
  options: MigrateOptions,
  run: RunContext,
): Promise<MigrateReport> {
  const latest = await run.store.latest(run.scope);
  const runId = latest?.runId ?? null;
  const verification = await verifyAll(deps, options, run, runId);
  const rejects = runId === null ? { total: 0, first: [] } : await rejectsOf(run.store, runId);
  const status = run.signal.aborted ? 'interrupted' : verification.ok ? 'verified' : 'failed';
  return {
    mode: run.mode,
    runId,
    resumed: false,
    status,
    tables: [],
    rejects,
    verification,
    durationMs: run.elapsed(),
  };
}

async function migrate(
  deps: MigrateDeps,
  options: MigrateOptions,
  run: RunContext,
  lock: RunLock,
): Promise<MigrateReport> {
  const { store, scope, signal } = run;
  const latest = options.restart ? undefined : await store.latest(scope);
  const stale = await store.interruptStale(latest?.runId);
  if (stale > 0) deps.logger.warn({ stale }, 'marked runs left running by a dead process as interrupted');
  const runId = latest?.runId ?? (await store.create(scope));
  if (latest !== undefined) await store.resume(latest.runId);
  lock.startHeartbeat(runId);
  deps.logger.info({ runId, resumed: latest !== undefined, scope }, 'migration run started');
  const tables: TableReport[] = [];
  try {
    const pacer = new Pacer(options.rate);
    for (const table of scope.tables) {
      if (signal.aborted) break;
      const start = (await store.checkpoints(runId)).get(table) ?? emptyCheckpoint(table);
      const save = (cp: Checkpoint, rejects: readonly RejectedRow[]): Promise<void> =>
        store.save(runId, cp, rejects);
      tables.push(await copyWithProgress(deps, options, run.specs, table, start, signal, pacer, save));
    }
    const verification = signal.aborted ? null : await verifyAll(deps, options, run, runId);
    const rejects = await rejectsOf(store, runId);
    const result = { mode: run.mode, runId, resumed: latest !== undefined, tables, rejects };
    if (signal.aborted || verification === null) {
      // Without the lock, another process may own the run by now: leave its row alone.
      if (!lock.signal.aborted)
        await store.finish(runId, 'interrupted', { tables }, describeError(signal.reason));
      return { ...result, status: 'interrupted', verification: null, durationMs: run.elapsed() };
    }
    const problems = [
      ...(rejects.total > 0 ? [`${rejects.total} rows rejected`] : []),
      ...(verification.ok ? [] : ['verification found differences']),
    ];
    const status = problems.length === 0 ? 'succeeded' : 'failed';
    const stats = { tables, verification: summarise(verification.tables) };
    await store.finish(runId, status, stats, problems.length > 0 ? problems.join('; ') : undefined);
    return { ...result, status, verification, durationMs: run.elapsed() };
  } catch (error) {
    if (lock.signal.aborted) throw error;
    await store
      .finish(runId, signal.aborted ? 'interrupted' : 'failed', { tables }, describeError(error))
      .catch((finishError: unknown) => {
        deps.logger.warn({ err: finishError }, 'could not record how the run ended');
      });
    throw error;
  }
}

async function copyWithProgress(
  deps: MigrateDeps,
  options: MigrateOptions,
  specs: TableSpecs,
  table: LegacyTable,
  start: Checkpoint,
  signal: AbortSignal,
  pacer: Pacer,
  save: ((cp: Checkpoint, rejects: readonly RejectedRow[]) => Promise<void>) | null,
  onRejects?: (rejects: readonly RejectedRow[]) => void,
): Promise<TableReport> {
  const began = performance.now();
  const bar = options.progress?.(table, await deps.source.estimate(table));
  bar?.update(start.rowsRead);
  try {
    const final = await copyOne(table, specs, deps, save !== null, {
      pageSize: options.pageSize ?? 5_000,
      concurrency: options.concurrency,
      pacer,
      signal,
      start,
      save,
      ...(onRejects === undefined ? {} : { onRejects }),
      onProgress: (rows) => bar?.update(rows),
    });
    return {
      table,
      read: final.rowsRead - start.rowsRead,
      written: final.rowsWritten - start.rowsWritten,
      rejected: final.rowsRejected - start.rowsRejected,
      total: final,
      alreadyDone: start.done && final.rowsRead === start.rowsRead,
      durationMs: Math.round(performance.now() - began),
    };
  } finally {
    bar?.stop();
  }
}

async function dryRun(
  deps: MigrateDeps,
  options: MigrateOptions,
  scope: MigrationScope,
  specs: TableSpecs,
  elapsed: () => number,
): Promise<MigrateReport> {
  const signal = options.signal ?? new AbortController().signal;
  const pacer = new Pacer(options.rate);
  const first: RejectedRow[] = [];
  let total = 0;
  const tables: TableReport[] = [];
  for (const table of scope.tables) {
    if (signal.aborted) break;
    tables.push(
      await copyWithProgress(
        deps,
        options,
        specs,
        table,
        emptyCheckpoint(table),
        signal,
        pacer,
        null,
        (rejects) => {
          total += rejects.length;
          first.push(...rejects.slice(0, SHOW_REJECTS - first.length));
        },
      ),
    );
  }
  return {
    mode: 'dry-run',
    runId: null,
    resumed: false,
    status: signal.aborted ? 'interrupted' : 'dry-run',
    tables,
    rejects: { total, first },
    verification: null,
    durationMs: elapsed(),
  };
}

async function verifyAll(
  deps: MigrateDeps,
  options: MigrateOptions,
  run: RunContext,
  runId: string | null,
): Promise<NonNullable<MigrateReport['verification']>> {
  const { scope, specs, store, signal } = run;
  const began = performance.now();
  const results: TableVerification[] = [];
  for (const table of scope.tables) {
    if (signal.aborted) break;
    const bar = options.progress?.(`verify ${table}`, await deps.source.estimate(table));
    try {
      results.push(
        await verifyOne(table, specs, deps, {
          cassandra: deps.cassandra,
          logger: deps.logger,
          retentionDays: deps.config.cassandra.retentionDays,
          pageSize: options.pageSize ?? 5_000,
          signal,
          refusedKeys: (t) => (runId === null ? Promise.resolve(new Set()) : store.writeRejectKeys(runId, t)),
          onProgress: (_, rows) => bar?.update(rows),
        }),
      );
    } finally {
      bar?.stop();
    }
  }
  const ok = !signal.aborted && results.every((r) => r.ok);
  return { ok, tables: results, durationMs: Math.round(performance.now() - began) };
}

async function rejectsOf(store: RunStore, runId: string): Promise<MigrateReport['rejects']> {
  const { counts, first } = await store.rejectSummary(runId, SHOW_REJECTS);
  return { total: [...counts.values()].reduce((a, b) => a + b, 0), first };
}

/** What a run stores in migration_runs.stats about verification (not every day). */
function summarise(tables: readonly TableVerification[]): object {
  return tables.map((t) => ({
    table: t.table,
    verified: t.verified,
    rejected: t.rejected,
    refused: t.refused,
    expiring: t.expiring,
    days: new Set(t.days.map((d) => d.day)).size,
    mismatches: t.mismatches.map((m) => ({
      target: m.target,
      day: m.day,
      counts: m.counts,
      explained: m.explained,
    })),
    ok: t.ok,
  }));
}
