/**
 * One error taxonomy for Tributary. Every error carries a stable `code`, whether retrying can help
 * (`retriable`) and the underlying `cause`. Codes map to HTTP statuses in one table.
 */

export const ERROR_CODES = [
  'CONFIG_INVALID',
  'USAGE',
  'PREREQUISITE_MISSING',
  'PORT_IN_USE',
  'SERVER_START_FAILED',
  'SERVER_NOT_READY',
  'FETCH_FAILED',
  'MIGRATION_FAILED',
  'MIGRATION_CHANGED',
  'MIGRATION_LOCKED',
  'NOT_FOUND',
  'CONFLICT',
  'BAD_REQUEST',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'UNAVAILABLE',
  'TIMEOUT',
  'STATE_CORRUPT',
  'STATE_UNSERIALIZABLE',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export const HTTP_STATUS_BY_CODE: Readonly<Record<ErrorCode, number>> = {
  CONFIG_INVALID: 500,
  USAGE: 400,
  PREREQUISITE_MISSING: 500,
  PORT_IN_USE: 500,
  SERVER_START_FAILED: 503,
  SERVER_NOT_READY: 503,
  FETCH_FAILED: 502,
  MIGRATION_FAILED: 500,
  MIGRATION_CHANGED: 500,
  MIGRATION_LOCKED: 409,
  NOT_FOUND: 404,
  CONFLICT: 409,
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNAVAILABLE: 503,
  TIMEOUT: 504,
  STATE_CORRUPT: 500,
  STATE_UNSERIALIZABLE: 500,
  INTERNAL: 500,
};

export interface TributaryErrorOptions {
  readonly retriable?: boolean;
  readonly cause?: unknown;
  readonly details?: Readonly<Record<string, unknown>>;
}

export class TributaryError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options: TributaryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TributaryError';
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.details = options.details ?? {};
  }

  get httpStatus(): number {
    return HTTP_STATUS_BY_CODE[this.code];
  }
}

export function isTributaryError(error: unknown): error is TributaryError {
  return error instanceof TributaryError;
}

/** A readable one-line description of any thrown value, following the `cause` chain. */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth += 1) {
    if (current instanceof Error) {
      parts.push(current.message);
      current = current.cause;
    } else {
      parts.push(typeof current === 'string' ? current : JSON.stringify(current));
      break;
    }
  }
  return parts.filter((p) => p.length > 0).join(': caused by: ');
}
