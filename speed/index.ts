/** The speed layer: the job runtime, the use cases, the views and delivery jobs, deployment and A/B. */
export { Supervisor, jobsToRun, type JobStatus } from './supervisor.js';
export {
  liveSupervisors,
  missingSupervisorsTable,
  placement,
  placementProblems,
  supervisorName,
  type Share,
} from './deploy/supervisors.js';
export {
  startWorker,
  isJobName,
  BULK_JOBS,
  PLATFORM_JOBS,
  EXIT_ELSEWHERE,
  EXIT_PAUSED,
  PausedAtStart,
  RunsElsewhere,
  type RunningWorker,
} from './worker.js';
export { deploy, listDeployments, setStatus, jobName, type Deployment } from './deploy/deployments.js';
export {
  assignVariant,
  chooseVariant,
  deliveredVariant,
  listExperiments,
  setExperiment,
  untilInEffect,
  describeInEffect,
  hashBucket,
  type Experiment,
} from './ab/assignments.js';
export { USE_CASES, allUseCases, findUseCase, loadUseCaseModules, type UseCase } from './usecases/index.js';
export { decodeFinding, encodeFinding } from './findings.js';
export { Job } from './runtime/job.js';
export { KeyedState } from './runtime/state.js';
