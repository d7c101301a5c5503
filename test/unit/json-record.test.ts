/** The gateway's JSON form of a record: what a refused value's reason tells the customer. */
import { describe, expect, it } from 'vitest';
import { decodeJsonRecord } from '../../ingest/contract/json.js';

const RECORD = {
  record_id: 'r-1',
  customer_id: 'acme',
  event_time: '2026-11-24T10:00:00Z',
  account_id: 'a-1',
  amount_minor: 1250,
  currency: 'EUR',
  category: 'grocery',
  country: 'FR',
};

function reason(field: string, value: unknown): string | undefined {
  const decoded = decodeJsonRecord({ ...RECORD, [field]: value });
  return decoded.ok ? undefined : decoded.reason;
}

describe('decodeJsonRecord', () => {
  it('accepts an amount as an integer or a string of digits, and a time as ISO 8601 or epoch ms', () => {
    expect(reason('amount_minor', -42)).toBeUndefined();
    expect(reason('amount_minor', '9007199254740993')).toBeUndefined();
    expect(reason('event_time', 1764000000000)).toBeUndefined();
    expect(reason('event_time', '2026-11-24T10:00:00+01:00')).toBeUndefined();
  });

  it('says what an amount or a time must be, not only that it is invalid', () => {
    const cases: [string, unknown, string][] = [
      ['amount_minor', 12.5, 'an integer (beyond 2^53, a string of digits)'],
      ['amount_minor', 2 ** 53 + 2, 'an integer (beyond 2^53, a string of digits)'],
      ['amount_minor', '12.5', 'a string of at most 19 digits'],
      ['amount_minor', '9223372036854775808', 'outside the 64-bit range'],
      ['amount_minor', true, 'an integer, or a string of digits beyond 2^53'],
      ['event_time', '2026-11-24T10:00:00', 'an ISO 8601 time with a zone (Z or ±hh:mm)'],
      ['event_time', 'yesterday', 'an ISO 8601 time with a zone (Z or ±hh:mm)'],
      ['event_time', 1.5, 'whole epoch milliseconds'],
      ['event_time', null, 'an ISO 8601 time with a zone, or epoch milliseconds'],
    ];
    for (const [field, value, message] of cases) {
      expect(reason(field, value), `${field} ${JSON.stringify(value)}`).toBe(`${field}: ${message}`);
    }
  });
});
