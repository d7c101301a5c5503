export { runGenerator, type GenerateSummary, type RunOptions } from './generate.js';
export {
  generateStream,
  customerIds,
  DEFAULT_GENERATE,
  BAD_KINDS,
  CATEGORIES,
  type BadKind,
  type Generated,
  type GenerateOptions,
} from './model.js';
export { KafkaSink, GatewaySink, badBytes, badJson, type Sink } from './sinks.js';
export { Random } from './random.js';
