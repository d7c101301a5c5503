export { createPgPool, probePostgres, type PgClient, type PgPool, type PgPoolOptions } from './client.js';
