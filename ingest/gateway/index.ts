export {
  authenticate,
  gatewayRoutes,
  type GatewayOptions,
  type IngestAnswer,
  type RecordResult,
} from './routes.js';
