/**
 * The value rules every accepted record satisfies, beyond its Avro types. One function serves the
 * gateway (before producing) and the validation job (after decoding), so both judge alike.
 * Plausibility (unknown currency codes, future or stale event times, absurd amounts) is not a reason
 * to refuse a record: the data-quality use case reports it as a finding.
 */
import { CUSTOMER_ID_PATTERN, type TributaryRecord } from '../../core/record.js';

export const LIMITS = {
  idLength: 128,
  categoryLength: 64,
  merchantLength: 256,
  attributes: 64,
  attributeKeyLength: 64,
  attributeValueLength: 1024,
  /** Event times outside [1900, 2200) are errors, not late or future events. */
  minEventTimeMs: Date.UTC(1900, 0, 1),
  maxEventTimeMs: Date.UTC(2200, 0, 1),
} as const;

// Control characters (C0, DEL, C1) make ids unusable in logs, keys and URLs.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// A UTF-16 surrogate outside a pair (JSON allows "\ud800") has no UTF-8 form: Avro would store
// U+FFFD in its place, and an id so changed is not the customer's any more.
const LONE_SURROGATE = /\p{Surrogate}/u;
const CURRENCY = /^[A-Z]{3}$/;
const COUNTRY = /^[A-Z]{2}$/;

function checkId(problems: string[], field: string, value: string): void {
  if (value.length === 0) problems.push(`${field} is empty`);
  else if (value.length > LIMITS.idLength)
    problems.push(`${field} is longer than ${LIMITS.idLength} characters`);
  else if (CONTROL.test(value)) problems.push(`${field} contains control characters`);
}

function checkUnicode(problems: string[], field: string, value: string | null): void {
  if (value !== null && LONE_SURROGATE.test(value))
    problems.push(`${field} is not valid Unicode (a lone surrogate)`);
}

/** The problems of a record; empty when it is acceptable. */
export function validateRecord(record: TributaryRecord): string[] {
  const problems: string[] = [];
  checkUnicode(problems, 'record_id', record.record_id);
  checkUnicode(problems, 'account_id', record.account_id);
  checkUnicode(problems, 'category', record.category);
  checkUnicode(problems, 'merchant', record.merchant);
  checkUnicode(problems, 'channel', record.channel);
  checkId(problems, 'record_id', record.record_id);
  if (!CUSTOMER_ID_PATTERN.test(record.customer_id)) {
    problems.push(
      'customer_id must be 1-64 letters, digits, "_", "." or "-", starting with a letter or digit',
    );
  }
  checkId(problems, 'account_id', record.account_id);
  const ms = record.event_time.getTime();
  if (Number.isNaN(ms)) problems.push('event_time is not a valid time');
  else if (ms < LIMITS.minEventTimeMs || ms >= LIMITS.maxEventTimeMs) {
    problems.push('event_time is outside 1900-01-01 … 2200-01-01');
  }
  if (!CURRENCY.test(record.currency)) problems.push('currency must be three upper-case letters (ISO 4217)');
  if (!COUNTRY.test(record.country))
    problems.push('country must be two upper-case letters (ISO 3166-1 alpha-2)');
  if (record.category.length === 0 || record.category.length > LIMITS.categoryLength) {
    problems.push(`category must be 1-${LIMITS.categoryLength} characters`);
  }
  if (
    record.merchant !== null &&
    (record.merchant.length === 0 || record.merchant.length > LIMITS.merchantLength)
  ) {
    problems.push(`merchant must be null or 1-${LIMITS.merchantLength} characters`);
  }
  if (
    record.channel !== null &&
    (record.channel.length === 0 || record.channel.length > LIMITS.categoryLength)
  ) {
    problems.push(`channel must be null or 1-${LIMITS.categoryLength} characters`);
  }
  const entries = Object.entries(record.attributes);
  if (entries.length > LIMITS.attributes)
    problems.push(`attributes has more than ${LIMITS.attributes} entries`);
  for (const [key, value] of entries) {
    checkUnicode(problems, 'attribute name', key);
    checkUnicode(problems, `attribute ${key}`, value);
    if (key.length === 0 || key.length > LIMITS.attributeKeyLength) {
      problems.push(`attribute name must be 1-${LIMITS.attributeKeyLength} characters`);
      break;
    }
    if (value.length > LIMITS.attributeValueLength) {
      problems.push(`attribute ${key} is longer than ${LIMITS.attributeValueLength} characters`);
      break;
    }
  }
  return problems;
}
