/** How each legacy table is read, keyed, named in reports and converted: shared by copy and verify. */
import type { Finding } from '../../core/finding.js';
import {
  convertCustomer,
  convertFinding,
  convertRecord,
  type Conversion,
  type MigratedCustomer,
  type MigratedRecord,
} from './convert.js';
import type { LegacyCustomerRow, LegacyFindingRow, LegacyRecordRow } from './rows.js';
import type { LegacySource } from './source.js';
import type { LegacyTable } from './tables.js';

export interface TableSpec<Raw, Out> {
  readonly table: LegacyTable;
  read(afterKey: string | null, limit: number): Promise<Raw[]>;
  key(raw: Raw): string;
  naturalKey(raw: Raw): string;
  convert(raw: Raw): Conversion<Out>;
}

export interface TableSpecs {
  readonly customers: TableSpec<LegacyCustomerRow, MigratedCustomer>;
  readonly records: TableSpec<LegacyRecordRow, MigratedRecord>;
  readonly findings: TableSpec<LegacyFindingRow, Finding>;
}

export function tableSpecs(source: LegacySource): TableSpecs {
  return {
    customers: {
      table: 'customers',
      read: (after, limit) => source.page('customers', after, limit),
      key: (row) => row.customerId,
      naturalKey: (row) => row.customerId,
      convert: convertCustomer,
    },
    records: {
      table: 'records',
      read: (after, limit) => source.page('records', after, limit),
      key: (row) => row.id,
      naturalKey: (row) => `${row.customerId}/${row.recordId}`,
      convert: convertRecord,
    },
    findings: {
      table: 'findings',
      read: (after, limit) => source.page('findings', after, limit),
      key: (row) => row.id,
      naturalKey: (row) => `${row.customerId}/${row.usecase}/${row.code}`,
      convert: convertFinding,
    },
  };
}

/** Calls `visit` for every row of the table in key order, a page at a time (bounded memory). */
export async function forEachRow<Raw, Out>(
  spec: TableSpec<Raw, Out>,
  pageSize: number,
  visit: (raw: Raw) => void,
  signal?: AbortSignal,
): Promise<void> {
  let after: string | null = null;
  for (;;) {
    if (signal?.aborted === true) return;
    const rows = await spec.read(after, pageSize);
    for (const row of rows) visit(row);
    const last = rows.at(-1);
    if (last === undefined || rows.length < pageSize) return;
    after = spec.key(last);
  }
}
