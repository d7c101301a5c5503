/**
 * The HTTP server under each of our Fastify apps (the API, the schema registry). Fastify leaves
 * Node's request timeout off, so a client that declares a body and stops sending it held its
 * connection, and `serve`'s shutdown waiting for it, for as long as the client wished. Here a
 * request not received in full within `requestTimeoutMs` is answered 408 and its connection closed.
 * Only receiving counts: a handler waiting for Kafka's acknowledgement is not cut short.
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import type {
  ConnectionError,
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyServerFactory,
} from 'fastify';

export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

export function timedServerFactory(requestTimeoutMs = DEFAULT_REQUEST_TIMEOUT_MS): FastifyServerFactory {
  return (handler) =>
    http.createServer(
      {
        requestTimeout: requestTimeoutMs,
        // Node requires the headers' own limit (60 s by default) to be no longer.
        headersTimeout: Math.min(60_000, requestTimeoutMs),
        // How often Node looks for requests past their time (30 s by default: up to twice the limit).
        connectionsCheckingInterval: Math.min(1_000, requestTimeoutMs),
      },
      handler,
    );
}

/**
 * Closes `app`: in-flight requests finish, but for `graceMs` at most. Node stops timing requests out
 * once its server is closing, so without this bound a stalled upload would hold the close for as
 * long as its client kept the connection open.
 */
export async function closeWithin(app: FastifyInstance, graceMs = DEFAULT_REQUEST_TIMEOUT_MS): Promise<void> {
  const cut = setTimeout(() => {
    app.server.closeAllConnections();
  }, graceMs);
  try {
    await app.close();
  } finally {
    clearTimeout(cut);
  }
}

/**
 * The methods `app` serves at a URL, for a 405 with `Allow` instead of a 404 when a path exists but
 * not for the method asked. Call before any route is added: it learns them as they are.
 */
function routeMethods(app: FastifyInstance): (url: string) => string[] {
  const routes: { pattern: RegExp; methods: string[] }[] = [];
  app.addHook('onRoute', (route) => {
    const source = route.url
      .split('/')
      .map((part) =>
        part.startsWith(':') ? '[^/]+' : part === '*' ? '.*' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
      )
      .join('/');
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    routes.push({ pattern: new RegExp(`^${source}$`), methods: methods.map(String) });
  });
  return (url) => {
    const path = url.split('?', 1)[0] ?? '';
    const allowed = new Set(routes.filter((r) => r.pattern.test(path)).flatMap((r) => r.methods));
    return [...allowed].sort();
  };
}

/**
 * Fastify options that answer what fails before a request reaches a route — a URL that does not
 * decode, headers over Node's limit (a very long URL is one), a body not received in time — in the
 * app's own error shape (`body`) instead of Fastify's.
 */
export function ownErrorShape(
  body: (status: number, message: string) => object,
  contentType = 'application/json; charset=utf-8',
): {
  frameworkErrors: (error: FastifyError, request: unknown, reply: FastifyReply) => void;
  clientErrorHandler: (error: ConnectionError, socket: Socket) => void;
} {
  return {
    frameworkErrors: (error, _request, reply) => {
      const status = error.statusCode ?? 400;
      // A Buffer goes out as it is: a string or an object would get Fastify's `; charset=utf-8`.
      // FST_ERR_BAD_URL (400), FST_ERR_MAX_PARAM_LENGTH (414): their messages quote the whole URL.
      const text = Buffer.from(JSON.stringify(body(status, quoted(error.message))));
      void reply.status(status).header('content-type', contentType).send(text);
    },
    clientErrorHandler: (error, socket) => {
      if (error.code === 'ECONNRESET' || socket.destroyed) return; // nothing left to answer
      const [status, message] =
        error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'the request was not received in full in time']
          : error.code === 'HPE_HEADER_OVERFLOW'
            ? [431, `the request line and headers are over ${http.maxHeaderSize} bytes`]
            : [400, 'the request is not valid HTTP/1.1'];
      const text = JSON.stringify(body(status, message));
      // Not into a response already under way (a pipelined request's), as Node's own handler.
      const underWay = (socket as { _httpMessage?: { _headerSent?: boolean } })._httpMessage?._headerSent;
      if (socket.writable && underWay !== true) {
        socket.write(
          `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\nContent-Length: ${Buffer.byteLength(text)}\r\n` +
            `Content-Type: ${contentType}\r\nConnection: close\r\n\r\n${text}`,
        );
      }
      socket.destroy(error);
    },
  };
}

/** A URL, or a message quoting one, as an error sends it back: a 10-KB one is not sent whole. */
export function quoted(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/**
 * The not-found handler of `app`: a 405 with `Allow` for a path served for other methods, else a
 * 404, each in the app's own shape. Call before any route is added (see routeMethods).
 */
export function notFoundOr405(
  app: FastifyInstance,
  methodNotAllowed: (method: string, path: string, allowed: string) => object,
  notFound: (method: string, url: string) => object,
): void {
  const methodsAt = routeMethods(app);
  app.setNotFoundHandler((request, reply) => {
    const allowed = methodsAt(request.url);
    if (allowed.length === 0) return reply.status(404).send(notFound(request.method, quoted(request.url)));
    const path = quoted(request.url.split('?', 1)[0] ?? '');
    return reply
      .status(405)
      .header('allow', allowed.join(', '))
      .send(methodNotAllowed(request.method, path, allowed.join(', ')));
  });
}
