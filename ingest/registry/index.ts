/**
 * The schema registry: a server speaking the Confluent Schema Registry REST API, stored in PostgreSQL.
 * `tributary serve` listens it on REGISTRY_PORT.
 */
export { createRegistryApp, REGISTRY_CONTENT_TYPE, type RegistryAppOptions } from './app.js';
export { parseAvroSchema, SCHEMA_TYPES, type ParsedSchema, type SchemaType } from './canonical.js';
export {
  checkCompatibility,
  COMPATIBILITY_LEVELS,
  DEFAULT_COMPATIBILITY,
  parseCompatibilityLevel,
  type CompatibilityLevel,
  type PreviousSchema,
} from './compatibility.js';
export { isRegistryError, RegistryError } from './errors.js';
