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
 * Headers of an accepted record passed on to the use-case jobs: where it came from (partition and
 * offset, which identify it for exactly-once checks) and the writer schema id. The record keeps its
 * original timestamp, so end-to-end latency is measured from the moment it was produced.
 */
export function passOnHeaders(origin: Origin, schemaId: number): IHeaders {
  return {
    [HEADER.sourcePartition]: String(origin.partition),
    [HEADER.sourceOffset]: origin.message.offset,
    [HEADER.schemaId]: String(schemaId),
  };
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
