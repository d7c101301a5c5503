/**
 * The record, as every part of Tributary sees it once decoded: the Avro contract of product.md
 * (field names as in the schema), with exact types — `event_time` a Date (timestamp-millis) and
 * `amount_minor` a bigint (a long in minor units can exceed 2^53).
 */
export interface TributaryRecord {
  readonly record_id: string;
  readonly customer_id: string;
  readonly event_time: Date;
  readonly account_id: string;
  readonly amount_minor: bigint;
  readonly currency: string;
  readonly category: string;
  readonly country: string;
  readonly merchant: string | null;
  readonly attributes: Readonly<Record<string, string>>;
  /** Added in version 2; null when written with version 1. */
  readonly channel: string | null;
}

/** A customer id: what the control plane accepts (see migrations/postgres/0001_control_plane.sql). */
export const CUSTOMER_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
