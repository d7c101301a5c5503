/**
 * The HTTP API process: health endpoints and the routes each part contributes (the ingest gateway
 * today; the feedback API later). Errors become `{ error, message }` with the status of their code.
 */
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyPluginAsync,
} from 'fastify';
import { TributaryError, isTributaryError } from '../core/errors.js';
import { notFoundOr405, ownErrorShape, timedServerFactory } from '../core/http.js';
import type { Logger } from '../core/logger.js';

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

export interface ReadinessCheck {
  readonly name: string;
  readonly check: () => Promise<void>;
}

export interface ApiAppOptions {
  readonly logger: Logger;
  /** Route plugins contributed by the parts (registered in order). */
  readonly routes?: readonly FastifyPluginAsync[];
  /** What `/readyz` checks (each dependency answers). */
  readonly readiness?: readonly ReadinessCheck[];
  /** Largest accepted request body, in bytes. */
  readonly bodyLimit?: number;
  /** How long a client has to send its whole request (DEFAULT_REQUEST_TIMEOUT_MS). */
  readonly requestTimeoutMs?: number;
}

/** The `error` code of an answer Fastify or Node gives before our handlers run. */
function errorCodeOf(status: number): string {
  if (status >= 500) return 'INTERNAL';
  const codes: Record<number, string> = {
    400: 'BAD_REQUEST',
    408: 'REQUEST_TIMEOUT',
    413: 'PAYLOAD_TOO_LARGE',
    431: 'HEADERS_TOO_LARGE',
  };
  return codes[status] ?? 'REQUEST_ERROR';
}

export async function createApiApp(options: ApiAppOptions): Promise<FastifyInstance> {
  const log: FastifyBaseLogger = options.logger.child({ component: 'api' });
  const app = Fastify({
    loggerInstance: log,
    bodyLimit: options.bodyLimit ?? 5 * 1024 * 1024,
    serverFactory: timedServerFactory(options.requestTimeoutMs),
    logController: new LogController({ disableRequestLogging: true }),
    ...ownErrorShape((status, message) => ({ error: errorCodeOf(status), message })),
  });

  // JSON bodies must be UTF-8: Fastify's own parser would read invalid bytes as U+FFFD, and a record
  // so changed would be acknowledged as accepted while what it stores is not what was sent.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    let text: string;
    try {
      text = STRICT_UTF8.decode(body as Buffer);
    } catch {
      done(new TributaryError('BAD_REQUEST', 'the body is not valid UTF-8'), undefined);
      return;
    }
    void parseJson(request, text, done); // calls `done` itself
  });

  app.setErrorHandler((error, request, reply) => {
    if (isTributaryError(error)) {
      if (error.httpStatus === 401) reply.header('www-authenticate', 'Bearer realm="tributary"');
      return reply.status(error.httpStatus).send({ error: error.code, message: error.message });
    }
    const status =
      typeof (error as { statusCode?: unknown }).statusCode === 'number'
        ? (error as { statusCode: number }).statusCode
        : 500;
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    const code = errorCodeOf(status);
    const message = status >= 500 ? 'internal error' : error instanceof Error ? error.message : String(error);
    return reply.status(status).send({ error: code, message });
  });
  notFoundOr405(
    app,
    (method, path, allowed) => ({
      error: 'METHOD_NOT_ALLOWED',
      message: `${method} is not served at ${path}: use ${allowed}`,
    }),
    (method, url) => ({ error: 'NOT_FOUND', message: `no route ${method} ${url}` }),
  );

  app.get('/healthz', () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const results = await Promise.all(
      (options.readiness ?? []).map(async ({ name, check }) => {
        try {
          await check();
          return { name, ok: true };
        } catch (error) {
          return { name, ok: false, error: error instanceof Error ? error.message : String(error) };
        }
      }),
    );
    const ready = results.every((r) => r.ok);
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not-ready', checks: results });
  });

  for (const routes of options.routes ?? []) await app.register(routes);
  return app;
}
