/**
 * Decodes Confluent-framed Avro into the current record version, whatever registered version wrote
 * it (schema resolution), and says precisely why a message cannot be accepted. Writer schemas are
 * fetched once per id; resolvers are cached per id. Registry outages are thrown (retriable), never
 * mistaken for bad messages.
 */
import { describeError } from '../../core/errors.js';
import type { TributaryRecord } from '../../core/record.js';
import { avroType, type AvroResolver, type AvroType } from '../contract/avro.js';
import { recordType } from '../contract/schemas.js';
import { validateRecord } from '../contract/validate.js';
import { RegistryError } from './registry-client.js';
import { fieldsRead, firstNonUtf8Text } from './utf8.js';
import { unframe } from './wire.js';

export const REJECTION_CODES = [
  'EMPTY',
  'BAD_MAGIC_BYTE',
  'TRUNCATED',
  'OVERSIZED',
  'UNKNOWN_SCHEMA_ID',
  'INCOMPATIBLE_SCHEMA',
  'UNDECODABLE',
  'INVALID_VALUE',
  'KEY_MISMATCH',
] as const;
export type RejectionCode = (typeof REJECTION_CODES)[number];

export type Decoded =
  | { readonly ok: true; readonly record: TributaryRecord; readonly schemaId: number }
  | { readonly ok: false; readonly code: RejectionCode; readonly reason: string; readonly schemaId?: number };

type Reader =
  | { readonly ok: true; readonly writer: AvroType; readonly resolver: AvroResolver | undefined }
  | { readonly ok: false; readonly code: RejectionCode; readonly reason: string };

/** Where writer schemas come from: the registry client, or fixed schemas in protocol tests. */
export interface SchemaSource {
  schemaById(id: number): Promise<string>;
}

export interface DeserializerOptions {
  readonly registry: SchemaSource;
  /** Largest accepted message value in bytes (default 64 KiB). */
  readonly maxBytes?: number;
  /**
   * The values were validated upstream (records.valid holds only what the validation job accepted):
   * skip the value rules. Decoding still fails on bytes that are not a record.
   */
  readonly validated?: boolean;
}

export class RecordDeserializer {
  private readonly reader: AvroType = recordType();
  private readonly readerFields = fieldsRead(this.reader);
  private readonly readers = new Map<number, Reader>();
  private readonly maxBytes: number;

  constructor(private readonly options: DeserializerOptions) {
    this.maxBytes = options.maxBytes ?? 64 * 1024;
  }

  /** Fetches the writer schemas of these values (once per id) so that decode() can run synchronously. */
  async prepare(values: readonly (Buffer | null)[]): Promise<void> {
    const wanted = new Set<number>();
    for (const value of values) {
      if (value !== null && value.length >= 5 && value[0] === 0) {
        const id = value.readInt32BE(1);
        if (!this.readers.has(id)) wanted.add(id);
      }
    }
    for (const id of wanted) this.readers.set(id, await this.loadReader(id));
  }

  private async loadReader(id: number): Promise<Reader> {
    let text: string;
    try {
      text = await this.options.registry.schemaById(id);
    } catch (error) {
      if (error instanceof RegistryError && error.status === 404) {
        return { ok: false, code: 'UNKNOWN_SCHEMA_ID', reason: `schema id ${id} is not registered` };
      }
      throw error; // the registry is unreachable: retry, do not dead-letter
    }
    let writer: AvroType;
    try {
      writer = avroType(text);
    } catch (error) {
      return {
        ok: false,
        code: 'INCOMPATIBLE_SCHEMA',
        reason: `schema id ${id} is not a usable Avro schema: ${describeError(error)}`,
      };
    }
    if (writer.equals(this.reader)) return { ok: true, writer, resolver: undefined };
    try {
      return { ok: true, writer, resolver: this.reader.createResolver(writer) };
    } catch (error) {
      return {
        ok: false,
        code: 'INCOMPATIBLE_SCHEMA',
        reason: `schema id ${id} cannot be read as the current record version: ${describeError(error)}`,
      };
    }
  }

  /** Decodes one value; prepare() must have seen it. `key` is checked against customer_id (null: none). */
  decode(value: Buffer | null, key?: Buffer | null): Decoded {
    const framed = unframe(value);
    if (!framed.ok) return framed;
    const size = value?.length ?? 0;
    if (size > this.maxBytes)
      return {
        ok: false,
        code: 'OVERSIZED',
        reason: `${size} bytes exceeds the limit of ${this.maxBytes}`,
        schemaId: framed.schemaId,
      };
    const reader = this.readers.get(framed.schemaId);
    if (reader === undefined) throw new Error(`schema id ${framed.schemaId} was not prepared`);
    if (!reader.ok) return { ...reader, schemaId: framed.schemaId };
    let record: TributaryRecord;
    try {
      record = this.reader.fromBuffer(framed.body, reader.resolver) as TributaryRecord;
    } catch (error) {
      const reason = describeError(error);
      const code: RejectionCode = /truncated/i.test(reason) ? 'TRUNCATED' : 'UNDECODABLE';
      return {
        ok: false,
        code,
        reason: `cannot decode with schema id ${framed.schemaId}: ${reason}`,
        schemaId: framed.schemaId,
      };
    }
    // The hot path scans the decoded strings for U+FFFD only; the bytes are read again only then.
    if (this.options.validated !== true && holdsReplacement(record)) {
      let altered: string | undefined;
      try {
        altered = firstNonUtf8Text(reader.writer, framed.body, this.readerFields);
      } catch (error) {
        // A body the walk cannot follow as avsc did (one avsc reads leniently: a block whose size
        // does not match its items, a varint past ten bytes): refused, never passed unchecked.
        altered = `some text (its bytes could not be walked: ${describeError(error)})`;
      }
      // And should the walk miss a way bytes become text: more U+FFFD than the body's EF BF BD.
      if (altered === undefined && replacements(record) > countIn(framed.body, REPLACEMENT_BYTES))
        altered = 'some text';
      if (altered !== undefined)
        return {
          ok: false,
          code: 'INVALID_VALUE',
          reason: `${altered} is not valid UTF-8: it would be stored altered (as U+FFFD)`,
          schemaId: framed.schemaId,
        };
    }
    const problems = this.options.validated === true ? [] : validateRecord(record);
    if (problems.length > 0)
      return { ok: false, code: 'INVALID_VALUE', reason: problems.join('; '), schemaId: framed.schemaId };
    // Without its key a customer's records would spread over partitions: each is ordered, counted
    // and deduplicated within its customer's partition. Refused by validation only: what it passed
    // before it refused them (records.valid keeps 7 days) is not refused downstream on a replay.
    const keyless = key === null && this.options.validated !== true;
    if (keyless || (key !== undefined && key !== null && key.toString('utf8') !== record.customer_id)) {
      return {
        ok: false,
        code: 'KEY_MISMATCH',
        reason: keyless
          ? "the message has no key: it must be the record's customer_id"
          : "the message key is not the record's customer_id",
        schemaId: framed.schemaId,
      };
    }
    return { ok: true, record, schemaId: framed.schemaId };
  }
}

const REPLACEMENT = '\uFFFD';
/** U+FFFD as UTF-8: how a string that really holds it is encoded. */
const REPLACEMENT_BYTES = Buffer.from(REPLACEMENT, 'utf8');

function countIn(within: string | Buffer, part: string | Buffer): number {
  let count = 0;
  const step = part.length;
  const next = (from: number): number =>
    typeof within === 'string' ? within.indexOf(part as string, from) : within.indexOf(part, from);
  for (let at = next(0); at !== -1; at = next(at + step)) count += 1;
  return count;
}

/**
 * Calls `visit` with each string of the record (map keys too) until it returns true; whether one did.
 * The one list of a record's texts, for the checks below.
 */
function someText(record: TributaryRecord, visit: (text: string) => boolean): boolean {
  // No list is built: this runs on every record validation decodes.
  const seen = (text: string | null | undefined): boolean => typeof text === 'string' && visit(text);
  if (
    seen(record.record_id) ||
    seen(record.customer_id) ||
    seen(record.account_id) ||
    seen(record.currency) ||
    seen(record.category) ||
    seen(record.country) ||
    seen(record.merchant) ||
    seen(record.channel)
  )
    return true;
  for (const key in record.attributes) if (visit(key) || seen(record.attributes[key])) return true;
  return false;
}

/** How many U+FFFD the record's strings hold. */
function replacements(record: TributaryRecord): number {
  let count = 0;
  someText(record, (text) => {
    count += countIn(text, REPLACEMENT);
    return false;
  });
  return count;
}

/**
 * Whether any string of the record holds U+FFFD: what avsc puts, silently, in place of bytes that are
 * not UTF-8 (a string may also hold it for real: its bytes then say so).
 */
function holdsReplacement(record: TributaryRecord): boolean {
  return someText(record, (text) => text.includes(REPLACEMENT));
}
