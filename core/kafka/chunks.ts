/**
 * Splits outputs into produce requests that stay under the broker's `message.max.bytes` (1 MiB by
 * default): one request carries one record batch per partition, so a request is kept well under it.
 * Order is kept: messages of a topic appear in the chunks in the order given.
 */
import type { Message, TopicMessages } from 'kafkajs';

const DEFAULT_MAX_BYTES = 512 * 1024;
const DEFAULT_MAX_COUNT = 2_000;

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

/** Chunks of at most `maxBytes` and `maxCount` messages, each a list of topics with their messages. */
export function* chunkTopicMessages(
  outputs: readonly { readonly topic: string; readonly messages: readonly Message[] }[],
  maxBytes = DEFAULT_MAX_BYTES,
  maxCount = DEFAULT_MAX_COUNT,
): Generator<TopicMessages[]> {
  let chunk = new Map<string, Message[]>();
  let bytes = 0;
  let count = 0;
  for (const { topic, messages } of outputs) {
    for (const message of messages) {
      const size = messageBytes(message);
      if (count > 0 && (bytes + size > maxBytes || count >= maxCount)) {
        yield [...chunk].map(([t, m]) => ({ topic: t, messages: m }));
        chunk = new Map();
        bytes = 0;
        count = 0;
      }
      const list = chunk.get(topic);
      if (list === undefined) chunk.set(topic, [message]);
      else list.push(message);
      bytes += size;
      count += 1;
    }
  }
  if (count > 0) yield [...chunk].map(([t, m]) => ({ topic: t, messages: m }));
}
