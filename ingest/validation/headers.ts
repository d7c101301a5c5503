/** Headers that travel with dead letters (why, and where from; speed/runtime/job.ts) and with accepted records. */
import type { IHeaders, KafkaMessage } from '../../core/kafka/index.js';

export const HEADER = {
  errorCode: 'tributary.error.code',
  errorReason: 'tributary.error.reason',
  errorStack: 'tributary.error.stack',
  job: 'tributary.job',
  sourceTopic: 'tributary.source.topic',
  sourcePartition: 'tributary.source.partition',
  sourceOffset: 'tributary.source.offset',
  sourceTimestamp: 'tributary.source.timestamp',
  schemaId: 'tributary.schema.id',
} as const;

export interface Origin {
  readonly topic: string;
  readonly partition: number;
  readonly message: KafkaMessage;
}

/**
 * The one header of an accepted record passed on to `records.valid`: its offset in `records`. It goes
 * to the same partition number, so (partition, this offset) identifies the record, and a consumer
 * drops a copy whose offset it has already passed — validation sends records again after a restart
 * (it commits its input offsets after the fact). One short header: every consumer of records.valid
 * decodes it for every record, and three longer ones cost more than the decoding of the Avro value.
 */
export const UPSTREAM_OFFSET_HEADER = 'tributary.offset';

/**
 * On a re-sent record (the customer sent a record with the same record_id before, within
 * DUPLICATE_HORIZON_DAYS): the `records` offset of that first occurrence. Decided once, by
 * validation, so that every job downstream treats the copy alike — data-quality reports it, the
 * views and profiles do not count it again (the master dataset stores it once).
 */
export const RESENT_OF_HEADER = 'tributary.resent-of';

export function passOnHeaders(origin: Origin, resentOf?: bigint): IHeaders {
  return resentOf === undefined
    ? { [UPSTREAM_OFFSET_HEADER]: origin.message.offset }
    : { [UPSTREAM_OFFSET_HEADER]: origin.message.offset, [RESENT_OF_HEADER]: String(resentOf) };
}

function offsetHeader(headers: IHeaders | undefined, name: string): bigint | undefined {
  const text = headerText(headers, name);
  return text === undefined || !/^\d+$/.test(text) ? undefined : BigInt(text);
}

/** The upstream offset of a records.valid message, if it carries one. */
export function upstreamOffset(headers: IHeaders | undefined): bigint | undefined {
  return offsetHeader(headers, UPSTREAM_OFFSET_HEADER);
}

/** For a re-sent record on records.valid, the `records` offset of its first occurrence. */
export function resentOf(headers: IHeaders | undefined): bigint | undefined {
  return offsetHeader(headers, RESENT_OF_HEADER);
}

/** A header value as text (kafkajs gives Buffers, strings or arrays of them). */
export function headerText(headers: IHeaders | undefined, name: string): string | undefined {
  const value = headers?.[name];
  if (value === undefined) return undefined;
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? undefined : first.toString();
}
