export { MasterDatasetWriter, type MasterWriterOptions, type StoredRecord } from './writer.js';
export { RECORD_BUCKETS, daysBetween, recordBucket, recordTtlSeconds, utcDay } from './keys.js';
export { MasterJob, MASTER_JOB, type MasterJobOptions } from './job.js';
