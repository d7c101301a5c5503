/**
 * Exact conversions of PostgreSQL values read as text: timestamptz → UTC epoch milliseconds, numeric
 * → minor units (bigint, no floating point ever), char(n) → text without its padding. Pure functions;
 * a value that cannot be converted exactly throws ConversionError with the reason.
 */
import { minorUnitDigits } from './currencies.js';

export class ConversionError extends Error {
  override readonly name = 'ConversionError';
}

/** Avro `long`, Cassandra `bigint`. */
export const LONG_MIN = -(2n ** 63n);
export const LONG_MAX = 2n ** 63n - 1n;

/**
 * PostgreSQL's ISO output of timestamptz, in any session time zone: `2026-03-29 02:30:00.123456+02`,
 * offsets of ±HH, ±HH:MM or ±HH:MM:SS (local mean time before 1900 has seconds), years beyond 9999,
 * and a trailing ` BC`. `T` and `Z` (ISO 8601) are accepted too.
 */
const TIMESTAMPTZ =
  /^(\d{4,})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:(Z)|([+-])(\d{2})(?::?(\d{2}))?(?::?(\d{2}))?)( BC)?$/;

/** The JavaScript Date range: ±100,000,000 days around the epoch. */
const MAX_DATE_MS = 8.64e15;

/**
 * The UTC epoch milliseconds of a timestamptz's text. Sub-millisecond digits are truncated toward
 * the past (floor), so 1969-12-31 23:59:59.9995 UTC is -1 ms, never 0.
 */
export function timestamptzToMillis(text: string): number {
  return utcFastPath(text) ?? anyOffset(text);
}

const DASH = 0x2d;
const SPACE = 0x20;
const COLON = 0x3a;
const DOT = 0x2e;
const PLUS = 0x2b;
const ZERO = 0x30;

/** The decimal value of text[from, to), or -1 if a character is not a digit. */
function digitsAt(text: string, from: number, to: number): number {
  let value = 0;
  for (let i = from; i < to; i += 1) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/**
 * What a UTC session prints for years 1000–9999, `YYYY-MM-DD HH:MM:SS[.f{1,6}]+00`, without a regular
 * expression or a Date (this runs twice per record). Anything else is left to the general parser.
 */
function utcFastPath(text: string): number | undefined {
  const n = text.length;
  if (n < 22 || n > 29 || text.charCodeAt(n - 3) !== PLUS) return undefined;
  if (text.charCodeAt(n - 2) !== ZERO || text.charCodeAt(n - 1) !== ZERO) return undefined;
  if (text.charCodeAt(4) !== DASH || text.charCodeAt(7) !== DASH || text.charCodeAt(10) !== SPACE)
    return undefined;
  if (text.charCodeAt(13) !== COLON || text.charCodeAt(16) !== COLON) return undefined;
  const year = digitsAt(text, 0, 4);
  const month = digitsAt(text, 5, 7);
  const day = digitsAt(text, 8, 10);
  const hour = digitsAt(text, 11, 13);
  const minute = digitsAt(text, 14, 16);
  const second = digitsAt(text, 17, 19);
  if (year < 1000 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return undefined;
  let ms = 0;
  if (n > 22) {
    const fractionDigits = n - 23;
    const fraction = digitsAt(text, 20, n - 3);
    if (text.charCodeAt(19) !== DOT || fractionDigits < 1 || fraction < 0) return undefined;
    ms =
      fractionDigits >= 3
        ? Math.floor(fraction / 10 ** (fractionDigits - 3))
        : fraction * 10 ** (3 - fractionDigits);
  }
  return Date.UTC(year, month - 1, day, hour, minute, second, ms);
}

function anyOffset(text: string): number {
  if (text === 'infinity' || text === '-infinity') {
    throw new ConversionError(`timestamp ${text} has no instant`);
  }
  const m = TIMESTAMPTZ.exec(text);
  if (m === null) throw new ConversionError(`timestamp ${JSON.stringify(text)} is not ISO with a time zone`);
  const [, y, mo, d, h, mi, s, frac = '', zulu, sign, oh, om = '0', os = '0', bc] = m;
  if (zulu === undefined && sign === undefined) {
    throw new ConversionError(`timestamp ${JSON.stringify(text)} has no time zone offset`);
  }
  const yearText = y ?? '0';
  // 1 BC is year 0 in ISO 8601 (astronomical numbering), 2 BC is -1.
  const year = bc === undefined ? Number(yearText) : 1 - Number(yearText);
  const [month, day, hour, minute, second] = [Number(mo), Number(d), Number(h), Number(mi), Number(s)];
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 24 || minute > 59 || second > 60) {
    throw new ConversionError(`timestamp ${JSON.stringify(text)} is out of range`);
  }
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  if (date.getUTCDate() !== day) {
    throw new ConversionError(`timestamp ${JSON.stringify(text)} names a day that does not exist`);
  }
  const millisOfSecond = Number(frac.padEnd(3, '0').slice(0, 3));
  const offsetSeconds =
    sign === undefined ? 0 : (sign === '-' ? -1 : 1) * (Number(oh) * 3600 + Number(om) * 60 + Number(os));
  const ms =
    date.getTime() + ((hour * 60 + minute) * 60 + second) * 1000 + millisOfSecond - offsetSeconds * 1000;
  if (!Number.isFinite(ms) || Math.abs(ms) > MAX_DATE_MS) {
    throw new ConversionError(`timestamp ${JSON.stringify(text)} is outside the representable range`);
  }
  return ms;
}

const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/;

/**
 * A numeric's text as minor units of `currency` (see currencies.ts): `12.34` EUR → 1234n,
 * `1500` JPY → 1500n, `1.5` BHD → 1500n. Refuses digits the minor unit cannot hold (`0.5` JPY),
 * NaN and infinities, and results outside a signed 64-bit long.
 */
export function amountToMinorUnits(text: string, currency: string): bigint {
  const m = DECIMAL.exec(text);
  if (m === null) throw new ConversionError(`${JSON.stringify(text)} is not a finite decimal`);
  const [, minus, whole = '0', fraction = ''] = m;
  const digits = minorUnitDigits(currency);
  if (/[^0]/.test(fraction.slice(digits))) {
    throw new ConversionError(`${text} has more decimals than the minor unit of ${currency} (${digits})`);
  }
  const magnitude = BigInt(whole + fraction.slice(0, digits).padEnd(digits, '0'));
  const minor = minus === '-' ? -magnitude : magnitude;
  if (minor < LONG_MIN || minor > LONG_MAX) {
    throw new ConversionError(`${text} ${currency} is ${minor} minor units, beyond a signed 64-bit long`);
  }
  return minor;
}

/** char(n) values come padded with spaces to n characters; the padding is not part of the value. */
export function trimCharPadding(text: string): string {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 0x20) end -= 1;
  return end === text.length ? text : text.slice(0, end);
}
