import { InvalidArgumentError } from '@commander-js/extra-typings';
import { describe, expect, it } from 'vitest';
import { parseSeed } from '../../cli/commands/generate.js';
import { parseTables } from '../../cli/commands/migrate.js';
import { parseFrom } from '../../cli/commands/deploy.js';
import {
  parseCustomerId,
  parseCustomerIds,
  parseKeyId,
  parseNonNegativeNumber,
  parsePercent,
  parsePort,
  parsePositiveInt,
} from '../../cli/options.js';

/** Forms Number() reads as a number but nobody types as one: each must be a usage error. */
const NOT_DECIMAL = ['', ' ', ' 8', '8 ', '0x50', '0b1', '0o7', '1e3', '+5', '-0', 'Infinity', '1_000'];

function refuses(parse: (value: string) => unknown, value: string): boolean {
  try {
    parse(value);
    return false;
  } catch (error) {
    return error instanceof InvalidArgumentError;
  }
}

describe('command-line number parsers', () => {
  it('parsePort takes 0–65535 in plain digits only', () => {
    expect(parsePort('0')).toBe(0);
    expect(parsePort('8080')).toBe(8080);
    expect(parsePort('65535')).toBe(65535);
    for (const value of [...NOT_DECIMAL, '65536', '80.0', '-1'])
      expect(refuses(parsePort, value), JSON.stringify(value)).toBe(true);
  });

  it('parsePositiveInt takes plain digits above 0, up to the largest safe integer', () => {
    expect(parsePositiveInt('1')).toBe(1);
    expect(parsePositiveInt('007')).toBe(7);
    expect(parsePositiveInt(String(Number.MAX_SAFE_INTEGER))).toBe(Number.MAX_SAFE_INTEGER);
    for (const value of [...NOT_DECIMAL, '0', '1.5', '-3', '99999999999999999999'])
      expect(refuses(parsePositiveInt, value), JSON.stringify(value)).toBe(true);
  });

  it('parseNonNegativeNumber takes digits with an optional decimal part', () => {
    expect(parseNonNegativeNumber('0')).toBe(0);
    expect(parseNonNegativeNumber('2.5')).toBe(2.5);
    expect(parseNonNegativeNumber('10')).toBe(10);
    for (const value of [...NOT_DECIMAL, '.5', '5.', '-1', '1.2.3'])
      expect(refuses(parseNonNegativeNumber, value), JSON.stringify(value)).toBe(true);
  });

  it('parsePercent takes whole numbers 0–100', () => {
    expect(parsePercent('0')).toBe(0);
    expect(parsePercent('50')).toBe(50);
    expect(parsePercent('100')).toBe(100);
    for (const value of [...NOT_DECIMAL, '101', '12.5', '-1'])
      expect(refuses(parsePercent, value), JSON.stringify(value)).toBe(true);
  });
});

describe('deploy --from', () => {
  it('takes ISO dates and times a calendar has, and epoch milliseconds', () => {
    expect(parseFrom('earliest')).toBe('earliest');
    expect(parseFrom('2024-02-29')).toBe(Date.UTC(2024, 1, 29));
    expect(parseFrom('2024-02-29T23:59:59.999Z')).toBe(Date.UTC(2024, 1, 29, 23, 59, 59, 999));
    expect(parseFrom('2024-03-01T10:00:00+02:00')).toBe(Date.UTC(2024, 2, 1, 8));
    expect(parseFrom('1709287200000')).toBe(1709287200000);
  });

  it('refuses a day or time of day that Date.parse would roll over', () => {
    for (const value of [
      '2024-02-30',
      '2023-02-29',
      '2024-04-31T10:00:00Z',
      '2024-03-01T24:00',
      '2024-03-01T10:60',
    ])
      expect(() => parseFrom(value), value).toThrow(InvalidArgumentError);
  });
});

describe('command-line id parsers', () => {
  it('parseCustomerId takes the ids the platform keeps, and refuses the rest before anything connects', () => {
    for (const id of ['acme', 'cust-0001', 'A.b_c-9', 'x'.repeat(64)]) expect(parseCustomerId(id)).toBe(id);
    for (const id of ['', 'bad id!', '-leading', '.dot', 'x'.repeat(65), 'é'])
      expect(refuses(parseCustomerId, id), JSON.stringify(id)).toBe(true);
  });

  it('parseCustomerIds takes ids separated by commas, each once, and names the first it refuses', () => {
    expect(parseCustomerIds('acme')).toEqual(['acme']);
    expect(parseCustomerIds('b, a,b ,c')).toEqual(['b', 'a', 'c']);
    for (const list of ['', 'a,,b', 'a,', 'a,bad id!', ',a'])
      expect(refuses(parseCustomerIds, list), JSON.stringify(list)).toBe(true);
    expect(() => parseCustomerIds('a,bad id!,c')).toThrow(
      /"bad id!": expected customer ids separated by commas/,
    );
  });

  it('parseKeyId takes a key id, or reads it from the whole key', () => {
    expect(parseKeyId('0123456789ab')).toBe('0123456789ab');
    expect(parseKeyId(`trb_0123456789ab_${'x'.repeat(43)}`)).toBe('0123456789ab');
    for (const id of ['', 'nothex', '0123456789AB', '0123456789a', '0123456789abc', 'trb_0123456789ab'])
      expect(refuses(parseKeyId, id), JSON.stringify(id)).toBe(true);
  });
});

describe('generate and migrate option parsers', () => {
  it('parseSeed takes every 32-bit seed, 0 too, and nothing the generator would fold onto another', () => {
    for (const seed of ['0', '42', '4294967295']) expect(parseSeed(seed)).toBe(Number(seed));
    for (const seed of ['4294967296', '-1', '1.5', '', '0x10'])
      expect(refuses(parseSeed, seed), JSON.stringify(seed)).toBe(true);
  });

  it('parseTables names each table once, however often it is given', () => {
    expect(parseTables('records,customers,records')).toEqual(['records', 'customers']);
    expect(refuses(parseTables, 'records,bogus')).toBe(true);
  });
});
