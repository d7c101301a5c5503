/** The Confluent wire format: byte 0x00, the schema id as a 4-byte big-endian int, the Avro body. */

export const MAGIC_BYTE = 0;
export const HEADER_SIZE = 5;

export function frame(schemaId: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(HEADER_SIZE + body.length);
  out.writeUInt8(MAGIC_BYTE, 0);
  out.writeInt32BE(schemaId, 1);
  body.copy(out, HEADER_SIZE);
  return out;
}

export type Unframed =
  | { readonly ok: true; readonly schemaId: number; readonly body: Buffer }
  | { readonly ok: false; readonly code: 'EMPTY' | 'BAD_MAGIC_BYTE' | 'TRUNCATED'; readonly reason: string };

export function unframe(message: Buffer | null): Unframed {
  if (message === null || message.length === 0)
    return { ok: false, code: 'EMPTY', reason: 'the message has no value' };
  const magic = message.readUInt8(0);
  if (magic !== MAGIC_BYTE) {
    return {
      ok: false,
      code: 'BAD_MAGIC_BYTE',
      reason: `magic byte is 0x${magic.toString(16).padStart(2, '0')}, expected 0x00`,
    };
  }
  if (message.length < HEADER_SIZE) {
    return {
      ok: false,
      code: 'TRUNCATED',
      reason: `${message.length} bytes is shorter than the 5-byte header`,
    };
  }
  return { ok: true, schemaId: message.readInt32BE(1), body: message.subarray(HEADER_SIZE) };
}
