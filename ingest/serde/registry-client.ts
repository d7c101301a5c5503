/**
 * A small client of the Confluent Schema Registry REST API (ours, or Confluent's): register, look
 * up, fetch by id. Schemas by id are immutable and cached forever. Network failures and 5xx are
 * retried; 4xx answers are final and carry the registry's message.
 */
import { TributaryError } from '../../core/errors.js';
import { retry } from '../../core/retry.js';

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

export interface RegistryClientOptions {
  readonly url: string;
  /** Sent as `Authorization: Bearer …` on writes. */
  readonly adminToken?: string | undefined;
  readonly timeoutMs?: number;
}

export class RegistryError extends TributaryError {
  constructor(
    readonly status: number,
    readonly errorCode: number,
    message: string,
  ) {
    super(
      status === 404
        ? 'NOT_FOUND'
        : status === 409
          ? 'CONFLICT'
          : status >= 500
            ? 'UNAVAILABLE'
            : 'BAD_REQUEST',
      message,
      {
        retriable: status >= 500 || status === 408 || status === 429,
        details: { status, errorCode },
      },
    );
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

export class RegistryClient {
  private readonly byId = new Map<number, Promise<string>>();
  private readonly base: string;

  constructor(private readonly options: RegistryClientOptions) {
    this.base = options.url.replace(/\/+$/, '');
  }

  private async request(method: string, path: string, body?: unknown, write = false): Promise<unknown> {
    return retry(
      async () => {
        const headers: Record<string, string> = { accept: CONTENT_TYPE };
        if (body !== undefined) headers['content-type'] = CONTENT_TYPE;
        if (write && this.options.adminToken !== undefined)
          headers.authorization = `Bearer ${this.options.adminToken}`;
        let response: Response;
        try {
          response = await fetch(`${this.base}${path}`, {
            method,
            headers,
            ...(body === undefined ? {} : { body: JSON.stringify(body) }),
            signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
          });
        } catch (error) {
          throw new TributaryError('UNAVAILABLE', `schema registry at ${this.base} unreachable`, {
            retriable: true,
            cause: error,
          });
        }
        const text = await response.text();
        let payload: unknown;
        try {
          payload = text === '' ? undefined : JSON.parse(text);
        } catch {
          payload = text;
        }
        if (!response.ok) {
          const code =
            isRecord(payload) && typeof payload.error_code === 'number'
              ? payload.error_code
              : response.status;
          const message = isRecord(payload) && typeof payload.message === 'string' ? payload.message : text;
          throw new RegistryError(response.status, code, `schema registry: ${message} (${code})`);
        }
        return payload;
      },
      { attempts: 5, initialDelayMs: 100, maxDelayMs: 2_000 },
    );
  }

  /** Registers a schema under a subject (or finds it registered) and returns its global id. */
  async register(subject: string, schema: string): Promise<number> {
    const payload = await this.request(
      'POST',
      `/subjects/${encodeURIComponent(subject)}/versions`,
      { schema },
      true,
    );
    if (!isRecord(payload) || typeof payload.id !== 'number')
      throw new TributaryError('INTERNAL', 'registry: no id in answer');
    this.byId.set(payload.id, Promise.resolve(schema));
    return payload.id;
  }

  /** The id of a schema already registered under a subject (lookup; never registers). */
  async lookup(subject: string, schema: string): Promise<number> {
    const payload = await this.request('POST', `/subjects/${encodeURIComponent(subject)}`, { schema });
    if (!isRecord(payload) || typeof payload.id !== 'number')
      throw new TributaryError('INTERNAL', 'registry: no id in answer');
    return payload.id;
  }

  /** The schema text of a global id. Cached forever: ids are immutable. */
  schemaById(id: number): Promise<string> {
    let pending = this.byId.get(id);
    if (pending === undefined) {
      pending = this.request('GET', `/schemas/ids/${id}`).then((payload) => {
        if (!isRecord(payload) || typeof payload.schema !== 'string')
          throw new TributaryError('INTERNAL', 'registry: no schema in answer');
        return payload.schema;
      });
      // A failed lookup is not cached: the next message retries it.
      void pending.catch(() => this.byId.delete(id));
      this.byId.set(id, pending);
    }
    return pending;
  }

  async testCompatibility(
    subject: string,
    schema: string,
  ): Promise<{ compatible: boolean; messages: string[] }> {
    const payload = await this.request(
      'POST',
      `/compatibility/subjects/${encodeURIComponent(subject)}/versions/latest?verbose=true`,
      { schema },
    );
    if (!isRecord(payload)) throw new TributaryError('INTERNAL', 'registry: bad compatibility answer');
    const messages = Array.isArray(payload.messages) ? payload.messages.map(String) : [];
    return { compatible: payload.is_compatible === true, messages };
  }
}
