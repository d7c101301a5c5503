/**
 * Avro strings must be UTF-8, but avsc decodes any bytes and turns what is not UTF-8 into U+FFFD
 * silently. This walks a body by its writer schema, as avsc does, and checks each string's own bytes
 * (`isUtf8`), so that nothing elsewhere in the body (a varint, a double, a skipped field) can hide or
 * fake a bad one. It costs a second pass over the body: the deserializer runs it only when the decoded
 * record holds U+FFFD, the one sign that some text may have been altered.
 */
import { isUtf8 } from 'node:buffer';
import avro from 'avsc';
import type { AvroType } from '../contract/avro.js';

class Cursor {
  at = 0;
  constructor(readonly bytes: Buffer) {}

  /**
   * A zig-zag varint (int or long) as a number: exact up to 2^53, which any length or index in a body
   * is; past it (a count of empty items), its sign is still exact (the first byte's low bit).
   */
  long(): number {
    let value = 0;
    let scale = 1;
    let negative: boolean | undefined;
    for (;;) {
      const byte = this.take(1)[0] ?? 0;
      negative ??= (byte & 1) === 1;
      value += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) break;
      scale *= 128;
      if (scale > 2 ** 63) throw new Error('a varint longer than ten bytes');
    }
    const half = Math.floor(value / 2);
    return negative ? -(half + 1) : half;
  }

  take(length: number): Buffer {
    if (length < 0 || this.at + length > this.bytes.length) throw new Error('truncated');
    const slice = this.bytes.subarray(this.at, this.at + length);
    this.at += length;
    return slice;
  }
}

type Found = string | undefined;

/**
 * Reads one value of `type` whole (the cursor ends past it) and returns the path of its first string
 * whose bytes are not UTF-8.
 */
function walk(type: AvroType, cursor: Cursor, path: string): Found {
  const { types } = avro;
  if (type instanceof types.LogicalType) return walk(type.underlyingType, cursor, path);
  if (type instanceof types.FixedType) {
    cursor.take(type.size);
    return undefined;
  }
  if (type instanceof types.UnwrappedUnionType || type instanceof types.WrappedUnionType) {
    const branch = type.types[cursor.long()];
    if (branch === undefined) throw new Error('a union branch out of range');
    return walk(branch, cursor, path);
  }
  if (type instanceof types.RecordType) {
    let first: Found;
    for (const field of type.fields) {
      const found = walk(field.type, cursor, `${path}.${field.name}`); // read even past a bad one
      first ??= found;
    }
    return first;
  }
  if (type instanceof types.MapType) return walkBlocks(type.valuesType as AvroType, cursor, path, true);
  if (type instanceof types.ArrayType) return walkBlocks(type.itemsType, cursor, path, false);
  switch (type.typeName) {
    case 'null':
      return undefined;
    case 'boolean':
      cursor.take(1);
      return undefined;
    case 'int':
    case 'long':
    case 'abstract:long':
    case 'enum':
      cursor.long();
      return undefined;
    case 'float':
      cursor.take(4);
      return undefined;
    case 'double':
      cursor.take(8);
      return undefined;
    // The reader has no bytes: a writer's bytes it reads become a string (avsc promotes them), so they
    // are text here too; in the fields it skips, nothing is checked (firstNonUtf8Text).
    case 'bytes':
    case 'string':
      return isUtf8(cursor.take(cursor.long())) ? undefined : path;
    default:
      throw new Error(`no walk for Avro type ${type.typeName}`);
  }
}

/** Arrays and maps: blocks of items, each block a count (negative: followed by its size in bytes). */
function walkBlocks(items: AvroType, cursor: Cursor, path: string, isMap: boolean): Found {
  let first: Found;
  let index = 0;
  for (let count = cursor.long(); count !== 0; count = cursor.long()) {
    // A negative count is followed by the block's size: avsc skips by it, so it must match the items.
    const end = count < 0 ? cursor.long() + cursor.at : undefined;
    for (let i = Math.abs(count); i > 0; i -= 1, index += 1) {
      let itemPath = `${path}[${index}]`;
      if (isMap) {
        const key = cursor.take(cursor.long());
        const text = key.toString('utf8');
        if (!isUtf8(key)) first ??= `${path} key ${JSON.stringify(text)}`;
        itemPath = `${path}.${text}`;
      }
      const before = cursor.at;
      const found = walk(items, cursor, itemPath); // read even past a bad one
      first ??= found;
      // An item of no bytes (null, a record of nulls) holds no text, nor do the others: a count of
      // 2^62 of them is passed at once, as avsc skips them, not walked one by one.
      if (!isMap && cursor.at === before) {
        index += i;
        break;
      }
    }
    if (end !== undefined && cursor.at !== end)
      throw new Error('a block whose size does not match its items');
  }
  return first;
}

/**
 * The first string field of `body` (Avro, written with `writer`) whose bytes are not UTF-8, as a
 * path (`merchant`, `attributes.note`, `attributes key "…"`), or undefined. Only the top-level fields
 * named in `read` count: the others are skipped by the reader and stored nowhere.
 */
export function firstNonUtf8Text(
  writer: AvroType,
  body: Buffer,
  read: ReadonlySet<string>,
): string | undefined {
  const cursor = new Cursor(body);
  const bare = (type: AvroType): AvroType =>
    type instanceof avro.types.LogicalType ? type.underlyingType : type;
  let record = bare(writer);
  if (record instanceof avro.types.UnwrappedUnionType || record instanceof avro.types.WrappedUnionType) {
    record = bare(record.types[cursor.long()] ?? record); // a union of records: the branch written
  }
  // Never passed unchecked: a writer this walk does not know is refused (the caller says so).
  if (!(record instanceof avro.types.RecordType)) throw new Error(`a writer of type ${record.typeName}`);
  for (const field of record.fields) {
    const found = walk(field.type, cursor, field.name);
    if (found !== undefined && read.has(field.name)) return found;
  }
  if (cursor.at !== body.length) throw new Error('bytes left after the record');
  return undefined;
}

/** The writer field names a reader record reads: its fields' names and their aliases. */
export function fieldsRead(reader: AvroType): ReadonlySet<string> {
  const names = new Set<string>();
  if (!(reader instanceof avro.types.RecordType)) return names;
  for (const field of reader.fields) {
    names.add(field.name);
    for (const alias of field.aliases) names.add(alias);
  }
  return names;
}
