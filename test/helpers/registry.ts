/**
 * Schema registry test helpers: a fresh PostgreSQL database per test file (with the shipped
 * migrations applied by `tributary db apply`), one way to call the registry whether in-process
 * (fastify inject) or over HTTP, and `tributary serve` as a real child process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, onTestFinished } from 'vitest';
import { z } from 'zod';
import { createPgPool, type PgPool } from '../../core/postgres/index.js';
import { CLI, runCli } from './cli.js';
import { config, logger, pgPool } from './context.js';
import { uniqueName } from './names.js';
import { waitFor } from './wait-for.js';

export const REGISTRY_CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

export interface RegistryDatabase {
  readonly url: string;
  /** DATABASE_URL for child processes. */
  readonly env: NodeJS.ProcessEnv;
  /** A pool on it, ended after the file's tests. */
  readonly pool: PgPool;
}

/**
 * A new database for this test file, with every migration applied by `tributary db apply`, dropped
 * after the file's tests. Call at module level; the returned function gives it inside tests and hooks.
 */
export function useRegistryDatabase(): () => RegistryDatabase {
  const admin = pgPool();
  const name = uniqueName('registry').toLowerCase();
  let current: RegistryDatabase | undefined;
  beforeAll(async () => {
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(config.postgres.url);
    url.pathname = `/${name}`;
    const env = { DATABASE_URL: url.toString() };
    const applied = await runCli(['db', 'apply'], env);
    if (applied.code !== 0) throw new Error(`db apply failed (${applied.code}): ${applied.stderr}`);
    const pool = createPgPool({ url: url.toString(), logger, max: 10 });
    current = { url: url.toString(), env, pool };
  });
  afterAll(async () => {
    await current?.pool.end();
    // pool.end() does not wait for the server to see its connections close: wait, so that dropping
    // the database does not terminate a connection the pool is still closing (a logged error).
    await waitFor(
      async () => {
        const result = await admin.query(
          'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1',
          [name],
        );
        return z.object({ n: z.number() }).parse(result.rows[0]).n === 0;
      },
      { timeoutMs: 10_000, description: `the connections to ${name} to close` },
    );
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  });
  return () => {
    if (current === undefined) throw new Error('the registry database is ready only in tests and hooks');
    return current;
  };
}

export interface RegistryResponse {
  readonly status: number;
  readonly contentType: string;
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  readonly body: unknown;
  readonly text: string;
}

export interface CallOptions {
  /** Sent as JSON (unless `rawBody` is given). */
  readonly body?: unknown;
  readonly rawBody?: string;
  readonly contentType?: string;
  readonly token?: string;
}

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';
export type RegistryCall = (
  method: HttpMethod,
  url: string,
  options?: CallOptions,
) => Promise<RegistryResponse>;

function requestParts(options: CallOptions): { headers: Record<string, string>; payload?: string } {
  const headers: Record<string, string> = {};
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  const payload = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  if (payload !== undefined) headers['content-type'] = options.contentType ?? REGISTRY_CONTENT_TYPE;
  return payload === undefined ? { headers } : { headers, payload };
}

function response(
  status: number,
  headers: Record<string, string | undefined>,
  text: string,
): RegistryResponse {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON: `body` stays undefined and the test reads `text`.
    body = undefined;
  }
  return { status, headers, contentType: headers['content-type'] ?? '', body, text };
}

/** Calls an app in-process. */
export function injectCaller(app: FastifyInstance): RegistryCall {
  return async (method, url, options = {}) => {
    const { headers, payload } = requestParts(options);
    const reply = await app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload }) });
    const flat: Record<string, string | undefined> = {};
    for (const [key, value] of Object.entries(reply.headers)) flat[key] = value?.toString();
    return response(reply.statusCode, flat, reply.body);
  };
}

/** Calls a registry listening at `baseUrl`. */
export function httpCaller(baseUrl: string): RegistryCall {
  return async (method, url, options = {}) => {
    const { headers, payload } = requestParts(options);
    const reply = await fetch(`${baseUrl}${url}`, {
      method,
      headers,
      ...(payload === undefined ? {} : { body: payload }),
    });
    return response(reply.status, Object.fromEntries(reply.headers.entries()), await reply.text());
  };
}

/** A port nobody listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => {
        resolve(port);
      });
    });
  });
}

export interface ServeProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Sends the signal and waits for the process to exit; resolves its exit code or signal. */
  stop(signal: NodeJS.Signals): Promise<string>;
  output(): string;
}

/** Runs `tributary serve` on free ports and waits until its registry answers; killed after the test. */
export async function startServe(env: NodeJS.ProcessEnv): Promise<ServeProcess> {
  const [registryPort, apiPort] = [await freePort(), await freePort()];
  const args = [CLI, 'serve', '--registry-port', String(registryPort), '--api-port', String(apiPort)];
  const child = spawn(process.execPath, args, {
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => {
      resolve(signal ?? String(code));
    });
  });
  onTestFinished(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  const url = `http://127.0.0.1:${registryPort}`;
  const state = await waitFor(
    async () => {
      if (child.exitCode !== null || child.signalCode !== null) return 'exited';
      return (await fetch(`${url}/schemas/types`)).ok && 'ready';
    },
    { timeoutMs: 30_000, description: `tributary serve on ${url}` },
  );
  if (state === 'exited') throw new Error(`tributary serve exited before answering:\n${output}`);
  return {
    url,
    child,
    stop: async (signal) => {
      child.kill(signal);
      return exited;
    },
    output: () => output,
  };
}

/** A record schema text (keys in canonical order): `fields` as [name, type, default?]. */
export function recordSchema(
  name: string,
  fields: readonly (readonly [string, unknown, unknown?])[],
): string {
  return JSON.stringify({
    name,
    type: 'record',
    fields: fields.map(([field, type, ...rest]) =>
      rest.length > 0 ? { name: field, type, default: rest[0] } : { name: field, type },
    ),
  });
}
