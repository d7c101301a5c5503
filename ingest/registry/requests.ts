/** Decoding of what clients send: bodies, path parameters and query flags, from `unknown`. */
import { z } from 'zod';
import { parseAvroSchema, SCHEMA_TYPES, type ParsedSchema } from './canonical.js';
import { parseCompatibilityLevel, type CompatibilityLevel } from './compatibility.js';
import { registryErrors } from './errors.js';
import type { VersionRef } from './store.js';

const MAX_VERSION = 2 ** 31 - 1;

const schemaRequest = z.object({
  schema: z.string().optional(),
  schemaType: z.string().optional(),
  references: z.array(z.unknown()).optional(),
});

/** `{"schema": "...", "schemaType"?: "AVRO"}` → the parsed schema; 42201 when it is not valid. */
export function decodeSchemaRequest(body: unknown): ParsedSchema {
  const request = schemaRequest.safeParse(body ?? {});
  if (!request.success) throw registryErrors.invalidRequest(z.prettifyError(request.error));
  const { schema, schemaType = 'AVRO', references = [] } = request.data;
  if (!SCHEMA_TYPES.some((type) => type === schemaType.toUpperCase())) {
    throw registryErrors.invalidSchema(
      `schema type ${schemaType} is not supported; this registry supports ${SCHEMA_TYPES.join(', ')}`,
    );
  }
  if (references.length > 0) throw registryErrors.invalidSchema('schema references are not supported');
  if (schema === undefined || schema.trim() === '') throw registryErrors.invalidSchema('empty schema');
  return parseAvroSchema(schema);
}

const configRequest = z.object({
  compatibility: z.unknown().optional(),
  compatibilityLevel: z.unknown().optional(),
});

/** `{"compatibility": "FULL"}` (or Confluent's newer `compatibilityLevel`); 42203 when invalid. */
export function decodeConfigRequest(body: unknown): CompatibilityLevel {
  const request = configRequest.safeParse(body ?? {});
  const raw = request.success ? (request.data.compatibility ?? request.data.compatibilityLevel) : undefined;
  const level = parseCompatibilityLevel(raw);
  if (level === undefined) {
    const given = raw === undefined ? '' : typeof raw === 'string' ? raw : JSON.stringify(raw);
    throw registryErrors.invalidCompatibility(given);
  }
  return level;
}

/** `latest`, `-1` or 1…2^31-1; 42202 otherwise. */
export function parseVersion(value: string): VersionRef {
  const text = value.trim();
  if (text.toLowerCase() === 'latest' || text === '-1') return 'latest';
  if (/^\d{1,10}$/.test(text)) {
    const version = Number(text);
    if (version >= 1 && version <= MAX_VERSION) return version;
  }
  throw registryErrors.invalidVersion(value);
}

/** A schema id from the path; 40403 when it cannot be one (no schema has that id). */
export function parseSchemaId(value: string): number {
  const id = /^\d{1,10}$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(id) || id < 1 || id > MAX_VERSION) throw registryErrors.schemaNotFound();
  return id;
}

const query = z.record(z.string(), z.unknown());

/** A boolean query flag as Confluent reads them: `true` (any case) is true, anything else false. */
export function flag(rawQuery: unknown, name: string): boolean {
  const parsed = query.safeParse(rawQuery);
  const value = parsed.success ? parsed.data[name] : undefined;
  return typeof value === 'string' && value.trim().toLowerCase() === 'true';
}

/** PostgreSQL's text cannot hold U+0000: a name with one is refused, not a failure of the store. */
function storable(name: string, value: string): string {
  if (value.includes('\u0000')) throw registryErrors.invalidRequest(`${name} contains a NUL character`);
  return value;
}

/** A string query parameter, or the fallback. */
export function text(rawQuery: unknown, name: string, fallback: string): string {
  const parsed = query.safeParse(rawQuery);
  const value = parsed.success ? parsed.data[name] : undefined;
  return typeof value === 'string' ? storable(name, value) : fallback;
}

const pathParams = z.record(z.string(), z.string());

/** A path parameter (the router has decoded it); 422 when missing. */
function param(rawParams: unknown, name: string): string {
  const parsed = pathParams.safeParse(rawParams);
  const value = parsed.success ? parsed.data[name] : undefined;
  if (value === undefined || value === '') throw registryErrors.invalidRequest(`missing ${name} in the path`);
  return storable(name, value);
}

export const subjectParam = (rawParams: unknown): string => param(rawParams, 'subject');
export const versionParam = (rawParams: unknown): VersionRef => parseVersion(param(rawParams, 'version'));
export const idParam = (rawParams: unknown): number => parseSchemaId(param(rawParams, 'id'));
