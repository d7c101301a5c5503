/** Parsers for command-line option values: a bad value is a usage error (exit code 2). */
import { InvalidArgumentError } from '@commander-js/extra-typings';
import { CUSTOMER_ID_PATTERN } from '../core/record.js';
import { keyIdOf } from '../core/tenants/index.js';

// Only plain decimal forms: Number() would also take "" (as 0), " 8", "0x50", "1e3" and "Infinity".
const DIGITS = /^\d+$/;
const DECIMAL = /^\d+(\.\d+)?$/;

export function parsePort(value: string): number {
  const port = Number(value);
  if (!DIGITS.test(value) || port > 65535) throw new InvalidArgumentError('expected a port 0–65535');
  return port;
}

export function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!DIGITS.test(value) || !Number.isSafeInteger(n) || n <= 0)
    throw new InvalidArgumentError('expected a positive integer');
  return n;
}

export function parseNonNegativeNumber(value: string): number {
  const n = Number(value);
  if (!DECIMAL.test(value) || !Number.isFinite(n)) throw new InvalidArgumentError('expected a number ≥ 0');
  return n;
}

/** A whole percentage, 0–100. */
export function parsePercent(value: string): number {
  const n = Number(value);
  if (!DIGITS.test(value) || n > 100) throw new InvalidArgumentError('expected an integer 0–100');
  return n;
}

export function parseJsonObject(value: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new InvalidArgumentError('expected a JSON object');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InvalidArgumentError('expected a JSON object');
  }
  return parsed as Record<string, unknown>;
}

/** A customer id as the platform keeps them (CUSTOMER_ID_PATTERN). */
export function parseCustomerId(value: string): string {
  if (!CUSTOMER_ID_PATTERN.test(value))
    throw new InvalidArgumentError(
      'expected 1-64 letters, digits, "_", "." or "-", starting with a letter or digit',
    );
  return value;
}

/** Customer ids separated by commas (CUSTOMER_ID_PATTERN each), each once, in the order given. */
export function parseCustomerIds(value: string): string[] {
  const ids = value.split(',').map((id) => id.trim());
  const bad = ids.find((id) => !CUSTOMER_ID_PATTERN.test(id));
  if (bad !== undefined)
    throw new InvalidArgumentError(
      `${bad === '' ? 'an empty id' : JSON.stringify(bad)}: expected customer ids separated by commas, each 1-64 letters, digits, "_", "." or "-", starting with a letter or digit`,
    );
  return [...new Set(ids)];
}

/** An API key's id: its 12 hex characters, or the whole key (`trb_<id>_<secret>`) it is read from. */
export function parseKeyId(value: string): string {
  const id = /^[0-9a-f]{12}$/.test(value) ? value : keyIdOf(value);
  if (id === undefined)
    throw new InvalidArgumentError('expected the 12 hex characters after trb_ (or the whole key)');
  return id;
}
