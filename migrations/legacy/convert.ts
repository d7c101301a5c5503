/**
 * Legacy rows → what Tributary stores, exactly or not at all. Pure: the same row always gives the
 * same result (verification converts the source again and compares). A row that cannot be converted
 * gives a reason and goes to the reject report; nothing is dropped silently.
 *
 * - Records: timestamps to UTC milliseconds, amounts to minor units of the row's currency (bigint),
 *   char(n) padding trimmed, attributes by the map rule of json-text.ts, schema_id 0 ("migrated"),
 *   ingestedAt = inserted_at, channel null; then the record contract's value rules (the same function
 *   the gateway and the validation job apply), so a migrated record is like any accepted one.
 * - Findings: finding_id = findingId(usecase, '', customer_id, record_ids), variant '', event time and
 *   found_at = created_at, detail by the map rule.
 * - Customers: the id must satisfy the control plane's pattern and the settings be a JSON object;
 *   name, settings (jsonb text) and created_at (timestamptz text) are kept verbatim for PostgreSQL.
 */
import { findingId, type Finding } from '../../core/finding.js';
import { CUSTOMER_ID_PATTERN, type TributaryRecord } from '../../core/record.js';
import { validateRecord } from '../../ingest/index.js';
import {
  amountToMinorUnits,
  ConversionError,
  timestamptzToMillis,
  trimCharPadding,
} from './convert-values.js';
import { jsonObjectToStringMap, JsonTextError, parseJsonText, JsonObject } from './json-text.js';
import type { LegacyCustomerRow, LegacyFindingRow, LegacyRecordRow } from './rows.js';

export type Conversion<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

/** schema_id of migrated records: no registered writer schema produced them. */
export const MIGRATED_SCHEMA_ID = 0;

export interface MigratedRecord {
  readonly record: TributaryRecord;
  readonly schemaId: typeof MIGRATED_SCHEMA_ID;
  readonly ingestedAt: Date;
}

export interface MigratedCustomer {
  readonly customerId: string;
  readonly name: string;
  readonly settingsJson: string;
  readonly createdAt: string;
}

const CUSTOMER_ID_RULE =
  'customer_id must be 1-64 letters, digits, "_", "." or "-", starting with a letter or digit';
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** Findings, like records, must have event times the platform's day arithmetic handles. */
const MIN_TIME_MS = Date.UTC(1900, 0, 1);
const MAX_TIME_MS = Date.UTC(2200, 0, 1);

/** Runs a conversion step; ConversionError and JsonTextError become a reason prefixed by the column. */
function step<T>(column: string, run: () => T): T {
  try {
    return run();
  } catch (error) {
    if (error instanceof ConversionError || error instanceof JsonTextError) {
      throw new RowRejected(`${column}: ${error.message}`);
    }
    throw error;
  }
}

class RowRejected extends Error {}

function guard<T>(convert: () => T): Conversion<T> {
  try {
    return { ok: true, value: convert() };
  } catch (error) {
    if (error instanceof RowRejected) return { ok: false, reason: error.message };
    throw error;
  }
}

export function convertRecord(row: LegacyRecordRow): Conversion<MigratedRecord> {
  return guard(() => {
    const eventTime = step('event_time', () => timestamptzToMillis(row.eventTime));
    const insertedAt = step('inserted_at', () => timestamptzToMillis(row.insertedAt));
    const currency = trimCharPadding(row.currency);
    const record: TributaryRecord = {
      record_id: row.recordId,
      customer_id: row.customerId,
      event_time: new Date(eventTime),
      account_id: row.accountId,
      amount_minor: step('amount', () => amountToMinorUnits(row.amount, currency)),
      currency,
      category: row.category,
      country: trimCharPadding(row.country),
      merchant: row.merchant,
      attributes: step('attributes', () => jsonObjectToStringMap(row.attributes)),
      channel: null,
    };
    const problems = validateRecord(record);
    if (problems.length > 0) throw new RowRejected(problems.join('; '));
    return { record, schemaId: MIGRATED_SCHEMA_ID, ingestedAt: new Date(insertedAt) };
  });
}

function checkName(column: string, value: string, max: number): void {
  if (value.length === 0 || value.length > max || CONTROL.test(value)) {
    throw new RowRejected(`${column} must be 1-${max} characters without control characters`);
  }
}

export function convertFinding(row: LegacyFindingRow): Conversion<Finding> {
  return guard(() => {
    if (!CUSTOMER_ID_PATTERN.test(row.customerId)) throw new RowRejected(CUSTOMER_ID_RULE);
    checkName('usecase', row.usecase, 64);
    checkName('code', row.code, 64);
    const recordIds: string[] = [];
    for (const id of row.recordIds) {
      if (id === null) throw new RowRejected('record_ids holds a NULL');
      checkName('record_ids', id, 128);
      recordIds.push(id);
    }
    const createdAt = step('created_at', () => timestamptzToMillis(row.createdAt));
    if (createdAt < MIN_TIME_MS || createdAt >= MAX_TIME_MS) {
      throw new RowRejected('created_at is outside 1900-01-01 … 2200-01-01');
    }
    return {
      findingId: findingId(row.usecase, '', row.customerId, recordIds),
      usecase: row.usecase,
      variant: '',
      customerId: row.customerId,
      code: row.code,
      recordIds,
      eventTime: new Date(createdAt),
      detail: step('detail', () => jsonObjectToStringMap(row.detail)),
    };
  });
}

export function convertCustomer(row: LegacyCustomerRow): Conversion<MigratedCustomer> {
  return guard(() => {
    if (!CUSTOMER_ID_PATTERN.test(row.customerId)) throw new RowRejected(CUSTOMER_ID_RULE);
    step('created_at', () => timestamptzToMillis(row.createdAt));
    const settings = step('settings', () => parseJsonText(row.settings));
    if (!(settings instanceof JsonObject)) throw new RowRejected('settings: not a JSON object');
    return {
      customerId: row.customerId,
      name: row.name,
      settingsJson: row.settings,
      createdAt: row.createdAt,
    };
  });
}
