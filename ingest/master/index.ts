export { MasterDatasetWriter, type MasterWriterOptions, type StoredRecord } from './writer.js';
export { RECORD_BUCKETS, daysBetween, fnv1a32, recordBucket, recordTtlSeconds, utcDay } from './keys.js';
