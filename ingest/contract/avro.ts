/**
 * avsc types for the record contract with exact JavaScript values: every Avro `long` is a bigint
 * (no silent precision loss past 2^53) and `timestamp-millis` is a Date (no number/Date confusion).
 */
import avro from 'avsc';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function isBigInt64(value: unknown): value is bigint {
  return typeof value === 'bigint' && value >= INT64_MIN && value <= INT64_MAX;
}

/** Avro long ⇄ bigint, for every plain `long` (amounts in minor units can exceed 2^53). */
const BigIntLongType = avro.types.LongType.__with({
  fromBuffer: (buffer: Buffer): bigint => buffer.readBigInt64LE(),
  toBuffer: (value: bigint): Buffer => {
    const buffer = Buffer.alloc(8);
    buffer.writeBigInt64LE(value);
    return buffer;
  },
  fromJSON: (value: unknown): bigint => {
    if (typeof value === 'number' || typeof value === 'string' || typeof value === 'bigint')
      return BigInt(value);
    throw new Error(`not a long: ${String(value)}`);
  },
  toJSON: (value: bigint): number | string =>
    value >= -(2n ** 53n) && value <= 2n ** 53n ? Number(value) : value.toString(),
  isValid: isBigInt64,
  compare: (a: bigint, b: bigint): number => (a === b ? 0 : a < b ? -1 : 1),
});

/**
 * timestamp-millis ⇄ Date. A Date that is not a valid time is not a valid value. Its underlying
 * long stays avsc's own (a number): every valid Date is within 2^53 ms, and a larger value fails to
 * decode instead of losing precision.
 */
class TimestampMillisType extends avro.types.LogicalType {
  protected override _fromValue(value: unknown): Date {
    return new Date(Number(value));
  }

  protected override _toValue(value: unknown): number | undefined {
    if (!(value instanceof Date)) return undefined;
    const ms = value.getTime();
    return Number.isNaN(ms) ? undefined : ms;
  }

  protected override _resolve(type: avro.Type): ((value: unknown) => unknown) | undefined {
    const name = type.typeName;
    if (name === 'long' || name === 'abstract:long' || name === 'logical:timestamp-millis') {
      return (value: unknown) => this._fromValue(value);
    }
    return undefined;
  }
}

/** The one way Tributary turns an Avro schema (object or JSON text) into an avsc Type. */
export function avroType(schema: unknown): avro.Type {
  const parsed: unknown = typeof schema === 'string' ? JSON.parse(schema) : schema;
  return avro.Type.forSchema(parsed as avro.Schema, {
    registry: { long: BigIntLongType },
    logicalTypes: { 'timestamp-millis': TimestampMillisType },
    wrapUnions: 'auto',
  });
}

export type AvroType = avro.Type;
export type AvroResolver = ReturnType<avro.Type['createResolver']>;
