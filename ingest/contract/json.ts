/**
 * A record as customers send it in JSON (the gateway's input), decoded once into a TributaryRecord.
 * event_time: an ISO 8601 string with a time zone, or epoch milliseconds. amount_minor: an integer,
 * or a string of digits when it exceeds 2^53 (JSON numbers lose precision there).
 */
import { z } from 'zod';
import type { TributaryRecord } from '../../core/record.js';

/**
 * A union's message when no alternative accepted the input: the message of the alternative whose
 * type the input had (a number that is not an integer, a string that is no time), else `expected`.
 * Zod's own is "Invalid input", which names neither.
 */
function oneOf(expected: string): (issue: z.core.$ZodRawIssue) => string {
  return (issue) => {
    for (const branch of (issue as { errors?: z.core.$ZodIssue[][] }).errors ?? []) {
      const own = branch.find((i) => i.code !== 'invalid_type' || i.expected === 'int');
      if (own !== undefined) return own.message;
    }
    return expected;
  };
}

const eventTime = z.union(
  [
    z.iso
      .datetime({ offset: true, error: 'an ISO 8601 time with a zone (Z or ±hh:mm)' })
      .transform((s) => new Date(s)),
    z
      .number()
      .int('whole epoch milliseconds')
      .transform((n) => new Date(n)),
  ],
  { error: oneOf('an ISO 8601 time with a zone, or epoch milliseconds') },
);

const amountMinor = z.union(
  [
    // Zod's int() takes safe integers only: beyond 2^53 a JSON number has already lost digits.
    z
      .number()
      .int('an integer (beyond 2^53, a string of digits)')
      .transform((n) => BigInt(n)),
    z
      .string()
      .regex(/^-?\d{1,19}$/, 'a string of at most 19 digits')
      .transform((s) => BigInt(s))
      .refine((n) => n >= -(2n ** 63n) && n < 2n ** 63n, 'outside the 64-bit range'),
  ],
  { error: oneOf('an integer, or a string of digits beyond 2^53') },
);

const nullableString = z.string().nullable().optional().default(null);

export const JsonRecord = z.strictObject({
  record_id: z.string(),
  customer_id: z.string(),
  event_time: eventTime,
  account_id: z.string(),
  amount_minor: amountMinor,
  currency: z.string(),
  category: z.string(),
  country: z.string(),
  merchant: nullableString,
  attributes: z.record(z.string(), z.string()).optional().default({}),
  channel: nullableString,
});

export type JsonDecodeResult = { ok: true; record: TributaryRecord } | { ok: false; reason: string };

export function decodeJsonRecord(input: unknown): JsonDecodeResult {
  const parsed = JsonRecord.safeParse(input);
  if (parsed.success) return { ok: true, record: parsed.data };
  const reason = parsed.error.issues
    .map((issue) => `${issue.path.length === 0 ? 'record' : issue.path.join('.')}: ${issue.message}`)
    .join('; ');
  return { ok: false, reason };
}

/** The JSON form of a record (for APIs and tools): amounts as strings when beyond 2^53. */
export function recordToJson(record: TributaryRecord): Record<string, unknown> {
  const amount = record.amount_minor;
  return {
    ...record,
    event_time: record.event_time.toISOString(),
    amount_minor: amount >= -(2n ** 53n) && amount <= 2n ** 53n ? Number(amount) : amount.toString(),
  };
}
