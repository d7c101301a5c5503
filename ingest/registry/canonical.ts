/**
 * Parsing a submitted schema into its canonical form: the text the registry stores and returns, and
 * whose SHA-256 is the schema's identity (one id per canonical form, whatever subject).
 *
 * Why not Avro's Parsing Canonical Form (avsc's `fingerprint()`)? It strips `default`, `aliases`,
 * `logicalType`, `doc` and every other attribute, so schemas that mean different things would share an
 * id: a field default decides whether an evolution is compatible, aliases decide whether a rename
 * resolves, and a logical type changes how the bytes are interpreted (a `long` versus a
 * `timestamp-millis`). Confluent keeps all of them too (and so gives a doc-only change its own id).
 * avsc's own `schema({ exportAttrs: true })` cannot be used either: it drops unknown logical types and
 * custom properties (`precision`, `connect.name`…).
 *
 * What the canonical form normalises (nothing here changes what a schema means): whitespace and the
 * order of keys, names and aliases written fully qualified (`namespace` folded into `name`, as the
 * Parsing Canonical Form does), `{"type": "int"}` written `"int"` when it carries no attribute, keys of
 * default values sorted. Everything else is kept.
 */
import { createHash } from 'node:crypto';
import avsc from 'avsc';
import { registryErrors } from './errors.js';

export const SCHEMA_TYPES = ['AVRO'] as const;
export type SchemaType = (typeof SCHEMA_TYPES)[number];

export type AvroType = avsc.Type;

export interface ParsedSchema {
  readonly schemaType: SchemaType;
  /** The canonical JSON text: what the registry stores and returns. */
  readonly canonical: string;
  /** SHA-256 of the canonical text: a schema's identity across subjects. */
  readonly fingerprint: Buffer;
  /** The avsc type compatibility checks resolve with. */
  readonly type: AvroType;
}

const PRIMITIVES: ReadonlySet<string> = new Set([
  'null',
  'boolean',
  'int',
  'long',
  'float',
  'double',
  'bytes',
  'string',
]);
const NAMED: ReadonlySet<string> = new Set(['record', 'error', 'enum', 'fixed']);

/** Keys in this order first, the rest sorted: one text per schema. */
const KEY_ORDER = [
  'name',
  'namespace',
  'type',
  'fields',
  'symbols',
  'items',
  'values',
  'size',
  'default',
  'order',
  'aliases',
  'doc',
  'logicalType',
  'precision',
  'scale',
] as const;
const KEY_RANK: ReadonlyMap<string, number> = new Map(KEY_ORDER.map((key, index) => [key, index]));

type JsonObject = Record<string, unknown>;

/**
 * How deeply a schema's JSON may nest. Parsing and canonicalising recurse, so a schema thousands of
 * levels deep would end in "Maximum call stack size exceeded"; 256 is some 85 nested records.
 */
export const MAX_SCHEMA_DEPTH = 256;

/** The nesting depth of a parsed JSON value, counted without recursion. */
function depthOf(json: unknown): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[json, 1]];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [value, depth] = next;
    if (typeof value !== 'object' || value === null) continue;
    deepest = Math.max(deepest, depth);
    if (deepest > MAX_SCHEMA_DEPTH) return deepest;
    for (const child of Object.values(value)) stack.push([child, depth + 1]);
  }
  return deepest;
}

/** Parses and validates an Avro schema text; throws 42201 (invalid schema) with avsc's reason. */
export function parseAvroSchema(text: string): ParsedSchema {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw registryErrors.invalidSchema(`not JSON: ${messageOf(error)}`, error);
  }
  if (depthOf(json) > MAX_SCHEMA_DEPTH)
    throw registryErrors.invalidSchema(`it nests deeper than ${MAX_SCHEMA_DEPTH} JSON levels`);
  let original: AvroType;
  try {
    original = toAvroType(json);
  } catch (error) {
    throw registryErrors.invalidSchema(messageOf(error), error);
  }
  const canonical = JSON.stringify(schemaNode(json, ''));
  const type = toAvroType(JSON.parse(canonical));
  if (!type.equals(original)) {
    // The canonical form must never change what a schema means; fail loudly if it ever does.
    throw new Error(`canonical form changed the schema: ${canonical}`);
  }
  return { schemaType: 'AVRO', canonical, fingerprint: fingerprintOf(canonical), type };
}

/** Parses a canonical text read back from storage (already validated when it was registered). */
export function parseStoredSchema(canonical: string): AvroType {
  return toAvroType(JSON.parse(canonical));
}

export function fingerprintOf(canonical: string): Buffer {
  return createHash('sha256').update(canonical).digest();
}

function toAvroType(json: unknown): AvroType {
  // Unions wrapped: values are never decoded here, and wrapped unions resolve in every case. The
  // cast hands unknown JSON to avsc, which is the validator: it throws on anything not a schema.
  return avsc.Type.forSchema(json as avsc.Schema, { wrapUnions: true });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function qualify(name: string, namespace: string): string {
  if (PRIMITIVES.has(name) || name.includes('.') || namespace === '') return name;
  return `${namespace}.${name}`;
}

function namespaceOf(fullName: string): string {
  const dot = fullName.lastIndexOf('.');
  return dot === -1 ? '' : fullName.slice(0, dot);
}

function schemaNode(node: unknown, namespace: string): unknown {
  if (typeof node === 'string') return qualify(node, namespace);
  if (Array.isArray(node)) return node.map((branch) => schemaNode(branch, namespace));
  if (!isObject(node)) return node;
  const type = node.type;
  if (typeof type === 'string' && NAMED.has(type)) return namedNode(node, type, namespace);
  if (type === 'array') {
    return ordered({ ...attributes(node, ['items']), type, items: schemaNode(node.items, namespace) });
  }
  if (type === 'map') {
    return ordered({ ...attributes(node, ['values']), type, values: schemaNode(node.values, namespace) });
  }
  const rest = attributes(node, []);
  if (typeof type === 'string' && PRIMITIVES.has(type)) {
    return Object.keys(rest).length === 0 ? type : ordered({ ...rest, type });
  }
  // `{"type": <schema>}`: a reference to a named type, or a nested schema, with attributes.
  const inner = schemaNode(type, namespace);
  return Object.keys(rest).length === 0 ? inner : ordered({ ...rest, type: inner });
}

function namedNode(node: JsonObject, kind: string, enclosing: string): JsonObject {
  const explicit = typeof node.namespace === 'string' ? node.namespace : enclosing;
  const fullName = qualify(String(node.name), explicit);
  const namespace = namespaceOf(fullName);
  const handled = ['name', 'namespace', 'aliases', 'fields', 'symbols', 'size'];
  const out: JsonObject = { ...attributes(node, handled), name: fullName, type: kind };
  // A type in the null namespace nested in a namespaced one must say so, or it would inherit.
  if (namespace === '' && enclosing !== '') out.namespace = '';
  if (Array.isArray(node.aliases)) {
    out.aliases = node.aliases.map((alias) => qualify(String(alias), namespace));
  }
  if (Array.isArray(node.fields)) out.fields = node.fields.map((field) => fieldNode(field, namespace));
  if (node.symbols !== undefined) out.symbols = node.symbols;
  if (node.size !== undefined) out.size = node.size;
  return ordered(out);
}

function fieldNode(field: unknown, namespace: string): unknown {
  if (!isObject(field)) return field;
  return ordered({ ...attributes(field, []), type: schemaNode(field.type, namespace) });
}

/** Every key but `type` and the given ones, values key-sorted (attributes are kept, not judged). */
function attributes(node: JsonObject, handled: readonly string[]): JsonObject {
  const skip = new Set(['type', ...handled]);
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    if (!skip.has(key)) out[key] = sortKeysDeep(value);
  }
  return out;
}

function sortKeysDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeysDeep);
  if (!isObject(value)) return value;
  const out: JsonObject = {};
  for (const key of Object.keys(value).sort()) out[key] = sortKeysDeep(value[key]);
  return out;
}

function ordered(node: JsonObject): JsonObject {
  const rank = (key: string): number => KEY_RANK.get(key) ?? KEY_ORDER.length;
  const keys = Object.keys(node).sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  const out: JsonObject = {};
  for (const key of keys) out[key] = node[key];
  return out;
}
