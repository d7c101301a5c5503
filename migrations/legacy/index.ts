/** The legacy PostgreSQL → Cassandra data migration behind `tributary migrate`. */
export {
  runMigration,
  MIGRATE_MODES,
  type MigrateDeps,
  type MigrateMode,
  type MigrateOptions,
  type MigrateReport,
  type ProgressSink,
  type TableReport,
} from './run.js';
export { LegacySource, sourceSessionUrl } from './source.js';
export { LEGACY_TABLES, isLegacyTable, redactUrl, type LegacyTable } from './tables.js';
export { fillLegacy, type FillOptions, type FillResult } from './fill.js';
export {
  convertCustomer,
  convertFinding,
  convertRecord,
  MIGRATED_SCHEMA_ID,
  type Conversion,
  type MigratedCustomer,
  type MigratedRecord,
} from './convert.js';
export {
  amountToMinorUnits,
  timestamptzToMillis,
  trimCharPadding,
  ConversionError,
} from './convert-values.js';
export { jsonObjectToStringMap, parseJsonText, canonicalJson } from './json-text.js';
export { RecordSink } from './sinks.js';
export type { RejectedRow } from './checkpoint.js';
export type { LegacyCustomerRow, LegacyFindingRow, LegacyRecordRow } from './rows.js';
export type { Mismatch, TableVerification } from './verify.js';
