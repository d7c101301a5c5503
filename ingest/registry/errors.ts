/**
 * The registry's errors, in Confluent's taxonomy: every error has an `error_code` whose first three
 * digits are the HTTP status (40401 → 404). They are TributaryErrors, so the rest of Tributary can
 * branch on `code` and `retriable` as usual.
 */
import { TributaryError, type ErrorCode } from '../../core/errors.js';

export class RegistryError extends TributaryError {
  /** Confluent's `error_code`, e.g. 40401; a plain HTTP status (409, 415) for generic errors. */
  readonly errorCode: number;

  constructor(errorCode: number, message: string, options: { cause?: unknown; retriable?: boolean } = {}) {
    super(tributaryCode(statusOf(errorCode)), message, options);
    this.name = 'RegistryError';
    this.errorCode = errorCode;
  }

  override get httpStatus(): number {
    return statusOf(this.errorCode);
  }
}

export function isRegistryError(error: unknown): error is RegistryError {
  return error instanceof RegistryError;
}

/** 40401 → 404, 50001 → 500, 409 → 409. */
export function statusOf(errorCode: number): number {
  return errorCode >= 1000 ? Number(String(errorCode).slice(0, 3)) : errorCode;
}

function tributaryCode(status: number): ErrorCode {
  if (status === 401) return 'UNAUTHORIZED';
  if (status === 403) return 'FORBIDDEN';
  if (status === 404) return 'NOT_FOUND';
  if (status === 409) return 'CONFLICT';
  if (status === 413) return 'PAYLOAD_TOO_LARGE';
  if (status === 503) return 'UNAVAILABLE';
  if (status >= 500) return 'INTERNAL';
  return 'BAD_REQUEST';
}

export const registryErrors = {
  unauthorized: () => new RegistryError(40101, 'Unauthorized: this operation needs the admin bearer token'),
  subjectNotFound: (subject: string) => new RegistryError(40401, `Subject '${subject}' not found.`),
  versionNotFound: (version: number) => new RegistryError(40402, `Version ${version} not found.`),
  schemaNotFound: (id?: number) =>
    new RegistryError(40403, id === undefined ? 'Schema not found' : `Schema ${id} not found`),
  subjectSoftDeleted: (subject: string) =>
    new RegistryError(
      40404,
      `Subject '${subject}' was soft deleted. Set permanent=true to delete permanently`,
    ),
  subjectNotSoftDeleted: (subject: string) =>
    new RegistryError(40405, `Subject '${subject}' was not deleted first before being permanently deleted`),
  versionSoftDeleted: (subject: string, version: number) =>
    new RegistryError(
      40406,
      `Subject '${subject}' Version ${version} was soft deleted. Set permanent=true to delete permanently`,
    ),
  versionNotSoftDeleted: (subject: string, version: number) =>
    new RegistryError(
      40407,
      `Subject '${subject}' Version ${version} was not deleted first before being permanently deleted`,
    ),
  subjectConfigNotFound: (subject: string) =>
    new RegistryError(40408, `Subject '${subject}' does not have subject-level compatibility configured`),
  incompatible: (subject: string, reasons: readonly string[]) =>
    new RegistryError(
      409,
      `Schema being registered is incompatible with an earlier schema for subject "${subject}", details: [${reasons.join('; ')}]`,
    ),
  invalidSchema: (detail: string, cause?: unknown) =>
    new RegistryError(42201, `Invalid schema: ${detail}`, { cause }),
  invalidVersion: (version: string) =>
    new RegistryError(
      42202,
      `The specified version '${version}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string "latest"`,
    ),
  invalidCompatibility: (level: string) =>
    new RegistryError(
      42203,
      `Invalid compatibility level '${level}'. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive`,
    ),
  invalidRequest: (detail: string) => new RegistryError(422, `Unprocessable request: ${detail}`),
  store: (cause: unknown) =>
    new RegistryError(50001, 'Error in the backend data store', { cause, retriable: true }),
} as const;
