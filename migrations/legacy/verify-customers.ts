/**
 * Customers are verified row by row rather than by checksum: there are few of them, and PostgreSQL
 * compares both sides exactly (text, timestamptz to the microsecond, jsonb by value). Each page of
 * converted legacy customers is joined with the control plane's customers and settings.
 */
import type { PgPool } from '../../core/postgres/index.js';
import type { MigratedCustomer } from './convert.js';
import type { TableSpec } from './plans.js';
import type { LegacyCustomerRow } from './rows.js';
import type { VerifyContext } from './verify-context.js';
import type { Mismatch, TableVerification } from './verify.js';

const SHOW = 20;
const ALL_DAYS = 'all days';

export async function verifyCustomers(
  spec: TableSpec<LegacyCustomerRow, MigratedCustomer>,
  controlPlane: PgPool,
  context: VerifyContext,
): Promise<TableVerification> {
  let verified = 0;
  let rejected = 0;
  let present = 0;
  const missing: string[] = [];
  const different: string[] = [];
  const counts = { missing: 0, different: 0 };
  let after: string | null = null;
  for (;;) {
    if (context.signal.aborted) break;
    const rows = await spec.read(after, context.pageSize);
    const customers: MigratedCustomer[] = [];
    for (const row of rows) {
      const converted = spec.convert(row);
      if (converted.ok) customers.push(converted.value);
      else rejected += 1;
    }
    if (customers.length > 0) {
      const result = await controlPlane.query<Record<string, unknown>>(
        `SELECT u.id, c.customer_id IS NOT NULL AS present,
                c.name IS NOT DISTINCT FROM u.name AS name_ok,
                c.created_at IS NOT DISTINCT FROM u.created_at AS created_ok,
                s.settings IS NOT DISTINCT FROM u.settings::jsonb AS settings_ok
           FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[]) AS u(id, name, created_at, settings)
           LEFT JOIN customers c ON c.customer_id = u.id
           LEFT JOIN customer_settings s ON s.customer_id = u.id`,
        [
          customers.map((c) => c.customerId),
          customers.map((c) => c.name),
          customers.map((c) => c.createdAt),
          customers.map((c) => c.settingsJson),
        ],
      );
      for (const row of result.rows) {
        const id = String(row.id);
        if (row.present !== true) {
          counts.missing += 1;
          if (missing.length < SHOW) missing.push(id);
          continue;
        }
        present += 1;
        const wrong = (['name', 'created', 'settings'] as const).filter((c) => row[`${c}_ok`] !== true);
        if (wrong.length > 0) {
          counts.different += 1;
          if (different.length < SHOW) different.push(`${id} (${wrong.join(', ')})`);
        }
      }
      verified += customers.length;
    }
    context.onProgress?.('customers', verified + rejected);
    const last = rows.at(-1);
    if (last === undefined || rows.length < context.pageSize) break;
    after = spec.key(last);
  }
  const ok = counts.missing === 0 && counts.different === 0;
  const mismatches: Mismatch[] = ok
    ? []
    : [
        {
          target: 'customers',
          day: ALL_DAYS,
          missing,
          extra: [],
          different,
          duplicates: [],
          counts: { ...counts, extra: 0, duplicates: 0 },
          truncated: false,
          explained: false,
        },
      ];
  return {
    table: 'customers',
    verified,
    rejected,
    refused: 0,
    expiring: 0,
    days: [{ target: 'customers', day: ALL_DAYS, expected: verified, actual: present, ok }],
    mismatches,
    ok: ok && !context.signal.aborted,
  };
}
