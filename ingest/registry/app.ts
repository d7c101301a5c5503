/**
 * The registry's HTTP app: Confluent's content types in and out, errors as
 * `{"error_code": N, "message": "..."}` with the HTTP status of N's first three digits, the admin
 * bearer token on writes, and the routes of routes-*.ts.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type onRequestHookHandler,
} from 'fastify';
import pg from 'pg';
import { notFoundOr405, ownErrorShape, timedServerFactory } from '../../core/http.js';
import type { Logger } from '../../core/logger.js';
import type { PgPool } from '../../core/postgres/index.js';
import { isRegistryError, registryErrors, statusOf } from './errors.js';
import { configRoutes } from './routes-config.js';
import { schemaRoutes } from './routes-schemas.js';
import { subjectRoutes } from './routes-subjects.js';
import { RegistryStore } from './store.js';

export interface RegistryAppOptions {
  readonly pool: PgPool;
  readonly logger: Logger;
  /** When set, register/delete/config writes need `Authorization: Bearer <adminToken>`. */
  readonly adminToken?: string | undefined;
  /** How long a client has to send its whole request (DEFAULT_REQUEST_TIMEOUT_MS). */
  readonly requestTimeoutMs?: number;
}

/** What every response says it is, as Confluent's registry does. */
export const REGISTRY_CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';
/** Request bodies accepted besides `application/json` (Confluent's list). */
const JSON_BODY_TYPES = [
  'application/vnd.schemaregistry.v1+json',
  'application/vnd.schemaregistry+json',
  'application/octet-stream',
];

export interface ErrorBody {
  readonly error_code: number;
  readonly message: string;
}

/** Builds the registry's HTTP app (not listening). */
export async function createRegistryApp(options: RegistryAppOptions): Promise<FastifyInstance> {
  const log: FastifyBaseLogger = options.logger.child({ component: 'registry' });
  const app = Fastify({
    loggerInstance: log,
    bodyLimit: 8 * 1024 * 1024,
    // Fastify's default (100) made a subject over 100 characters a 414; a Kafka topic takes 249.
    routerOptions: { maxParamLength: 1_024 },
    serverFactory: timedServerFactory(options.requestTimeoutMs),
    logController: new LogController({ disableRequestLogging: true }),
    ...ownErrorShape(
      (status, message) => ({ error_code: status, message }) satisfies ErrorBody,
      REGISTRY_CONTENT_TYPE,
    ),
  });

  app.addContentTypeParser(
    JSON_BODY_TYPES,
    { parseAs: 'string' },
    app.getDefaultJsonParser('error', 'error'),
  );
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('content-type', REGISTRY_CONTENT_TYPE);
    return payload;
  });
  app.setErrorHandler((error, request, reply) => {
    const body = errorBody(error);
    const status = isRegistryError(error) ? error.httpStatus : statusOf(body.error_code);
    if (status >= 500) request.log.error({ err: error, url: request.url }, 'registry request failed');
    if (status === 401) reply.header('www-authenticate', 'Bearer realm="schema-registry"');
    return reply.status(status).send(body);
  });
  // As Confluent's registry answers: 405 for a path served for other methods, else 404.
  notFoundOr405(
    app,
    () => ({ error_code: 405, message: 'HTTP 405 Method Not Allowed' }) satisfies ErrorBody,
    () => ({ error_code: 404, message: 'HTTP 404 Not Found' }) satisfies ErrorBody,
  );

  const store = new RegistryStore(options.pool, options.logger.child({ component: 'registry' }));
  const deps = { store, admin: adminGuard(options.adminToken) };
  subjectRoutes(app, deps);
  schemaRoutes(app, deps);
  configRoutes(app, deps);
  return app;
}

/** An onRequest hook refusing requests without the admin token (a no-op when none is configured). */
export function adminGuard(token: string | undefined): onRequestHookHandler {
  if (token === undefined) {
    return (_request, _reply, done) => {
      done();
    };
  }
  const expected = sha256(token);
  return (request, _reply, done) => {
    const header = request.headers.authorization;
    const given = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1] : undefined;
    // Compare digests, so the comparison takes the same time whatever the length of the guess.
    if (given === undefined || !timingSafeEqual(sha256(given), expected)) {
      done(registryErrors.unauthorized());
      return;
    }
    done();
  };
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function errorBody(error: unknown): ErrorBody {
  if (isRegistryError(error)) return { error_code: error.errorCode, message: error.message };
  const status = typeof error === 'object' && error !== null && 'statusCode' in error ? error.statusCode : 0;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // Fastify's own: malformed JSON (400), unsupported content type (415), body too large (413).
    return { error_code: status, message: error instanceof Error ? error.message : String(error) };
  }
  if (isStoreError(error)) {
    const store = registryErrors.store(error);
    return { error_code: store.errorCode, message: store.message };
  }
  return { error_code: 500, message: 'internal error' };
}

/** PostgreSQL refused or could not be reached. */
function isStoreError(error: unknown): boolean {
  if (error instanceof pg.DatabaseError) return true;
  if (!(error instanceof Error)) return false;
  const code = 'code' in error ? error.code : undefined;
  return (
    (typeof code === 'string' && /^E[A-Z]+$/.test(code)) ||
    /Connection terminated|timeout exceeded when trying to connect/i.test(error.message)
  );
}
