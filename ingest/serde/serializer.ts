/**
 * Encodes records in the Confluent wire format with a registered schema. The schema is registered
 * (or looked up) before the first record is sent, so an incompatible schema fails at start-up with
 * the registry's reason and nothing is produced.
 */
import { TributaryError } from '../../core/errors.js';
import type { TributaryRecord } from '../../core/record.js';
import {
  CURRENT_RECORD_VERSION,
  recordSchemaText,
  recordType,
  type RecordVersion,
} from '../contract/schemas.js';
import type { AvroType } from '../contract/avro.js';
import { RegistryError, type RegistryClient } from './registry-client.js';
import { frame } from './wire.js';

export interface SerializerOptions {
  readonly registry: RegistryClient;
  readonly subject: string;
  readonly version?: RecordVersion;
  /** Register the schema if the subject lacks it (default); false: it must already be registered. */
  readonly autoRegister?: boolean;
}

export class RecordSerializer {
  private constructor(
    readonly schemaId: number,
    private readonly type: AvroType,
  ) {}

  static async create(options: SerializerOptions): Promise<RecordSerializer> {
    const version = options.version ?? CURRENT_RECORD_VERSION;
    const schema = recordSchemaText(version);
    try {
      const id =
        options.autoRegister === false
          ? await options.registry.lookup(options.subject, schema)
          : await options.registry.register(options.subject, schema);
      return new RecordSerializer(id, recordType(version));
    } catch (error) {
      if (error instanceof RegistryError && error.status === 409) {
        throw new TributaryError(
          'CONFLICT',
          `record schema v${version} is incompatible with subject ${options.subject}: ${error.message}`,
          { cause: error },
        );
      }
      throw error;
    }
  }

  /** Encodes a record (already validated); throws if it does not fit the schema's types. */
  encode(record: TributaryRecord): Buffer {
    return frame(this.schemaId, this.type.toBuffer(record));
  }
}
