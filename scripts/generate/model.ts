/**
 * The generated world: customers with accounts and a normal spending pattern per category, and a
 * reproducible stream of their records with a share of anomalies, velocity bursts, data-quality
 * problems, exact duplicates (client retries) and late events. Bad data (that must be refused) is
 * described here and rendered by each sink in its own form (bytes for Kafka, JSON for the gateway).
 */
import type { TributaryRecord } from '../../core/record.js';
import { Random } from './random.js';

export const CATEGORIES = [
  'grocery',
  'fuel',
  'restaurants',
  'travel',
  'electronics',
  'clothing',
  'pharmacy',
  'utilities',
] as const;
const CURRENCIES = ['EUR', 'USD', 'GBP', 'CHF', 'SEK'] as const;
const COUNTRIES = ['FR', 'DE', 'US', 'GB', 'CH', 'SE', 'ES', 'IT'] as const;
const CHANNELS = ['web', 'pos', 'app'] as const;
const MERCHANTS = [
  'Nordwind',
  'Café Lumière',
  'Mercado Sol',
  'Żabka',
  '東京ストア',
  'Blue Fox',
  'Corner Shop 🛒',
  'Atlas',
] as const;

export const BAD_KINDS = [
  'bad-magic',
  'truncated',
  'unknown-schema',
  'garbage',
  'invalid-value',
  'missing-field',
] as const;
export type BadKind = (typeof BAD_KINDS)[number];

export interface GenerateOptions {
  readonly customers: number;
  readonly days: number;
  readonly records: number;
  readonly seed: number;
  /** Shares of the stream (0–1). */
  readonly anomalies: number;
  readonly bad: number;
  readonly duplicates: number;
  readonly late: number;
  readonly bursts: number;
  /** The end of the generated period (epoch ms); the period is the `days` before it. */
  readonly endMs: number;
  readonly customerPrefix: string;
}

export const DEFAULT_GENERATE: Omit<GenerateOptions, 'endMs'> = {
  customers: 20,
  days: 3,
  records: 10_000,
  seed: 42,
  anomalies: 0.005,
  bad: 0.005,
  duplicates: 0.01,
  late: 0.02,
  bursts: 0.002,
  customerPrefix: 'cust',
};

export type Generated =
  | { readonly kind: 'record'; readonly record: TributaryRecord; readonly duplicate: boolean }
  | { readonly kind: 'bad'; readonly bad: BadKind; readonly record: TributaryRecord };

interface CustomerModel {
  readonly id: string;
  readonly currency: string;
  readonly country: string;
  readonly accounts: readonly string[];
  /** Mean and standard deviation of amounts (minor units) per category. */
  readonly spend: ReadonlyMap<string, { mean: number; sd: number }>;
  readonly categories: readonly string[];
}

export function customerIds(options: Pick<GenerateOptions, 'customers' | 'customerPrefix'>): string[] {
  return Array.from(
    { length: options.customers },
    (_, i) => `${options.customerPrefix}-${String(i + 1).padStart(4, '0')}`,
  );
}

function buildCustomers(options: GenerateOptions, random: Random): CustomerModel[] {
  return customerIds(options).map((id) => {
    const categories = CATEGORIES.filter(() => random.chance(0.7));
    const chosen = categories.length > 0 ? categories : [CATEGORIES[0]];
    const spend = new Map<string, { mean: number; sd: number }>();
    for (const category of chosen) {
      const mean = Math.round(Math.exp(6 + random.next() * 3)); // ~4 € to ~80 € in cents
      spend.set(category, { mean, sd: Math.max(50, Math.round(mean * (0.1 + random.next() * 0.2))) });
    }
    return {
      id,
      currency: random.pick(CURRENCIES),
      country: random.pick(COUNTRIES),
      accounts: Array.from({ length: 3 + random.int(20) }, (_, i) => `${id}-acc-${i + 1}`),
      spend,
      categories: chosen,
    };
  });
}

/** The stream: a pure function of the options. */
export function* generateStream(options: GenerateOptions): Generator<Generated> {
  const random = new Random(options.seed);
  const customers = buildCustomers(options, random);
  const startMs = options.endMs - options.days * 86_400_000;
  const step = (options.endMs - startMs) / Math.max(1, options.records);
  const recent: TributaryRecord[] = [];
  let burst: { record: TributaryRecord; left: number } | undefined;
  let sequence = 0;

  for (let i = 0; i < options.records; i += 1) {
    const now = Math.round(startMs + i * step);
    if (burst !== undefined) {
      // One account, 15 records within 45 seconds, in descending event time: the velocity pattern,
      // arriving out of order. None after the period's end (2200 at most, which validation refuses).
      sequence += 1;
      const record = {
        ...burst.record,
        record_id: `${burst.record.customer_id}-${sequence}`,
        event_time: new Date(Math.min(burst.record.event_time.getTime() + burst.left * 3_000, options.endMs)),
      };
      burst.left -= 1;
      if (burst.left === 0) burst = undefined;
      yield { kind: 'record', record, duplicate: false };
      continue;
    }
    if (recent.length > 0 && random.chance(options.duplicates)) {
      yield { kind: 'record', record: random.pick(recent), duplicate: true };
      continue;
    }
    const customer = random.pick(customers);
    const category = random.pick(customer.categories);
    const spend = customer.spend.get(category) ?? { mean: 1000, sd: 100 };
    let amount = Math.round(spend.mean + random.normal() * spend.sd);
    if (random.chance(options.anomalies)) amount = Math.round(spend.mean * (20 + random.next() * 30));
    if (amount === 0) amount = 1;
    if (random.chance(0.02)) amount = -Math.abs(amount); // refunds
    // A late event is 1–48 h behind the stream, never before the period (it is then on time: clamping
    // it to the period's start piled late events of one account on one instant, a velocity burst).
    const lateBy = random.chance(options.late) ? 3_600_000 * (1 + random.int(48)) : 0;
    sequence += 1;
    let record: TributaryRecord = {
      record_id: `${customer.id}-${sequence}`,
      customer_id: customer.id,
      event_time: new Date(now - lateBy >= startMs ? now - lateBy : now),
      account_id: random.pick(customer.accounts),
      amount_minor: BigInt(amount),
      currency: customer.currency,
      category,
      country: customer.country,
      merchant: random.chance(0.05) ? null : random.pick(MERCHANTS),
      attributes: random.chance(0.3) ? { terminal: `T${random.int(100)}` } : {},
      channel: random.pick(CHANNELS),
    };
    // Plausibility problems the data-quality use case reports (valid by the contract).
    if (random.chance(0.002)) record = { ...record, currency: 'ZZZ' };
    if (random.chance(0.002)) record = { ...record, amount_minor: 0n };
    if (random.chance(options.bad)) {
      yield { kind: 'bad', bad: random.pick(BAD_KINDS), record };
      continue;
    }
    if (random.chance(options.bursts)) burst = { record, left: 14 };
    recent.push(record);
    if (recent.length > 1_000) recent.shift();
    yield { kind: 'record', record, duplicate: false };
  }
}
