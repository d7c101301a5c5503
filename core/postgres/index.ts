export {
  createPgPool,
  inPgTransaction,
  probePostgres,
  withPgClient,
  type PgClient,
  type PgPool,
  type PgPoolOptions,
} from './client.js';
