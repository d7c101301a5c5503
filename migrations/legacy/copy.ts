/**
 * Copies one legacy table: keyset pages read one after another, converted, written with at most
 * `concurrency` pages in flight, and checkpointed in order — the checkpoint only ever moves past a
 * page once that page and every page before it are written and their rejects recorded, so a crash
 * at any instant loses nothing and a resume re-writes at most the pages that were in flight (the
 * writes are idempotent). Memory: at most `concurrency` pages of rows, plus the read-ahead page.
 */
import { setImmediate } from 'node:timers/promises';
import { emptyCheckpoint, type Checkpoint, type RejectedRow } from './checkpoint.js';
import type { Pacer } from './pacing.js';
import type { TableSpec } from './plans.js';
import type { Sink } from './sinks.js';

export interface TablePlan<Raw, Out> extends TableSpec<Raw, Out> {
  /** Null in a dry run: converted rows are counted as written, nothing is stored. */
  readonly sink: Sink<Out> | null;
}

export interface CopyOptions {
  readonly pageSize: number;
  readonly concurrency: number;
  readonly pacer: Pacer;
  readonly signal: AbortSignal;
  /** Where the run stands for this table (an empty checkpoint for a new run). */
  readonly start: Checkpoint;
  /** Makes progress durable; null in a dry run. */
  readonly save: ((checkpoint: Checkpoint, rejects: readonly RejectedRow[]) => Promise<void>) | null;
  /** Rejects of each page, as soon as they are known (the dry run's report). */
  readonly onRejects?: (rejects: readonly RejectedRow[]) => void;
  /** Rows read so far, this run included. */
  readonly onProgress?: (rowsRead: number) => void;
}

/** Rows converted between two turns of the event loop. */
const YIELD_EVERY = 500;

interface PendingPage {
  readonly lastKey: string;
  readonly read: number;
  written: number;
  readonly rejects: RejectedRow[];
  finished: boolean;
}

/** Copies the table from `options.start`; returns the final checkpoint (done unless aborted). */
export async function copyTable<Raw, Out>(
  plan: TablePlan<Raw, Out>,
  options: CopyOptions,
): Promise<Checkpoint> {
  let committed: Checkpoint = options.start.lastKey === null ? emptyCheckpoint(plan.table) : options.start;
  let readSoFar = committed.rowsRead;
  let afterKey = committed.lastKey;
  const pending: PendingPage[] = [];
  const inflight = new Set<Promise<void>>();
  const failures: unknown[] = [];
  let saving: Promise<void> = Promise.resolve();

  const persist = (checkpoint: Checkpoint, rejects: readonly RejectedRow[]): void => {
    const save = options.save;
    if (save === null) return;
    saving = saving
      .then(() => save(checkpoint, rejects))
      .catch((error: unknown) => {
        failures.push(error);
      });
  };

  /** Moves the checkpoint past every finished page at the head of the queue. */
  const advance = (): void => {
    const rejects: RejectedRow[] = [];
    let moved = false;
    while (pending[0]?.finished === true) {
      const page = pending.shift();
      if (page === undefined) break;
      committed = {
        table: plan.table,
        lastKey: page.lastKey,
        rowsRead: committed.rowsRead + page.read,
        rowsWritten: committed.rowsWritten + page.written,
        rowsRejected: committed.rowsRejected + page.rejects.length,
        done: false,
      };
      rejects.push(...page.rejects);
      moved = true;
    }
    if (moved) persist(committed, rejects);
  };

  const writePage = async (page: PendingPage, outs: Out[], raws: Raw[]): Promise<void> => {
    const refused = plan.sink === null ? [] : await plan.sink.write(outs);
    const writeRejects = refused.flatMap(({ index, reason }) => {
      const raw = raws[index];
      return raw === undefined
        ? []
        : [
            {
              table: plan.table,
              rowKey: plan.key(raw),
              naturalKey: plan.naturalKey(raw),
              stage: 'write' as const,
              reason,
            },
          ];
    });
    page.rejects.push(...writeRejects);
    if (writeRejects.length > 0) options.onRejects?.(writeRejects);
    page.written = outs.length - refused.length;
    page.finished = true;
    advance();
  };

  /** Reads pages until the end (or an abort or a failure), each page written in the background. */
  const readAndWrite = async (): Promise<void> => {
    while (!options.signal.aborted && failures.length === 0) {
      const rows = await plan.read(afterKey, options.pageSize);
      const last = rows.at(-1);
      if (last === undefined) break;
      afterKey = plan.key(last);
      await options.pacer.take(rows.length, options.signal);

      const outs: Out[] = [];
      const raws: Raw[] = [];
      const rejects: RejectedRow[] = [];
      for (const [index, raw] of rows.entries()) {
        // Let the writes in flight be answered and refilled while a page is converted.
        if (index > 0 && index % YIELD_EVERY === 0) await setImmediate();
        const converted = plan.convert(raw);
        if (converted.ok) {
          outs.push(converted.value);
          raws.push(raw);
        } else {
          rejects.push({
            table: plan.table,
            rowKey: plan.key(raw),
            naturalKey: plan.naturalKey(raw),
            stage: 'convert',
            reason: converted.reason,
          });
        }
      }
      if (rejects.length > 0) options.onRejects?.(rejects);
      const page: PendingPage = {
        lastKey: afterKey,
        read: rows.length,
        written: 0,
        rejects,
        finished: false,
      };
      pending.push(page);
      // Bounded: pages in flight, and finished pages waiting behind a slow one.
      while (
        inflight.size > 0 &&
        (inflight.size >= options.concurrency || pending.length > options.concurrency * 4)
      ) {
        await Promise.race(inflight);
      }
      const task: Promise<void> = writePage(page, outs, raws)
        .catch((error: unknown) => {
          failures.push(error);
        })
        .finally(() => {
          inflight.delete(task);
        });
      inflight.add(task);
      readSoFar += rows.length;
      options.onProgress?.(readSoFar);
      if (rows.length < options.pageSize) break;
    }
  };

  try {
    await readAndWrite();
  } finally {
    // Whatever stopped the loop (end, abort, a failed read or write): let in-flight pages finish.
    await Promise.all(inflight);
    await saving;
  }
  if (failures.length > 0) throw failures[0];
  if (options.signal.aborted) return committed;
  committed = { ...committed, done: true };
  persist(committed, []);
  await saving;
  if (failures.length > 0) throw failures[0];
  return committed;
}
