/** The legacy tables `tributary migrate` moves, in the order it moves them, and a run's scope. */

/** Customers first (the control plane), then the history, then the produced outputs. */
export const LEGACY_TABLES = ['customers', 'records', 'findings'] as const;
export type LegacyTable = (typeof LEGACY_TABLES)[number];

export function isLegacyTable(value: string): value is LegacyTable {
  return (LEGACY_TABLES as readonly string[]).includes(value);
}

/** What one run covers. Days are YYYY-MM-DD (UTC, inclusive) on event_time / created_at. */
export interface MigrationScope {
  /** The source URL without its password (it is stored in migration_runs). */
  readonly source: string;
  /** Always in LEGACY_TABLES order, without duplicates. */
  readonly tables: readonly LegacyTable[];
  readonly fromDay: string | null;
  readonly toDay: string | null;
}

/** The tables in LEGACY_TABLES order, without duplicates. */
export function orderTables(tables: Iterable<LegacyTable>): LegacyTable[] {
  const chosen = new Set(tables);
  return LEGACY_TABLES.filter((t) => chosen.has(t));
}

/** A connection URL as it may be shown and stored: the password replaced by `***`. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}

/** The half-open time range [from 00:00, to + 1 day 00:00) in UTC milliseconds, open ends as null. */
export function dayRange(scope: Pick<MigrationScope, 'fromDay' | 'toDay'>): {
  readonly fromMs: number | null;
  readonly toMsExclusive: number | null;
} {
  return {
    fromMs: scope.fromDay === null ? null : Date.parse(`${scope.fromDay}T00:00:00Z`),
    toMsExclusive: scope.toDay === null ? null : Date.parse(`${scope.toDay}T00:00:00Z`) + 86_400_000,
  };
}
