/**
 * `tributary ab report USECASE`: per variant, findings per code and how many were delivered, and how
 * much the variants agree — of the records either variant flagged, the share both flagged — read
 * from `findings_by_usecase` day by day (bounded memory per day).
 */
import { cassandraTypes, type CassandraClient } from '../../core/cassandra/index.js';
import { daysBetween, utcDay } from '../../ingest/master/keys.js';

export interface VariantReport {
  readonly variant: string;
  readonly findings: number;
  readonly delivered: number;
  readonly byCode: Readonly<Record<string, number>>;
}

export interface AbReport {
  readonly usecase: string;
  readonly from: string;
  readonly to: string;
  readonly variants: readonly VariantReport[];
  /** Records flagged by every variant / records flagged by any (1 = full agreement). */
  readonly agreement: number | null;
  readonly flaggedByAll: number;
  readonly flaggedByAny: number;
}

export async function abReport(
  client: CassandraClient,
  keyspace: string,
  usecase: string,
  days: number,
  now = Date.now(),
): Promise<AbReport> {
  const to = utcDay(new Date(now));
  const from = utcDay(new Date(now - (days - 1) * 86_400_000));
  const variants = new Map<string, { findings: number; delivered: number; byCode: Record<string, number> }>();
  const flagged = new Map<string, Set<string>>();
  for (const day of daysBetween(from, to)) {
    const rows = client.stream(
      `SELECT variant, customer_id, code, record_ids, delivered FROM ${keyspace}.findings_by_usecase WHERE usecase = ? AND day = ?`,
      [usecase, cassandraTypes.LocalDate.fromString(day)],
      { prepare: true, fetchSize: 2_000 },
    );
    for await (const row of rows as unknown as AsyncIterable<{ get(name: string): unknown }>) {
      const variant = String(row.get('variant'));
      const code = String(row.get('code'));
      const entry = variants.get(variant) ?? { findings: 0, delivered: 0, byCode: {} };
      entry.findings += 1;
      if (row.get('delivered') === true) entry.delivered += 1;
      entry.byCode[code] = (entry.byCode[code] ?? 0) + 1;
      variants.set(variant, entry);
      const ids = row.get('record_ids');
      for (const id of Array.isArray(ids) ? ids : []) {
        const key = `${String(row.get('customer_id'))}|${String(id)}`;
        const set = flagged.get(key) ?? new Set<string>();
        set.add(variant);
        flagged.set(key, set);
      }
    }
  }
  const count = variants.size;
  const byAll = [...flagged.values()].filter((set) => set.size === count).length;
  return {
    usecase,
    from,
    to,
    variants: [...variants].sort(([a], [b]) => a.localeCompare(b)).map(([variant, v]) => ({ variant, ...v })),
    agreement: count < 2 || flagged.size === 0 ? null : byAll / flagged.size,
    flaggedByAll: byAll,
    flaggedByAny: flagged.size,
  };
}
