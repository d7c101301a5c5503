/** The options and the report of a `tributary migrate` run. */
import type { Checkpoint, RejectedRow } from './checkpoint.js';
import type { Stores } from './run-tables.js';
import type { LegacySource } from './source.js';
import type { LegacyTable } from './tables.js';
import type { TableVerification } from './verify.js';

export const MIGRATE_MODES = ['migrate', 'dry-run', 'verify-only'] as const;
export type MigrateMode = (typeof MIGRATE_MODES)[number];

export interface ProgressSink {
  update(done: number): void;
  stop(): void;
}

export interface MigrateOptions {
  readonly sourceUrl: string;
  readonly tables: readonly LegacyTable[];
  readonly fromDay: string | null;
  readonly toDay: string | null;
  readonly mode: MigrateMode;
  readonly restart: boolean;
  /** Pages written at once. */
  readonly concurrency: number;
  /** Rows per second at most, over the whole run. */
  readonly rate?: number;
  readonly pageSize?: number;
  /** Graceful stop (SIGINT/SIGTERM): in-flight pages finish and are checkpointed. */
  readonly signal?: AbortSignal;
  readonly progress?: (label: string, total: number) => ProgressSink;
}

export interface MigrateDeps extends Stores {
  readonly source: LegacySource;
}

export interface TableReport {
  readonly table: LegacyTable;
  /** This invocation. */
  readonly read: number;
  readonly written: number;
  readonly rejected: number;
  /** The whole run, earlier invocations of a resumed run included. */
  readonly total: Checkpoint;
  /** The table was done before this invocation and nothing was added after its last key since. */
  readonly alreadyDone: boolean;
  readonly durationMs: number;
}

export interface MigrateReport {
  readonly mode: MigrateMode;
  readonly runId: string | null;
  readonly resumed: boolean;
  readonly status: 'succeeded' | 'failed' | 'interrupted' | 'dry-run' | 'verified';
  readonly tables: readonly TableReport[];
  readonly rejects: { readonly total: number; readonly first: readonly RejectedRow[] };
  readonly verification: {
    readonly ok: boolean;
    readonly tables: readonly TableVerification[];
    readonly durationMs: number;
  } | null;
  readonly durationMs: number;
}
