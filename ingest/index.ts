/** The ingest part: the record contract, serde, the gateway, the validation job, the master dataset. */
export { gatewayRoutes, type IngestAnswer, type RecordResult } from './gateway/index.js';
export { RecordProducer } from './producer.js';
export { ingestTopics, speedTopics } from './topics.js';
export {
  MasterDatasetWriter,
  recordBucket,
  utcDay,
  daysBetween,
  RECORD_BUCKETS,
  type StoredRecord,
} from './master/index.js';
export {
  RecordDeserializer,
  RecordSerializer,
  RegistryClient,
  REJECTION_CODES,
  type RejectionCode,
} from './serde/index.js';
export {
  recordSchemaText,
  recordSubject,
  recordType,
  CURRENT_RECORD_VERSION,
  RECORD_VERSIONS,
} from './contract/schemas.js';
export { decodeJsonRecord, recordToJson } from './contract/json.js';
export { validateRecord } from './contract/validate.js';
export { RESENT_OF_HEADER, resentOf, UPSTREAM_OFFSET_HEADER, upstreamOffset } from './validation/index.js';
