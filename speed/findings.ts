/**
 * Findings on the wire between the use-case jobs and the delivery job (`findings` topic), and on the
 * customer-facing `feedback` topic: JSON, validated on the way in, keyed by customer id.
 */
import { z } from 'zod';
import type { Finding } from '../core/finding.js';

const FindingMessage = z.object({
  v: z.literal(1),
  findingId: z.string().min(1),
  usecase: z.string().min(1),
  variant: z.string(),
  customerId: z.string().min(1),
  code: z.string().min(1),
  recordIds: z.array(z.string()).min(1),
  eventTime: z.iso.datetime(),
  detail: z.record(z.string(), z.string()),
});

export function encodeFinding(finding: Finding): string {
  return JSON.stringify({
    v: 1,
    findingId: finding.findingId,
    usecase: finding.usecase,
    variant: finding.variant,
    customerId: finding.customerId,
    code: finding.code,
    recordIds: finding.recordIds,
    eventTime: finding.eventTime.toISOString(),
    detail: finding.detail,
  });
}

/** The finding in a message, or a reason it is not one. */
export function decodeFinding(
  value: Buffer | null,
): { ok: true; finding: Finding } | { ok: false; reason: string } {
  if (value === null) return { ok: false, reason: 'no value' };
  let json: unknown;
  try {
    json = JSON.parse(value.toString('utf8'));
  } catch (error) {
    return { ok: false, reason: `not JSON: ${String(error)}` };
  }
  const parsed = FindingMessage.safeParse(json);
  if (!parsed.success)
    return {
      ok: false,
      reason: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
    };
  const f = parsed.data;
  return {
    ok: true,
    finding: {
      findingId: f.findingId,
      usecase: f.usecase,
      variant: f.variant,
      customerId: f.customerId,
      code: f.code,
      recordIds: f.recordIds,
      eventTime: new Date(f.eventTime),
      detail: f.detail,
    },
  };
}
