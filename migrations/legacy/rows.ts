/**
 * Legacy rows as read from PostgreSQL, decoded once at the edge. Every value is selected as text
 * (`::text`) so that nothing is rounded or reinterpreted by the driver; conversion happens in
 * convert.ts. A row of the wrong shape is a schema mismatch (a bug or a foreign table), not bad data.
 */
import { TributaryError } from '../../core/errors.js';

export interface LegacyCustomerRow {
  readonly customerId: string;
  readonly name: string;
  /** jsonb text. */
  readonly settings: string;
  /** timestamptz text. */
  readonly createdAt: string;
}

export interface LegacyRecordRow {
  /** bigserial, as decimal text. */
  readonly id: string;
  readonly customerId: string;
  readonly recordId: string;
  readonly eventTime: string;
  readonly accountId: string;
  /** numeric(18,2) text. */
  readonly amount: string;
  /** char(3), padded. */
  readonly currency: string;
  readonly category: string;
  /** char(2), padded. */
  readonly country: string;
  readonly merchant: string | null;
  readonly attributes: string;
  readonly insertedAt: string;
}

export interface LegacyFindingRow {
  readonly id: string;
  readonly customerId: string;
  readonly usecase: string;
  /** text[]; PostgreSQL arrays may hold NULL elements. */
  readonly recordIds: readonly (string | null)[];
  readonly code: string;
  readonly detail: string;
  readonly createdAt: string;
}

type Row = Readonly<Record<string, unknown>>;

function asRow(value: unknown): Row {
  if (typeof value !== 'object' || value === null) throw shapeError('the row', value);
  return value as Row;
}

function shapeError(what: string, value: unknown): TributaryError {
  return new TributaryError('INTERNAL', `legacy row: ${what} has an unexpected type (${typeof value})`);
}

function text(row: Row, column: string): string {
  const value = row[column];
  if (typeof value !== 'string') throw shapeError(column, value);
  return value;
}

function textOrNull(row: Row, column: string): string | null {
  const value = row[column];
  return value === null ? null : text(row, column);
}

function textArray(row: Row, column: string): (string | null)[] {
  const value = row[column];
  if (!Array.isArray(value)) throw shapeError(column, value);
  return value.map((item: unknown) => {
    if (item === null || typeof item === 'string') return item;
    throw shapeError(`an element of ${column}`, item);
  });
}

export function decodeCustomerRow(value: unknown): LegacyCustomerRow {
  const row = asRow(value);
  return {
    customerId: text(row, 'customer_id'),
    name: text(row, 'name'),
    settings: text(row, 'settings'),
    createdAt: text(row, 'created_at'),
  };
}

export function decodeRecordRow(value: unknown): LegacyRecordRow {
  const row = asRow(value);
  return {
    id: text(row, 'id'),
    customerId: text(row, 'customer_id'),
    recordId: text(row, 'record_id'),
    eventTime: text(row, 'event_time'),
    accountId: text(row, 'account_id'),
    amount: text(row, 'amount'),
    currency: text(row, 'currency'),
    category: text(row, 'category'),
    country: text(row, 'country'),
    merchant: textOrNull(row, 'merchant'),
    attributes: text(row, 'attributes'),
    insertedAt: text(row, 'inserted_at'),
  };
}

export function decodeFindingRow(value: unknown): LegacyFindingRow {
  const row = asRow(value);
  return {
    id: text(row, 'id'),
    customerId: text(row, 'customer_id'),
    usecase: text(row, 'usecase'),
    recordIds: textArray(row, 'record_ids'),
    code: text(row, 'code'),
    detail: text(row, 'detail'),
    createdAt: text(row, 'created_at'),
  };
}
