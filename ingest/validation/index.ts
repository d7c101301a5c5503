export { ValidationJob, VALIDATION_JOB, type ValidationJobOptions, type ValidationStats } from './job.js';
export {
  HEADER,
  headerText,
  RESENT_OF_HEADER,
  resentOf,
  UPSTREAM_OFFSET_HEADER,
  upstreamOffset,
} from './headers.js';
