/**
 * A finding: what a use case reports about a customer's records. Its id is deterministic — a hash
 * of (use case, variant, customer, record ids) — so producing or writing it twice is harmless.
 */
import { createHash } from 'node:crypto';

export interface Finding {
  readonly findingId: string;
  readonly usecase: string;
  /** '' when the use case has no variants. */
  readonly variant: string;
  readonly customerId: string;
  readonly code: string;
  readonly recordIds: readonly string[];
  /** The event time of the record that triggered the finding (orders findings, newest first). */
  readonly eventTime: Date;
  readonly detail: Readonly<Record<string, string>>;
}

export function findingId(
  usecase: string,
  variant: string,
  customerId: string,
  recordIds: readonly string[],
): string {
  const hash = createHash('sha256');
  for (const part of [usecase, variant, customerId, ...recordIds]) {
    hash.update(part, 'utf8');
    hash.update('\u0000');
  }
  return hash.digest('base64url').slice(0, 32);
}
