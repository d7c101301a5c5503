/** The legacy conversions: exact, deterministic, and explicit about what cannot be converted. */
import { describe, expect, it } from 'vitest';
import { findingId } from '../../core/finding.js';
import {
  amountToMinorUnits,
  canonicalJson,
  ConversionError,
  convertCustomer,
  convertFinding,
  convertRecord,
  jsonObjectToStringMap,
  parseJsonText,
  timestamptzToMillis,
  trimCharPadding,
} from '../../migrations/legacy/index.js';
import type { LegacyFindingRow, LegacyRecordRow } from '../../migrations/legacy/index.js';

const LONG_MAX = 2n ** 63n - 1n;

describe('timestamptzToMillis', () => {
  it.each([
    ['1970-01-01 00:00:00+00', 0],
    ['1970-01-01 00:00:00.001+00', 1],
    ['1969-12-31 23:59:59.999+00', -1],
    ['1969-07-20 20:17:40+00', Date.UTC(1969, 6, 20, 20, 17, 40)],
    ['1900-01-01 00:00:00+00', Date.UTC(1900, 0, 1)],
    ['2038-01-19 03:14:07+00', 2 ** 31 * 1000 - 1000],
    ['2038-01-19 03:14:08+00', 2 ** 31 * 1000],
    ['2106-02-07 06:28:16+00', 2 ** 32 * 1000],
    ['2199-12-31 23:59:59.999+00', Date.UTC(2200, 0, 1) - 1],
    ['2026-11-24T10:00:00Z', Date.UTC(2026, 10, 24, 10)],
  ])('%s is %d ms', (text, ms) => {
    expect(timestamptzToMillis(text)).toBe(ms);
  });

  it('truncates microseconds toward the past, also before 1970', () => {
    expect(timestamptzToMillis('1970-01-01 00:00:00.000999+00')).toBe(0);
    expect(timestamptzToMillis('1969-12-31 23:59:59.999999+00')).toBe(-1);
    expect(timestamptzToMillis('1969-12-31 23:59:59.9995+00')).toBe(-1);
    expect(timestamptzToMillis('2026-11-24 10:00:00.123456+00')).toBe(Date.UTC(2026, 10, 24, 10, 0, 0, 123));
  });

  it('applies offsets other than UTC, with minutes and seconds', () => {
    const utc = Date.UTC(2026, 10, 24, 10, 0, 0);
    expect(timestamptzToMillis('2026-11-24 15:30:00+05:30')).toBe(utc);
    expect(timestamptzToMillis('2026-11-24 15:45:00+05:45')).toBe(utc);
    expect(timestamptzToMillis('2026-11-24 06:30:00-03:30')).toBe(utc);
    expect(timestamptzToMillis('2026-11-24 00:00:00-10')).toBe(utc);
    expect(timestamptzToMillis('2026-11-24 10:00:00+0000')).toBe(utc);
    // Amsterdam's local mean time before 1937: +00:19:32.
    expect(timestamptzToMillis('1900-01-01 00:19:32+00:19:32')).toBe(Date.UTC(1900, 0, 1));
    // Before 1970 with an offset crossing the epoch.
    expect(timestamptzToMillis('1970-01-01 02:00:00+05')).toBe(-3 * 3_600_000);
  });

  it('gives the right instant around daylight-saving changes (Europe/Berlin 2026)', () => {
    // Spring forward: 02:00 CET → 03:00 CEST on 2026-03-29; 01:59:59+01 and 03:00:00+02 are 1 s apart.
    expect(
      timestamptzToMillis('2026-03-29 03:00:00+02') - timestamptzToMillis('2026-03-29 01:59:59+01'),
    ).toBe(1000);
    expect(timestamptzToMillis('2026-03-29 03:30:00+02')).toBe(Date.UTC(2026, 2, 29, 1, 30));
    // Fall back: 02:30 happens twice on 2026-10-25, an hour apart.
    const first = timestamptzToMillis('2026-10-25 02:30:00+02');
    const second = timestamptzToMillis('2026-10-25 02:30:00+01');
    expect(first).toBe(Date.UTC(2026, 9, 25, 0, 30));
    expect(second - first).toBe(3_600_000);
    // US: 2026-03-08 02:00 EST → 03:00 EDT.
    expect(timestamptzToMillis('2026-03-08 03:00:00-04')).toBe(Date.UTC(2026, 2, 8, 7));
  });

  it('handles years beyond 9999 and before the common era', () => {
    expect(timestamptzToMillis('12345-01-01 00:00:00+00')).toBe(Date.parse('+012345-01-01T00:00:00Z'));
    expect(timestamptzToMillis('0001-01-01 00:00:00+00 BC')).toBe(Date.parse('0000-01-01T00:00:00Z'));
    expect(timestamptzToMillis('0044-03-15 12:00:00+00 BC')).toBe(Date.parse('-000043-03-15T12:00:00Z'));
    expect(timestamptzToMillis('0099-06-01 00:00:00+00')).toBe(Date.parse('0099-06-01T00:00:00Z'));
  });

  it('reads the UTC form directly exactly as it reads any other offset (10,000 random instants)', () => {
    let seed = 7;
    const random = (n: number): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed % n;
    };
    const pad = (v: number, width: number): string => String(v).padStart(width, '0');
    const wallClock = (d: Date): string =>
      `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)} ` +
      `${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}`;
    for (let i = 0; i < 10_000; i += 1) {
      // Whole seconds from 1000 to ~9000, plus 0–6 digits of a random fraction.
      const seconds = Date.UTC(1000, 0, 1) / 1000 + random(2_000_000_000) * 126;
      const micros = pad(random(1_000_000), 6);
      const digits = random(7);
      const fraction = digits === 0 ? '' : `.${micros.slice(0, digits)}`;
      const expected = seconds * 1000 + Number(micros.slice(0, Math.min(3, digits)).padEnd(3, '0'));
      const utc = new Date(seconds * 1000);
      expect(timestamptzToMillis(`${wallClock(utc)}${fraction}+00`)).toBe(expected);
      // The same instant one hour east, which only the general parser reads.
      const east = new Date(seconds * 1000 + 3_600_000);
      expect(timestamptzToMillis(`${wallClock(east)}${fraction}+01`)).toBe(expected);
    }
  });

  it.each([
    'infinity',
    '-infinity',
    '2026-11-24 10:00:00',
    '2026-02-30 00:00:00+00',
    'yesterday',
    '2026-13-01 00:00:00+00',
  ])('refuses %s', (text) => {
    expect(() => timestamptzToMillis(text)).toThrow(ConversionError);
  });
});

describe('amountToMinorUnits', () => {
  it.each([
    ['9999999999999999.99', 'EUR', 999_999_999_999_999_999n],
    ['-9999999999999999.99', 'EUR', -999_999_999_999_999_999n],
    ['0.01', 'EUR', 1n],
    ['-0.01', 'EUR', -1n],
    ['0.00', 'USD', 0n],
    ['-12.30', 'GBP', -1230n],
    ['12', 'EUR', 1200n],
    ['92233720368547758.07', 'EUR', LONG_MAX],
    ['-92233720368547758.08', 'EUR', -(2n ** 63n)],
    ['1500.00', 'JPY', 1500n],
    ['-7.00', 'KRW', -7n],
    ['1.50', 'BHD', 1500n],
    ['0.001', 'KWD', 1n],
    ['12.34', 'ZZZ', 1234n],
  ])('%s %s is %d minor units', (text, currency, minor) => {
    expect(amountToMinorUnits(text, currency)).toBe(minor);
  });

  it.each([
    ['92233720368547758.08', 'EUR', /beyond a signed 64-bit long/],
    ['9999999999999999.99', 'BHD', /beyond a signed 64-bit long/],
    ['1500.50', 'JPY', /more decimals than the minor unit of JPY/],
    ['0.001', 'EUR', /more decimals/],
    ['NaN', 'EUR', /not a finite decimal/],
    ['Infinity', 'EUR', /not a finite decimal/],
    ['1e5', 'EUR', /not a finite decimal/],
  ])('refuses %s %s', (text, currency, reason) => {
    expect(() => amountToMinorUnits(text, currency)).toThrow(reason);
  });

  it('ignores trailing zero digits beyond the minor unit', () => {
    expect(amountToMinorUnits('1.2300', 'EUR')).toBe(123n);
  });
});

describe('trimCharPadding', () => {
  it('removes only the trailing spaces of char(n)', () => {
    expect(trimCharPadding('EU ')).toBe('EU');
    expect(trimCharPadding('EUR')).toBe('EUR');
    expect(trimCharPadding(' F ')).toBe(' F');
    expect(trimCharPadding('   ')).toBe('');
  });
});

describe('JSON objects to string maps', () => {
  it('keeps strings, turns everything else into canonical compact JSON, keys sorted', () => {
    const map = jsonObjectToStringMap(
      '{"b": 1.50, "a": [1000, {"z": null, "y": true}], "c": 12345678901234567890.000, "d": "Grüße 🛒", "e": null, "f": false, "g": {"k": "v"}, "h": ""}',
    );
    expect(map).toEqual({
      a: '[1000,{"y":true,"z":null}]',
      b: '1.50',
      c: '12345678901234567890.000',
      d: 'Grüße 🛒',
      e: 'null',
      f: 'false',
      g: '{"k":"v"}',
      h: '',
    });
    expect(Object.keys(map)).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']);
  });

  it('is the same for the same value whatever the key order and whitespace', () => {
    const a = jsonObjectToStringMap('{"x": {"b": [1, 2], "a": "é"}, "y": -0.5e-3}');
    const b = jsonObjectToStringMap('{ "y":-0.5e-3,"x":{"a":"\\u00e9","b":[1,2]} }');
    expect(a).toEqual(b);
    expect(a.x).toBe('{"a":"é","b":[1,2]}');
  });

  it('keeps escapes and odd keys exactly', () => {
    const map = jsonObjectToStringMap(
      '{"__proto__": "p", "line\\nbreak": "tab\\there", "nested": {"q": "say \\"hi\\""}}',
    );
    expect(Object.hasOwn(map, '__proto__')).toBe(true);
    expect(map.__proto__).toBe('p');
    expect(map['line\nbreak']).toBe('tab\there');
    expect(map.nested).toBe('{"q":"say \\"hi\\""}');
  });

  it('returns an empty map for an empty object', () => {
    expect(jsonObjectToStringMap('{}')).toEqual({});
    expect(jsonObjectToStringMap(' { } ')).toEqual({});
  });

  it.each([
    '[1, 2]',
    '"text"',
    '42',
    'null',
    '{"a": 1',
    '{"a" 1}',
    '{a: 1}',
    '{"a": 01}',
    '{"a": "\u0001"}',
    '{} {}',
  ])('refuses %s', (text) => {
    expect(() => jsonObjectToStringMap(text)).toThrow();
  });

  it('round-trips canonical text', () => {
    const text = '{"a":[true,false,null,-1.5E+10,"x"],"b":{}}';
    expect(canonicalJson(parseJsonText(text))).toBe(text);
  });
});

const baseRecord: LegacyRecordRow = {
  id: '1',
  customerId: 'acme',
  recordId: 'r-1',
  eventTime: '2026-11-24 10:00:00.123456+00',
  accountId: 'acc-1',
  amount: '12.34',
  currency: 'EUR',
  category: 'grocery',
  country: 'FR',
  merchant: 'Nordwind',
  attributes: '{}',
  insertedAt: '2026-11-24 10:00:05+00',
};

function convertedRecord(row: Partial<LegacyRecordRow>) {
  const result = convertRecord({ ...baseRecord, ...row });
  if (!result.ok) throw new Error(`rejected: ${result.reason}`);
  return result.value;
}

function rejectionOf(result: { ok: true } | { ok: false; reason: string }): string {
  if (result.ok) throw new Error('expected a rejection');
  return result.reason;
}

describe('convertRecord', () => {
  it('converts every column exactly', () => {
    const { record, schemaId, ingestedAt } = convertedRecord({});
    expect(record).toEqual({
      record_id: 'r-1',
      customer_id: 'acme',
      event_time: new Date(Date.UTC(2026, 10, 24, 10, 0, 0, 123)),
      account_id: 'acc-1',
      amount_minor: 1234n,
      currency: 'EUR',
      category: 'grocery',
      country: 'FR',
      merchant: 'Nordwind',
      attributes: {},
      channel: null,
    });
    expect(schemaId).toBe(0);
    expect(ingestedAt).toEqual(new Date(Date.UTC(2026, 10, 24, 10, 0, 5)));
  });

  it('keeps unicode and emoji, a null merchant, nested attributes', () => {
    const { record } = convertedRecord({
      recordId: 'r-ü-🚀',
      accountId: 'компания',
      merchant: null,
      category: 'café ☕',
      attributes: '{"note": "東京ストア 🛒", "geo": {"lat": 48.8566, "lon": 2.3522}, "tags": ["a", "b"]}',
    });
    expect(record.record_id).toBe('r-ü-🚀');
    expect(record.account_id).toBe('компания');
    expect(record.merchant).toBeNull();
    expect(record.category).toBe('café ☕');
    expect(record.attributes).toEqual({
      geo: '{"lat":48.8566,"lon":2.3522}',
      note: '東京ストア 🛒',
      tags: '["a","b"]',
    });
  });

  it('trims char(n) padding and converts negative and extreme amounts', () => {
    expect(convertedRecord({ country: 'FR', currency: 'EUR' }).record.country).toBe('FR');
    expect(convertedRecord({ amount: '-9999999999999999.99' }).record.amount_minor).toBe(
      -999_999_999_999_999_999n,
    );
    expect(convertedRecord({ amount: '0.01' }).record.amount_minor).toBe(1n);
  });

  it('converts event times before 1970, at the epoch and after 2038', () => {
    expect(convertedRecord({ eventTime: '1970-01-01 00:00:00+00' }).record.event_time.getTime()).toBe(0);
    expect(convertedRecord({ eventTime: '1969-12-31 23:59:59.999+00' }).record.event_time.getTime()).toBe(-1);
    expect(convertedRecord({ eventTime: '2040-02-29 12:00:00+05:30' }).record.event_time.toISOString()).toBe(
      '2040-02-29T06:30:00.000Z',
    );
  });

  it.each([
    [{ customerId: 'bad customer!' }, /customer_id must be/],
    [{ amount: '9999999999999999.99', currency: 'BHD' }, /amount: .*beyond a signed 64-bit long/],
    [{ amount: '10.5', currency: 'JPY' }, /amount: .*more decimals/],
    [{ currency: 'eur' }, /currency must be three upper-case letters/],
    [{ country: 'F ' }, /country must be two upper-case letters/],
    [{ eventTime: '1899-12-31 23:59:59+00' }, /event_time is outside/],
    [{ eventTime: 'infinity' }, /event_time: timestamp infinity/],
    [{ attributes: '[1, 2]' }, /attributes: not a JSON object/],
    [{ recordId: '' }, /record_id is empty/],
    [{ merchant: '' }, /merchant must be null or/],
    [
      {
        attributes: JSON.stringify(Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']))),
      },
      /more than 64/,
    ],
  ])('rejects %j with a reason', (row, reason) => {
    expect(rejectionOf(convertRecord({ ...baseRecord, ...row }))).toMatch(reason);
  });
});

const baseFinding: LegacyFindingRow = {
  id: '7',
  customerId: 'acme',
  usecase: 'velocity',
  recordIds: ['r-1', 'r-2'],
  code: 'VELOCITY',
  detail: '{"count": 15, "window": "60s"}',
  createdAt: '2026-11-24 11:00:00+01',
};

describe('convertFinding', () => {
  it('gives the deterministic finding id, variant "", the event time and the detail map', () => {
    const result = convertFinding(baseFinding);
    if (!result.ok) throw new Error(result.reason);
    expect(result.value).toEqual({
      findingId: findingId('velocity', '', 'acme', ['r-1', 'r-2']),
      usecase: 'velocity',
      variant: '',
      customerId: 'acme',
      code: 'VELOCITY',
      recordIds: ['r-1', 'r-2'],
      eventTime: new Date(Date.UTC(2026, 10, 24, 10)),
      detail: { count: '15', window: '60s' },
    });
  });

  it.each([
    [{ recordIds: ['r-1', null] }, /NULL/],
    [{ customerId: '-x' }, /customer_id must be/],
    [{ usecase: '' }, /usecase must be/],
    [{ createdAt: '2200-01-01 00:00:00+00' }, /created_at is outside/],
    [{ detail: '"x"' }, /detail: not a JSON object/],
  ])('rejects %j', (row, reason) => {
    expect(rejectionOf(convertFinding({ ...baseFinding, ...row }))).toMatch(reason);
  });
});

describe('convertCustomer', () => {
  const base = {
    customerId: 'acme',
    name: 'Acme ✨',
    settings: '{"velocity_max_records": 20}',
    createdAt: '2020-01-01 00:00:00+00',
  };

  it('keeps name, settings and created_at verbatim', () => {
    expect(convertCustomer(base)).toEqual({
      ok: true,
      value: {
        customerId: 'acme',
        name: 'Acme ✨',
        settingsJson: '{"velocity_max_records": 20}',
        createdAt: '2020-01-01 00:00:00+00',
      },
    });
  });

  it('rejects ids the control plane refuses and settings that are not an object', () => {
    expect(rejectionOf(convertCustomer({ ...base, customerId: 'a b' }))).toMatch(/customer_id must be/);
    expect(rejectionOf(convertCustomer({ ...base, settings: '[]' }))).toMatch(/settings: not a JSON object/);
  });
});
