/** Headers that travel with dead letters (why, and where from) and with accepted records. */
import type { IHeaders, KafkaMessage } from '../../core/kafka/index.js';

export const HEADER = {
  errorCode: 'tributary.error.code',
  errorReason: 'tributary.error.reason',
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

export function originHeaders(origin: Origin): IHeaders {
  return {
    ...(origin.message.headers ?? {}),
    [HEADER.sourceTopic]: origin.topic,
    [HEADER.sourcePartition]: String(origin.partition),
    [HEADER.sourceOffset]: origin.message.offset,
    [HEADER.sourceTimestamp]: origin.message.timestamp,
  };
}

/**
 * The one header of an accepted record passed on to `records.valid`: its offset in `records`. It goes
 * to the same partition number, so (partition, this offset) identifies the record, and a consumer
 * drops a copy whose offset it has already passed — validation sends records again after a restart
 * (it commits its input offsets after the fact). One short header: every consumer of records.valid
 * decodes it for every record, and three longer ones cost more than the decoding of the Avro value.
 */
export const UPSTREAM_OFFSET_HEADER = 'tributary.offset';

export function passOnHeaders(origin: Origin): IHeaders {
  return { [UPSTREAM_OFFSET_HEADER]: origin.message.offset };
}

/** The upstream offset of a records.valid message, if it carries one. */
export function upstreamOffset(headers: IHeaders | undefined): bigint | undefined {
  const text = headerText(headers, UPSTREAM_OFFSET_HEADER);
  return text === undefined || !/^\d+$/.test(text) ? undefined : BigInt(text);
}

export function deadLetterHeaders(origin: Origin, job: string, code: string, reason: string): IHeaders {
  return {
    ...originHeaders(origin),
    [HEADER.job]: job,
    [HEADER.errorCode]: code,
    // Kafka headers have no hard limit, but a reason is a sentence, not a dump.
    [HEADER.errorReason]: reason.length > 2_000 ? `${reason.slice(0, 2_000)}…` : reason,
  };
}

/** A header value as text (kafkajs gives Buffers, strings or arrays of them). */
export function headerText(headers: IHeaders | undefined, name: string): string | undefined {
  const value = headers?.[name];
  if (value === undefined) return undefined;
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? undefined : first.toString();
}
