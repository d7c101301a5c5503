/** What a migration run reports: one entry per migration file, never a throw halfway through. */
export type MigrationStatus = 'applied' | 'already-applied' | 'pending' | 'failed' | 'changed';

export interface MigrationResult {
  readonly name: string;
  readonly status: MigrationStatus;
  readonly error?: string;
}

export interface MigrationRun {
  readonly store: 'postgres' | 'cassandra';
  readonly results: readonly MigrationResult[];
  /** The first failure, if any (the runner stops there). */
  readonly error?: string;
}

export function summarise(run: MigrationRun): string {
  const counts = new Map<MigrationStatus, number>();
  for (const r of run.results) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
  const parts = [...counts].map(([status, n]) => `${n} ${status}`);
  return `${run.store}: ${parts.length === 0 ? 'no migrations' : parts.join(', ')}`;
}
