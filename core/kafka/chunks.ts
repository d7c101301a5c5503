/**
 * Splits messages into produce requests that stay under the broker's `message.max.bytes` (1 MiB by
 * default): one request carries one record batch per partition, so a request is kept well under it.
 */
import type { Message } from 'kafkajs';

const DEFAULT_MAX_BYTES = 512 * 1024;
const DEFAULT_MAX_COUNT = 1_000;

function sizeOf(value: unknown): number {
  if (value === null || value === undefined) return 0;
  if (Buffer.isBuffer(value)) return value.length;
  if (typeof value === 'string') return Buffer.byteLength(value);
  if (Array.isArray(value)) return value.reduce((sum: number, v: unknown) => sum + sizeOf(v), 0);
  return 0;
}

export function messageBytes(message: Message): number {
  let headers = 0;
  for (const [name, value] of Object.entries(message.headers ?? {})) headers += name.length + sizeOf(value);
  return sizeOf(message.key) + sizeOf(message.value) + headers + 64;
}

export function* chunkMessages<T extends Message>(
  messages: readonly T[],
  maxBytes = DEFAULT_MAX_BYTES,
  maxCount = DEFAULT_MAX_COUNT,
): Generator<T[]> {
  let chunk: T[] = [];
  let bytes = 0;
  for (const message of messages) {
    const size = messageBytes(message);
    if (chunk.length > 0 && (bytes + size > maxBytes || chunk.length >= maxCount)) {
      yield chunk;
      chunk = [];
      bytes = 0;
    }
    chunk.push(message);
    bytes += size;
  }
  if (chunk.length > 0) yield chunk;
}
