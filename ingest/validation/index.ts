export { ValidationJob, VALIDATION_JOB, type ValidationJobOptions, type ValidationStats } from './job.js';
export { HEADER, headerText } from './headers.js';
