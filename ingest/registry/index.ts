/**
 * The schema registry: a server speaking the Confluent Schema Registry REST API, stored in PostgreSQL.
 * (Interface fixed first; the implementation lands in this folder.)
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from '../../core/logger.js';
import type { PgPool } from '../../core/postgres/index.js';

export interface RegistryAppOptions {
  readonly pool: PgPool;
  readonly logger: Logger;
  /** When set, register/delete/config writes need `Authorization: Bearer <adminToken>`. */
  readonly adminToken?: string | undefined;
}

/** Builds the registry's HTTP app (not listening). */
export function createRegistryApp(_options: RegistryAppOptions): Promise<FastifyInstance> {
  return Promise.reject(new Error('schema registry not implemented yet'));
}
