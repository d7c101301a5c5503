/**
 * data-quality: a finding per problem in a record — unknown currency or country code, an amount of
 * zero or absurdly large, an event time in the future (> 5 min) or older than the retention window, a
 * record_id already seen for that customer, a missing merchant where the customer requires one.
 * Times are judged against the record's ingest time, so a replay judges alike. Duplicates are the
 * records validation marked as re-sent (exact, from its first-seen index in Cassandra): ids sent
 * again within DUPLICATE_HORIZON_DAYS (default 7).
 */
import { CURRENCIES, COUNTRIES } from './codes.js';
import { numberSetting, type FindingDraft, type UseCase } from './contract.js';

const MINUTE = 60_000;
const DAY = 86_400_000;

export const dataQuality: UseCase = {
  name: 'data-quality',
  description: 'one finding per problem in a record (codes, amounts, times, duplicates, missing merchant)',
  variants: [''],
  needsProfile: false,
  process(record, { settings, ingestTimeMs, duplicate }) {
    const findings: FindingDraft[] = [];
    const ids = [record.record_id];
    const add = (code: string, detail: Record<string, string> = {}): void => {
      findings.push({ code, recordIds: ids, detail });
    };
    if (!CURRENCIES.has(record.currency)) add('UNKNOWN_CURRENCY', { currency: record.currency });
    if (!COUNTRIES.has(record.country)) add('UNKNOWN_COUNTRY', { country: record.country });
    if (record.amount_minor === 0n) add('ZERO_AMOUNT');
    const absurd = BigInt(Math.round(numberSetting(settings, 'absurd_amount_minor', 1_000_000_000)));
    if (record.amount_minor > absurd || record.amount_minor < -absurd) {
      add('ABSURD_AMOUNT', { amount_minor: record.amount_minor.toString(), limit: absurd.toString() });
    }
    const eventMs = record.event_time.getTime();
    if (eventMs > ingestTimeMs + 5 * MINUTE)
      add('FUTURE_EVENT', { ahead_ms: String(eventMs - ingestTimeMs) });
    const retentionDays = numberSetting(settings, 'retention_days', 60);
    if (eventMs < ingestTimeMs - retentionDays * DAY)
      add('STALE_EVENT', { age_days: String(Math.floor((ingestTimeMs - eventMs) / DAY)) });
    if (record.merchant === null && settings.merchant_required === true) add('MISSING_MERCHANT');

    // Validation knows exactly whether this id came before (within the duplicate horizon).
    if (duplicate) add('DUPLICATE_RECORD');
    return findings;
  },
};
