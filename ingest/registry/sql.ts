/**
 * The registry's SQL, one statement per function, rows decoded with zod (tables in
 * migrations/postgres/0002_schema_registry.sql). Works on the pool or on a transaction's client.
 */
import { createHash } from 'node:crypto';
import type { QueryResult, QueryResultRow } from 'pg';
import { z } from 'zod';
import { SCHEMA_TYPES, type SchemaType } from './canonical.js';
import { COMPATIBILITY_LEVELS, type CompatibilityLevel } from './compatibility.js';

/** The pool or a checked-out client. */
export interface Queryable {
  query<R extends QueryResultRow>(text: string, values?: unknown[]): Promise<QueryResult<R>>;
}

/** The subject of the global compatibility level in registry_config. */
export const GLOBAL = '';

export interface VersionRow {
  readonly version: number;
  readonly schemaId: number;
  readonly deleted: boolean;
}

export interface SchemaRow {
  readonly id: number;
  readonly schemaType: SchemaType;
  readonly schema: string;
}

const versionRow = z
  .object({ version: z.number().int(), schema_id: z.number().int(), deleted: z.boolean() })
  .transform((r): VersionRow => ({ version: r.version, schemaId: r.schema_id, deleted: r.deleted }));
const schemaRow = z
  .object({ id: z.number().int(), schema_type: z.enum(SCHEMA_TYPES), schema: z.string() })
  .transform((r): SchemaRow => ({ id: r.id, schemaType: r.schema_type, schema: r.schema }));
const idRow = z.object({ id: z.number().int() });
const subjectRow = z.object({ subject: z.string() });
const usageRow = z.object({ subject: z.string(), version: z.number().int() });
const configRow = z.object({ subject: z.string(), compatibility: z.enum(COMPATIBILITY_LEVELS) });

function decode<T>(rows: readonly unknown[], schema: z.ZodType<T>): T[] {
  return rows.map((row) => schema.parse(row));
}

/** Every version of a subject, soft-deleted ones included, oldest first. */
export async function selectVersions(q: Queryable, subject: string): Promise<VersionRow[]> {
  const result = await q.query(
    'SELECT version, schema_id, deleted FROM registry_versions WHERE subject = $1 ORDER BY version',
    [subject],
  );
  return decode(result.rows, versionRow);
}

export async function selectSchema(q: Queryable, id: number): Promise<SchemaRow | undefined> {
  const result = await q.query('SELECT id, schema_type, schema FROM registry_schemas WHERE id = $1', [id]);
  return decode(result.rows, schemaRow)[0];
}

export async function selectSchemaId(
  q: Queryable,
  schemaType: SchemaType,
  fingerprint: Buffer,
): Promise<number | undefined> {
  const result = await q.query(
    'SELECT id FROM registry_schemas WHERE schema_type = $1 AND fingerprint = $2',
    [schemaType, fingerprint],
  );
  return decode(result.rows, idRow)[0]?.id;
}

/** The schema's id, inserted if new. Two transactions inserting one schema meet on the unique key. */
export async function ensureSchemaId(
  q: Queryable,
  schemaType: SchemaType,
  fingerprint: Buffer,
  schema: string,
): Promise<number> {
  const inserted = await q.query(
    `INSERT INTO registry_schemas (schema_type, fingerprint, schema) VALUES ($1, $2, $3)
     ON CONFLICT (schema_type, fingerprint) DO NOTHING RETURNING id`,
    [schemaType, fingerprint, schema],
  );
  const id = decode(inserted.rows, idRow)[0]?.id ?? (await selectSchemaId(q, schemaType, fingerprint));
  if (id === undefined) throw new Error('schema row vanished between INSERT and SELECT');
  return id;
}

export async function selectSubjects(
  q: Queryable,
  includeDeleted: boolean,
  prefix: string,
): Promise<string[]> {
  const result = await q.query(
    `SELECT DISTINCT subject FROM registry_versions
     WHERE ($1 OR NOT deleted) AND starts_with(subject, $2) ORDER BY subject`,
    [includeDeleted, prefix],
  );
  return decode(result.rows, subjectRow).map((r) => r.subject);
}

export async function selectUsages(
  q: Queryable,
  schemaId: number,
  includeDeleted: boolean,
): Promise<{ subject: string; version: number }[]> {
  const result = await q.query(
    `SELECT subject, version FROM registry_versions
     WHERE schema_id = $1 AND ($2 OR NOT deleted) ORDER BY subject, version`,
    [schemaId, includeDeleted],
  );
  return decode(result.rows, usageRow);
}

export async function insertVersion(
  q: Queryable,
  subject: string,
  version: number,
  schemaId: number,
): Promise<void> {
  await q.query('INSERT INTO registry_versions (subject, version, schema_id) VALUES ($1, $2, $3)', [
    subject,
    version,
    schemaId,
  ]);
}

export async function softDeleteVersions(q: Queryable, subject: string, versions: number[]): Promise<void> {
  await q.query(
    `UPDATE registry_versions SET deleted = true, updated_at = now()
     WHERE subject = $1 AND version = ANY($2::int[])`,
    [subject, versions],
  );
}

export async function hardDeleteVersions(q: Queryable, subject: string, versions: number[]): Promise<void> {
  await q.query('DELETE FROM registry_versions WHERE subject = $1 AND version = ANY($2::int[])', [
    subject,
    versions,
  ]);
}

/** The levels configured for these subjects ('' = global). */
export async function selectConfig(
  q: Queryable,
  subjects: readonly string[],
): Promise<Map<string, CompatibilityLevel>> {
  const result = await q.query(
    'SELECT subject, compatibility FROM registry_config WHERE subject = ANY($1::text[])',
    [subjects],
  );
  return new Map(decode(result.rows, configRow).map((r) => [r.subject, r.compatibility]));
}

export async function upsertConfig(q: Queryable, subject: string, level: CompatibilityLevel): Promise<void> {
  await q.query(
    `INSERT INTO registry_config (subject, compatibility) VALUES ($1, $2)
     ON CONFLICT (subject) DO UPDATE SET compatibility = EXCLUDED.compatibility, updated_at = now()`,
    [subject, level],
  );
}

export async function deleteConfig(q: Queryable, subject: string): Promise<CompatibilityLevel | undefined> {
  const result = await q.query(
    'DELETE FROM registry_config WHERE subject = $1 RETURNING subject, compatibility',
    [subject],
  );
  return decode(result.rows, configRow)[0]?.compatibility;
}

/**
 * Serialises writers of one subject across processes until the transaction ends: the key is the first
 * 8 bytes of SHA-256('tributary.registry.subject\0' + subject), as a signed 64-bit integer.
 */
export async function lockSubject(q: Queryable, subject: string): Promise<void> {
  const key = createHash('sha256').update(`tributary.registry.subject\0${subject}`).digest();
  await q.query('SELECT pg_advisory_xact_lock($1::bigint)', [key.readBigInt64BE(0).toString()]);
}
