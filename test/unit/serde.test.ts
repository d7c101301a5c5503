/** The record contract's Avro encoding, decoding and schema resolution, with byte fixtures (no server). */
import { describe, expect, it } from 'vitest';
import type { TributaryRecord } from '../../core/record.js';
import { avroType, type AvroType } from '../../ingest/contract/avro.js';
import { recordSchemaText, recordType } from '../../ingest/contract/schemas.js';
import { RegistryError } from '../../ingest/serde/registry-client.js';
import { RecordDeserializer, frame, type SchemaSource } from '../../ingest/serde/index.js';
import { firstNonUtf8Text } from '../../ingest/serde/utf8.js';

const V1_ID = 11;
const V2_ID = 12;

const schemas: SchemaSource = {
  schemaById: (id) => {
    if (id === V1_ID) return Promise.resolve(recordSchemaText(1));
    if (id === V2_ID) return Promise.resolve(recordSchemaText(2));
    return Promise.reject(new RegistryError(404, 40403, `schema ${id} not found`));
  },
};

const record: TributaryRecord = {
  record_id: 'r-1',
  customer_id: 'acme',
  event_time: new Date('2026-03-29T01:30:00.123Z'),
  account_id: 'acc-7',
  amount_minor: 999_999_999_999_999_999n, // beyond 2^53: must survive exactly
  currency: 'EUR',
  category: 'grocery',
  country: 'FR',
  merchant: 'Café Ünïcødé 🍞',
  attributes: { store: '12', note: '' },
  channel: 'web',
};

async function decodeAll(
  deserializer: RecordDeserializer,
  values: Buffer[],
): Promise<ReturnType<RecordDeserializer['decode']>[]> {
  await deserializer.prepare(values);
  return values.map((value) => deserializer.decode(value));
}

describe('record serde', () => {
  it('round-trips version 2 exactly: bigint amounts, Date event times, unicode, maps', async () => {
    const value = frame(V2_ID, recordType(2).toBuffer(record));
    expect(value[0]).toBe(0);
    expect(value.readInt32BE(1)).toBe(V2_ID);
    const [decoded] = await decodeAll(new RecordDeserializer({ registry: schemas }), [value]);
    expect(decoded).toMatchObject({ ok: true, schemaId: V2_ID });
    if (decoded?.ok !== true) throw new Error('not decoded');
    expect(decoded.record.amount_minor).toBe(999_999_999_999_999_999n);
    expect(decoded.record.event_time).toBeInstanceOf(Date);
    expect(decoded.record.event_time.toISOString()).toBe('2026-03-29T01:30:00.123Z');
    expect({ ...decoded.record }).toEqual(record);
  });

  it('reads a version 1 writer into the version 2 reader (channel defaults to null)', async () => {
    const { channel: _dropped, ...v1 } = record;
    const value = frame(V1_ID, recordType(1).toBuffer(v1));
    const [decoded] = await decodeAll(new RecordDeserializer({ registry: schemas }), [value]);
    if (decoded?.ok !== true) throw new Error(`not decoded: ${JSON.stringify(decoded)}`);
    expect(decoded.record.channel).toBeNull();
    expect(decoded.record.amount_minor).toBe(record.amount_minor);
  });

  it('reads a version 2 writer with a version 1 reader (new field ignored) — old consumers keep working', () => {
    const v2Bytes = recordType(2).toBuffer(record);
    const resolver = recordType(1).createResolver(recordType(2));
    const old = recordType(1).fromBuffer(v2Bytes, resolver) as Record<string, unknown>;
    expect(old.channel).toBeUndefined();
    expect(old.record_id).toBe('r-1');
    expect(old.event_time).toEqual(record.event_time);
  });

  it('timestamps before 1970 and after 2038 keep their millisecond', async () => {
    const times = ['1969-07-20T20:17:40.001Z', '2038-01-19T03:14:08.999Z', '1901-01-01T00:00:00.000Z'];
    const values = times.map((t) =>
      frame(V2_ID, recordType(2).toBuffer({ ...record, event_time: new Date(t) })),
    );
    const decoded = await decodeAll(new RecordDeserializer({ registry: schemas }), values);
    expect(decoded.map((d) => (d.ok ? d.record.event_time.toISOString() : d.reason))).toEqual(times);
  });

  it('refuses to encode a number where a bigint long belongs, and an invalid Date', () => {
    expect(() => recordType(2).toBuffer({ ...record, amount_minor: 5 })).toThrow();
    expect(() => recordType(2).toBuffer({ ...record, event_time: new Date(Number.NaN) })).toThrow();
    expect(() => recordType(2).toBuffer({ ...record, event_time: 1_700_000_000_000 })).toThrow();
  });
});

describe('bad inputs', () => {
  const good = frame(V2_ID, recordType(2).toBuffer(record));
  const cases: [string, Buffer, string][] = [
    ['empty', Buffer.alloc(0), 'EMPTY'],
    ['wrong magic byte', Buffer.concat([Buffer.from([1]), good.subarray(1)]), 'BAD_MAGIC_BYTE'],
    ['JSON instead of Avro', Buffer.from('{"record_id":"x"}'), 'BAD_MAGIC_BYTE'],
    ['header cut short', good.subarray(0, 3), 'TRUNCATED'],
    ['body cut short', good.subarray(0, good.length - 10), 'TRUNCATED'],
    ['unknown schema id', frame(999, recordType(2).toBuffer(record)), 'UNKNOWN_SCHEMA_ID'],
    ['trailing garbage', Buffer.concat([good, Buffer.from([1, 2, 3])]), 'UNDECODABLE'],
    [
      'oversized',
      frame(V2_ID, recordType(2).toBuffer({ ...record, attributes: { big: 'x'.repeat(70_000) } })),
      'OVERSIZED',
    ],
    [
      'lower-case currency',
      frame(V2_ID, recordType(2).toBuffer({ ...record, currency: 'eur' })),
      'INVALID_VALUE',
    ],
    ['empty record_id', frame(V2_ID, recordType(2).toBuffer({ ...record, record_id: '' })), 'INVALID_VALUE'],
    [
      'event time in year 2500',
      frame(V2_ID, recordType(2).toBuffer({ ...record, event_time: new Date('2500-01-01T00:00:00Z') })),
      'INVALID_VALUE',
    ],
  ];

  it.each(cases)('%s → %s, with a reason', async (_name, value, code) => {
    const [decoded] = await decodeAll(new RecordDeserializer({ registry: schemas }), [value]);
    expect(decoded?.ok).toBe(false);
    if (decoded?.ok !== false) return;
    expect(decoded.code).toBe(code);
    expect(decoded.reason.length).toBeGreaterThan(5);
  });

  it('text that is not UTF-8 is refused, not stored as U+FFFD; a real U+FFFD is kept', async () => {
    const withBytes = (merchant: string, bytes: number[]): Buffer => {
      const value = frame(V2_ID, recordType(2).toBuffer({ ...record, merchant }));
      Buffer.from(bytes).copy(value, value.indexOf(merchant) + merchant.length - bytes.length);
      return value;
    };
    const [invalid, surrogate, real] = await decodeAll(new RecordDeserializer({ registry: schemas }), [
      withBytes('Cafxx', [0xc3, 0x28]), // a lead byte without its continuation
      withBytes('Cafxxx', [0xed, 0xa0, 0x80]), // a lone surrogate, which UTF-8 forbids
      frame(
        V2_ID,
        recordType(2).toBuffer({ ...record, merchant: 'Caf\uFFFD', attributes: { '\uFFFD': 'x' } }),
      ),
    ]);
    for (const decoded of [invalid, surrogate]) {
      expect(decoded).toMatchObject({ ok: false, code: 'INVALID_VALUE' });
      expect(decoded?.ok === false && decoded.reason).toMatch(/^merchant is not valid UTF-8/);
    }
    expect(real).toMatchObject({
      ok: true,
      record: { merchant: 'Caf\uFFFD', attributes: { '\uFFFD': 'x' } },
    });
  });

  it('text that is not UTF-8 is found by its own bytes: EF BF BD elsewhere neither hides nor fakes it', async () => {
    const V2_PLUS_ID = 13;
    const plus = JSON.parse(recordSchemaText(2)) as { fields: unknown[] };
    plus.fields.push(
      { name: 'blob', type: 'bytes', default: '' },
      { name: 'memo', type: 'string', default: '' },
    );
    const plusType = avroType(plus);
    const withPlus: SchemaSource = {
      schemaById: (id) =>
        id === V2_PLUS_ID ? Promise.resolve(JSON.stringify(plus)) : schemas.schemaById(id),
    };
    const replacement = Buffer.from('\uFFFD', 'utf8');
    const bad = Buffer.from([0x43, 0x61, 0x66, 0xc3]); // "Caf" and a lead byte without its continuation
    /** Encodes `fields`, then puts `bytes` where the text `marker` was (same length). */
    const patched = (id: number, type: AvroType, fields: object, marker: string, bytes: Buffer): Buffer => {
      const value = frame(id, type.toBuffer({ ...record, ...fields }));
      bytes.copy(value, value.indexOf(marker));
      return value;
    };
    const [inVarint, inBlob, unread, realAndBad, key, attribute] = await decodeAll(
      new RecordDeserializer({ registry: withPlus }),
      [
        // amount −2,600,952 is the varint EF BF BD 02: one EF BF BD the old byte count took for a string's
        patched(V2_ID, recordType(2), { amount_minor: -2_600_952n, merchant: 'Cafx' }, 'Cafx', bad),
        patched(V2_PLUS_ID, plusType, { merchant: 'Cafx', blob: replacement }, 'Cafx', bad),
        // a field the reader skips is stored nowhere: its bytes do not matter, a real U+FFFD is kept
        patched(
          V2_PLUS_ID,
          plusType,
          { merchant: 'Caf\uFFFD', blob: Buffer.alloc(0), memo: 'Mmmx' },
          'Mmmx',
          bad,
        ),
        patched(V2_ID, recordType(2), { merchant: 'Caf\uFFFD', channel: 'webx' }, 'webx', bad),
        patched(V2_ID, recordType(2), { attributes: { Cafx: '\uFFFD' } }, 'Cafx', bad),
        patched(V2_ID, recordType(2), { attributes: { '\uFFFD': 'Cafx' } }, 'Cafx', bad),
      ],
    );
    const reason = (decoded: unknown): unknown =>
      (decoded as { ok: boolean }).ok ? decoded : (decoded as { reason: string }).reason;
    expect(reason(inVarint)).toMatch(/^merchant is not valid UTF-8/);
    expect(reason(inBlob)).toMatch(/^merchant is not valid UTF-8/);
    expect(unread).toMatchObject({ ok: true, record: { merchant: 'Caf\uFFFD' } });
    expect(reason(realAndBad)).toMatch(/^channel is not valid UTF-8/);
    expect(reason(key)).toMatch(/^attributes key "Caf\uFFFD" is not valid UTF-8/);
    expect(reason(attribute)).toMatch(/^attributes\.\uFFFD is not valid UTF-8/);
  });

  it('text that is not UTF-8 is refused from writers avsc reads leniently too', async () => {
    const v2 = JSON.parse(recordSchemaText(2)) as { fields: { name: string; type: unknown }[] };
    // merchant written as bytes (avsc reads bytes into a string); the record inside a union; a field
    // the reader skips first, written as a block whose size avsc skips by, over bytes that are no item
    const asBytes = {
      ...v2,
      fields: v2.fields.map((f) => (f.name === 'merchant' ? { ...f, type: ['null', 'bytes'] } : f)),
    };
    const extraFirst = {
      ...v2,
      fields: [{ name: 'extra', type: { type: 'array', items: 'int' } }, ...v2.fields],
    };
    const writers = new Map<number, unknown>([
      [14, asBytes],
      [15, [v2]],
      [16, extraFirst],
    ]);
    const source: SchemaSource = {
      schemaById: (id) => {
        const writer = writers.get(id);
        return writer === undefined ? schemas.schemaById(id) : Promise.resolve(JSON.stringify(writer));
      },
    };
    const bad = Buffer.from([0x43, 0x61, 0x66, 0xc3]);
    const withBad = (id: number, body: Buffer): Buffer => {
      const value = frame(id, body);
      bad.copy(value, value.indexOf('Cafx'));
      return value;
    };
    const bytesMerchant = avroType(asBytes).toBuffer({ ...record, merchant: Buffer.from('Cafx') });
    const inUnion = avroType([v2]).toBuffer({ ...record, merchant: 'Cafx' });
    const sizedBlock = Buffer.from([0x01, 0x06, 0x02, 0x02, 0x02, 0x00]); // count −1, 3 bytes, then 0
    const afterBlock = Buffer.concat([sizedBlock, recordType(2).toBuffer({ ...record, merchant: 'Cafx' })]);
    const decoded = await decodeAll(new RecordDeserializer({ registry: source }), [
      withBad(14, bytesMerchant),
      withBad(15, inUnion),
      withBad(16, afterBlock),
    ]);
    const reasons = decoded.map((d) => (d.ok ? d : d.reason));
    expect(reasons[0]).toMatch(/^merchant is not valid UTF-8/);
    expect(reasons[1]).toMatch(/^merchant is not valid UTF-8/);
    expect(reasons[2]).toMatch(
      /^some text \(its bytes could not be walked: a block whose size does not match/,
    );
  });

  it('the UTF-8 walk reads every Avro type whole, blocks with sizes too, and names the bad text', () => {
    const rich = avroType({
      type: 'record',
      name: 'Rich',
      fields: [
        { name: 'flag', type: 'boolean' },
        { name: 'n', type: 'int' },
        { name: 'f', type: 'float' },
        { name: 'd', type: 'double' },
        { name: 'raw', type: 'bytes' },
        { name: 'id', type: { type: 'fixed', name: 'Id', size: 3 } },
        { name: 'kind', type: { type: 'enum', name: 'Kind', symbols: ['A', 'B'] } },
        { name: 'at', type: { type: 'long', logicalType: 'timestamp-millis' } },
        {
          name: 'items',
          type: {
            type: 'array',
            items: { type: 'record', name: 'Item', fields: [{ name: 'label', type: 'string' }] },
          },
        },
        { name: 'tags', type: { type: 'map', values: ['null', 'string'] } },
        { name: 'last', type: 'string' },
      ],
    });
    const value = {
      flag: true,
      n: -5,
      f: 1.5,
      d: 2.5,
      raw: Buffer.from([0xff, 0xfe]),
      id: Buffer.from('abc'),
      kind: 'B',
      at: new Date(0),
      items: [{ label: 'one' }, { label: 'twox' }],
      tags: { t: 'v', u: null },
      last: 'end',
    };
    const read = new Set(['items', 'tags', 'last']);
    const body = rich.toBuffer(value);
    expect(firstNonUtf8Text(rich, body, read)).toBeUndefined();
    const bad = Buffer.from(body);
    bad[bad.indexOf('twox') + 3] = 0xc3;
    expect(firstNonUtf8Text(rich, bad, read)).toBe('items[1].label');
    bad[bad.indexOf('end') + 2] = 0xff;
    expect(firstNonUtf8Text(rich, bad, read)).toBe('items[1].label'); // the first one
    expect(firstNonUtf8Text(rich, bad, new Set(['last']))).toBe('last'); // read past the skipped ones
    // An array written as one block with its size (a negative count), as other writers may.
    const array = avroType({
      type: 'record',
      name: 'A',
      fields: [{ name: 'xs', type: { type: 'array', items: 'string' } }],
    });
    const sized = Buffer.from([0x03, 0x0a, 0x04, 0x61, 0x62, 0x02, 0xc3, 0x00]); // count −2, 5 bytes: "ab", "\xc3"
    expect(array.fromBuffer(sized)).toEqual({ xs: ['ab', '\uFFFD'] });
    expect(firstNonUtf8Text(array, sized, new Set(['xs']))).toBe('xs[1]');
    // 2^62 items of no bytes, as one block (count −2^62, size 0): passed at once, as avsc skips them.
    const empties = avroType({
      type: 'record',
      name: 'E',
      fields: [
        { name: 'nulls', type: { type: 'array', items: 'null' } },
        { name: 's', type: 'string' },
      ],
    });
    const huge = Buffer.from([...Array<number>(8).fill(0xff), 0x7f, 0x00, 0x00, 0x04, 0x6f, 0xc3]);
    expect(firstNonUtf8Text(empties, huge, new Set(['s']))).toBe('s');
    // A record writer wrapped in a logical type (avsc reads it as the record) is walked as the record.
    const wrapped = avroType({ ...JSON.parse(recordSchemaText(2)), logicalType: 'timestamp-millis' });
    const body2 = recordType(2).toBuffer({ ...record, merchant: 'Cafx' });
    body2[body2.indexOf('Cafx') + 3] = 0xc3;
    expect(firstNonUtf8Text(wrapped, body2, new Set(['merchant']))).toBe('merchant');
  });

  it('a key that is not the customer_id is refused', async () => {
    const deserializer = new RecordDeserializer({ registry: schemas });
    await deserializer.prepare([good]);
    expect(deserializer.decode(good, Buffer.from('someone-else'))).toMatchObject({
      ok: false,
      code: 'KEY_MISMATCH',
    });
    expect(deserializer.decode(good, Buffer.from('acme'))).toMatchObject({ ok: true });
  });

  it('no key is refused by validation, and not by the jobs after it (records.valid may hold some from before)', async () => {
    const validating = new RecordDeserializer({ registry: schemas });
    await validating.prepare([good]);
    expect(validating.decode(good, null)).toMatchObject({
      ok: false,
      code: 'KEY_MISMATCH',
      reason: "the message has no key: it must be the record's customer_id",
    });
    const downstream = new RecordDeserializer({ registry: schemas, validated: true });
    await downstream.prepare([good]);
    expect(downstream.decode(good, null)).toMatchObject({ ok: true });
    expect(downstream.decode(good, Buffer.from('someone-else'))).toMatchObject({ code: 'KEY_MISMATCH' });
  });

  it('a registry outage is thrown (to be retried), not mistaken for a bad message', async () => {
    const down: SchemaSource = {
      schemaById: () => Promise.reject(new RegistryError(503, 50301, 'unavailable')),
    };
    await expect(new RecordDeserializer({ registry: down }).prepare([good])).rejects.toThrow('unavailable');
  });
});
