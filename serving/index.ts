export { createApiApp, type ApiAppOptions, type ReadinessCheck } from './app.js';
