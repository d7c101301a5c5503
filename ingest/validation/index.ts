export { ValidationJob, VALIDATION_JOB, type ValidationJobOptions, type ValidationStats } from './job.js';
export { HEADER, headerText, UPSTREAM_OFFSET_HEADER, upstreamOffset } from './headers.js';
