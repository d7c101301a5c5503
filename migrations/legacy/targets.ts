/**
 * What verification compares, per Cassandra table: the fingerprint a converted legacy row must have
 * there, how to read a day of that table, and the fingerprint of a stored row. Both sides build the
 * canonical text from the same stored values, so any difference in any column changes the hash.
 */
import { cassandraTypes, type LocalDate } from '../../core/cassandra/index.js';
import { TributaryError } from '../../core/errors.js';
import type { Finding } from '../../core/finding.js';
import { utcDay } from '../../ingest/master/index.js';
import { MIGRATED_SCHEMA_ID, type MigratedRecord } from './convert.js';
import { sortedEntries, VERIFY_BUCKETS, type Fingerprint } from './fingerprint.js';

export const VERIFY_TARGETS = [
  'customers',
  'records',
  'records_by_customer',
  'findings_by_customer',
  'findings_by_usecase',
] as const;
export type VerifyTargetName = (typeof VERIFY_TARGETS)[number];

/** A Cassandra row: every value unknown until decoded here. */
export interface StoredRow {
  get(column: string): unknown;
}

export interface Target<Item> {
  readonly name: VerifyTargetName;
  /** The partition of a day an item lives in; null when a day's partitions are the 32 buckets. */
  readonly partitionOf: ((item: Item) => string) | null;
  readonly expected: (item: Item) => Fingerprint;
  readonly query: string;
  params(day: LocalDate, partition: string): unknown[];
  /** The stored row's fingerprint, or null when the row is not one a migration writes. */
  actual(row: StoredRow, day: string): Fingerprint | null;
  /** Whether rows only Cassandra has are an error (false where other writers share the partitions). */
  readonly extrasAreErrors: boolean;
}

export function bucketPartitions(): string[] {
  return Array.from({ length: VERIFY_BUCKETS }, (_, b) => String(b));
}

function bad(column: string, value: unknown): TributaryError {
  return new TributaryError('INTERNAL', `Cassandra row: ${column} has an unexpected value (${typeof value})`);
}
function str(row: StoredRow, column: string): string {
  const value = row.get(column);
  if (typeof value !== 'string') throw bad(column, value);
  return value;
}
function strOrNull(row: StoredRow, column: string): string | null {
  const value = row.get(column);
  return value === null || value === undefined ? null : str(row, column);
}
function millis(row: StoredRow, column: string): number {
  const value = row.get(column);
  if (!(value instanceof Date)) throw bad(column, value);
  return value.getTime();
}
function int(row: StoredRow, column: string): number {
  const value = row.get(column);
  if (typeof value !== 'number') throw bad(column, value);
  return value;
}
function long(row: StoredRow, column: string): bigint {
  const value = row.get(column);
  if (typeof value !== 'bigint') throw bad(column, value);
  return value;
}
function bool(row: StoredRow, column: string): boolean {
  const value = row.get(column);
  if (typeof value !== 'boolean') throw bad(column, value);
  return value;
}
/** Cassandra returns null for an empty collection. */
function stringMap(row: StoredRow, column: string): Record<string, string> {
  const value = row.get(column);
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object') throw bad(column, value);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw bad(column, v);
    out[k] = v;
  }
  return out;
}
function stringList(row: StoredRow, column: string): string[] {
  const value = row.get(column);
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value)) throw bad(column, value);
  return value.map((v: unknown) => {
    if (typeof v !== 'string') throw bad(column, v);
    return v;
  });
}

interface RecordValues {
  readonly customerId: string;
  readonly recordId: string;
  readonly eventMs: number;
  readonly accountId: string;
  readonly amountMinor: bigint;
  readonly currency: string;
  readonly category: string;
  readonly country: string;
  readonly merchant: string | null;
  readonly attributes: Readonly<Record<string, string>>;
  readonly channel: string | null;
  readonly schemaId: number;
  readonly ingestedMs: number;
}

function recordFingerprint(v: RecordValues): Fingerprint {
  return {
    key: `${v.customerId}\u0000${v.recordId}`,
    day: utcDay(new Date(v.eventMs)),
    text: JSON.stringify([
      v.customerId,
      v.recordId,
      v.eventMs,
      v.accountId,
      v.amountMinor.toString(),
      v.currency,
      v.category,
      v.country,
      v.merchant,
      sortedEntries(v.attributes),
      v.channel,
      v.schemaId,
      v.ingestedMs,
    ]),
  };
}

function fromMigrated({ record: r, schemaId, ingestedAt }: MigratedRecord): Fingerprint {
  return recordFingerprint({
    customerId: r.customer_id,
    recordId: r.record_id,
    eventMs: r.event_time.getTime(),
    accountId: r.account_id,
    amountMinor: r.amount_minor,
    currency: r.currency,
    category: r.category,
    country: r.country,
    merchant: r.merchant,
    attributes: r.attributes,
    channel: r.channel,
    schemaId,
    ingestedMs: ingestedAt.getTime(),
  });
}

/** Stored records count only if a migration wrote them (schema_id 0): ingested ones are not compared. */
function fromStoredRecord(row: StoredRow): Fingerprint | null {
  const schemaId = int(row, 'schema_id');
  if (schemaId !== MIGRATED_SCHEMA_ID) return null;
  return recordFingerprint({
    customerId: str(row, 'customer_id'),
    recordId: str(row, 'record_id'),
    eventMs: millis(row, 'event_time'),
    accountId: str(row, 'account_id'),
    amountMinor: long(row, 'amount_minor'),
    currency: str(row, 'currency'),
    category: str(row, 'category'),
    country: str(row, 'country'),
    merchant: strOrNull(row, 'merchant'),
    attributes: stringMap(row, 'attributes'),
    channel: strOrNull(row, 'channel'),
    schemaId,
    ingestedMs: millis(row, 'ingested_at'),
  });
}

const RECORD_COLUMNS =
  'customer_id, record_id, event_time, account_id, amount_minor, currency, category, country, merchant, channel, attributes, schema_id, ingested_at';

export function recordTargets(keyspace: string): Target<MigratedRecord>[] {
  return [
    {
      name: 'records',
      partitionOf: null,
      expected: fromMigrated,
      query: `SELECT ${RECORD_COLUMNS} FROM ${keyspace}.records WHERE day = ? AND bucket = ?`,
      params: (day, partition) => [day, Number(partition)],
      actual: fromStoredRecord,
      extrasAreErrors: true,
    },
    {
      name: 'records_by_customer',
      partitionOf: (item) => item.record.customer_id,
      expected: fromMigrated,
      query: `SELECT ${RECORD_COLUMNS} FROM ${keyspace}.records_by_customer WHERE customer_id = ? AND day = ?`,
      params: (day, partition) => [partition, day],
      actual: fromStoredRecord,
      extrasAreErrors: true,
    },
  ];
}

function findingText(f: Finding, delivered: boolean): Fingerprint {
  const eventMs = f.eventTime.getTime();
  return {
    key: `${f.customerId}\u0000${f.findingId}\u0000${eventMs}`,
    day: utcDay(f.eventTime),
    text: JSON.stringify([
      f.customerId,
      f.findingId,
      eventMs,
      f.usecase,
      f.variant,
      f.code,
      f.recordIds,
      sortedEntries(f.detail),
      delivered,
      eventMs,
    ]),
  };
}

function usecaseText(
  f: Pick<Finding, 'usecase' | 'findingId' | 'customerId' | 'code' | 'recordIds'>,
  day: string,
  delivered: boolean,
): Fingerprint {
  return {
    key: `${f.usecase}\u0000${f.findingId}`,
    day,
    text: JSON.stringify([f.usecase, day, f.findingId, f.customerId, f.code, f.recordIds, delivered]),
  };
}

export function findingTargets(keyspace: string): Target<Finding>[] {
  return [
    {
      name: 'findings_by_customer',
      partitionOf: (item) => item.customerId,
      expected: (item) => findingText(item, true),
      query:
        'SELECT customer_id, finding_id, event_time, usecase, variant, code, record_ids, detail, delivered, found_at ' +
        `FROM ${keyspace}.findings_by_customer WHERE customer_id = ? AND day = ?`,
      params: (day, partition) => [partition, day],
      // A migrated finding has variant '' and found_at = event_time; the speed layer's never both.
      actual: (row) => {
        const eventMs = millis(row, 'event_time');
        if (str(row, 'variant') !== '' || millis(row, 'found_at') !== eventMs) return null;
        return findingText(
          {
            customerId: str(row, 'customer_id'),
            findingId: str(row, 'finding_id'),
            eventTime: new Date(eventMs),
            usecase: str(row, 'usecase'),
            variant: '',
            code: str(row, 'code'),
            recordIds: stringList(row, 'record_ids'),
            detail: stringMap(row, 'detail'),
          },
          bool(row, 'delivered'),
        );
      },
      extrasAreErrors: true,
    },
    {
      name: 'findings_by_usecase',
      partitionOf: (item) => item.usecase,
      expected: (item) => usecaseText(item, utcDay(item.eventTime), true),
      query:
        'SELECT usecase, variant, finding_id, customer_id, code, record_ids, delivered ' +
        `FROM ${keyspace}.findings_by_usecase WHERE usecase = ? AND day = ?`,
      params: (day, partition) => [partition, day],
      actual: (row, day) => {
        if (str(row, 'variant') !== '') return null;
        return usecaseText(
          {
            usecase: str(row, 'usecase'),
            findingId: str(row, 'finding_id'),
            customerId: str(row, 'customer_id'),
            code: str(row, 'code'),
            recordIds: stringList(row, 'record_ids'),
          },
          day,
          bool(row, 'delivered'),
        );
      },
      // The speed layer writes variant-'' findings into the same partitions, with nothing that tells
      // them apart: rows only Cassandra has are reported, not counted as a failure.
      extrasAreErrors: false,
    },
  ];
}

export function localDate(day: string): LocalDate {
  return cassandraTypes.LocalDate.fromString(day);
}
