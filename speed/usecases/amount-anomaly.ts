/**
 * amount-anomaly: a finding when the amount is far from the customer's own history — |z| > 4 against
 * the merged (batch + realtime) profile of the 60 days before the record, once that profile holds at
 * least 30 records. Variant A compares with the customer's profile over all categories, variant B
 * with the profile of the record's category. The A/B post-filter chooses per customer which one the
 * customer receives. A re-sent record was judged when it first came, and is not in the profile twice.
 */
import { numberSetting, type UseCase } from './contract.js';

export const amountAnomaly: UseCase = {
  name: 'amount-anomaly',
  description:
    'amounts far from the customer’s own history (|z| > 4, ≥ 30 records); A: all categories, B: per category',
  variants: ['A', 'B'],
  needsProfile: true,
  process(record, { variant, profile, settings, duplicate }) {
    if (duplicate) return [];
    const moments = variant === 'B' ? profile.category(record.category) : profile.overall();
    const minimum = numberSetting(settings, 'anomaly_min_records', 30);
    const threshold = numberSetting(settings, 'anomaly_z', 4);
    if (moments.count < minimum || moments.sd === 0) return [];
    const z = (Number(record.amount_minor) - moments.mean) / moments.sd;
    if (Math.abs(z) <= threshold) return [];
    return [
      {
        code: 'AMOUNT_ANOMALY',
        recordIds: [record.record_id],
        detail: {
          z: z.toFixed(2),
          mean: moments.mean.toFixed(2),
          sd: moments.sd.toFixed(2),
          profile_records: String(moments.count),
          scope: variant === 'B' ? `category:${record.category}` : 'all categories',
        },
      },
    ];
  },
};
