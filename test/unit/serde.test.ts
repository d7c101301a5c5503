/** The record contract's Avro encoding, decoding and schema resolution, with byte fixtures (no server). */
import { describe, expect, it } from 'vitest';
import type { TributaryRecord } from '../../core/record.js';
import { recordSchemaText, recordType } from '../../ingest/contract/schemas.js';
import { RegistryError } from '../../ingest/serde/registry-client.js';
import { RecordDeserializer, frame, type SchemaSource } from '../../ingest/serde/index.js';

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

  it('a key that is not the customer_id is refused', async () => {
    const deserializer = new RecordDeserializer({ registry: schemas });
    await deserializer.prepare([good]);
    expect(deserializer.decode(good, Buffer.from('someone-else'))).toMatchObject({
      ok: false,
      code: 'KEY_MISMATCH',
    });
    expect(deserializer.decode(good, Buffer.from('acme'))).toMatchObject({ ok: true });
  });

  it('a registry outage is thrown (to be retried), not mistaken for a bad message', async () => {
    const down: SchemaSource = {
      schemaById: () => Promise.reject(new RegistryError(503, 50301, 'unavailable')),
    };
    await expect(new RecordDeserializer({ registry: down }).prepare([good])).rejects.toThrow('unavailable');
  });
});
