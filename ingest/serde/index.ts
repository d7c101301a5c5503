export { frame, unframe, MAGIC_BYTE, HEADER_SIZE } from './wire.js';
export { RegistryClient, RegistryError, type RegistryClientOptions } from './registry-client.js';
export { RecordSerializer, type SerializerOptions } from './serializer.js';
export {
  RecordDeserializer,
  REJECTION_CODES,
  type Decoded,
  type RejectionCode,
  type DeserializerOptions,
  type SchemaSource,
} from './deserializer.js';
