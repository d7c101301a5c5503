export { Stack, formatStatus, type UpResult } from './stack.js';
export type { ServiceStatus, Health } from './service.js';
export { SERVICE_NAMES, type ServiceName } from './layout.js';
