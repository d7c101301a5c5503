/**
 * Which failures of the two stores are worth another attempt (retry rules as data), and which mean
 * that Cassandra refuses the rows themselves. Only idempotent work is ever retried: keyset reads,
 * upserts, Cassandra writes whose every key comes from the row.
 */
import { cassandraTypes } from '../../core/cassandra/index.js';
import { isTributaryError } from '../../core/errors.js';

const codes = cassandraTypes.responseErrorCodes;

/** Cassandra response errors that say "not now" rather than "never". */
const TRANSIENT_CASSANDRA_CODES: readonly number[] = [
  codes.unavailableException,
  codes.overloaded,
  codes.isBootstrapping,
  codes.truncateError,
  codes.writeTimeout,
  codes.readTimeout,
];

/** Driver-side errors: no host answered, a request timed out, connections saturated. */
const TRANSIENT_DRIVER_ERRORS: readonly string[] = [
  'NoHostAvailableError',
  'OperationTimedOutError',
  'BusyConnectionError',
];

/** SQLSTATE classes and codes: connection exceptions, shutdowns, serialization, too many clients. */
const TRANSIENT_SQLSTATE_PREFIXES: readonly string[] = ['08'];
const TRANSIENT_SQLSTATES: readonly string[] = ['57P01', '57P02', '57P03', '40001', '40P01', '53300'];
/** Node socket errors seen when a server restarts or the network drops. */
const TRANSIENT_SOCKET_CODES: readonly string[] = [
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
];

function property(error: unknown, name: string): unknown {
  return typeof error === 'object' && error !== null ? (error as Record<string, unknown>)[name] : undefined;
}

export function isTransientCassandraError(error: unknown): boolean {
  if (isTributaryError(error)) return error.retriable;
  const name = property(error, 'name');
  if (typeof name === 'string' && TRANSIENT_DRIVER_ERRORS.includes(name)) return true;
  const code = property(error, 'code');
  return name === 'ResponseError' && typeof code === 'number' && TRANSIENT_CASSANDRA_CODES.includes(code);
}

/** Cassandra refused the request as invalid: a value it cannot store (e.g. a TTL beyond 2038). */
export function isRefusedByCassandra(error: unknown): boolean {
  return property(error, 'name') === 'ResponseError' && property(error, 'code') === codes.invalid;
}

export function isTransientPgError(error: unknown): boolean {
  if (isTributaryError(error)) return error.retriable;
  const code = property(error, 'code');
  if (typeof code === 'string') {
    if (TRANSIENT_SQLSTATES.includes(code) || TRANSIENT_SOCKET_CODES.includes(code)) return true;
    if (TRANSIENT_SQLSTATE_PREFIXES.some((prefix) => code.startsWith(prefix))) return true;
  }
  const message = property(error, 'message');
  return (
    typeof message === 'string' &&
    /Connection terminated|connection timeout|timeout exceeded when trying to connect/i.test(message)
  );
}
