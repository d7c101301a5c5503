/**
 * POST /v1/records: a JSON batch of one customer's records, authenticated by that customer's API key.
 * Each record is decoded and validated; the acceptable ones are produced to Kafka (idempotent
 * producer, acks from all in-sync replicas) and the answer is sent only after Kafka acknowledged
 * them, with a result per record. Nothing is produced when the request as a whole is refused.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { TributaryError, describeError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { TributaryRecord } from '../../core/record.js';
import type { ApiKeyAuthenticator, Principal } from '../../core/tenants/index.js';
import { decodeJsonRecord } from '../contract/json.js';
import { validateRecord } from '../contract/validate.js';
import type { RecordProducer } from '../producer.js';

export interface GatewayOptions {
  readonly authenticator: ApiKeyAuthenticator;
  readonly producer: RecordProducer;
  readonly logger: Logger;
  /** Most records in one request (default 1,000); more is 413. */
  readonly maxRecords?: number;
}

export type RecordResult =
  | { readonly index: number; readonly record_id: string | null; readonly status: 'accepted' }
  | {
      readonly index: number;
      readonly record_id: string | null;
      readonly status: 'rejected';
      readonly reason: string;
    };

export interface IngestAnswer {
  readonly accepted: number;
  readonly rejected: number;
  readonly results: readonly RecordResult[];
}

/** The caller's principal from `Authorization: Bearer <key>`; 401 when missing, unknown or revoked. */
export async function authenticate(
  request: FastifyRequest,
  authenticator: ApiKeyAuthenticator,
): Promise<Principal> {
  const header = request.headers.authorization;
  const match = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  if (match?.[1] === undefined) {
    throw new TributaryError('UNAUTHORIZED', 'missing API key: send `Authorization: Bearer <api key>`');
  }
  const principal = await authenticator.verify(match[1]);
  if (principal === undefined) throw new TributaryError('UNAUTHORIZED', 'unknown or revoked API key');
  return principal;
}

function recordsOf(body: unknown): unknown[] {
  // Fastify reads text/plain as a string; a batch is JSON whatever it contains.
  if (typeof body === 'string') {
    throw new TributaryError('UNSUPPORTED_MEDIA_TYPE', 'send the batch as `Content-Type: application/json`');
  }
  if (Array.isArray(body)) return body;
  if (typeof body === 'object' && body !== null && Array.isArray((body as { records?: unknown }).records)) {
    // A key beside "records" means something to its sender that nothing here would honour.
    const others = Object.keys(body).filter((key) => key !== 'records');
    if (others.length > 0) {
      throw new TributaryError(
        'BAD_REQUEST',
        `unknown key${others.length > 1 ? 's' : ''} ${others
          .slice(0, 5)
          .map((key) => JSON.stringify(key.slice(0, 50)))
          .join(', ')} beside "records": the body is a JSON array of records or {"records": [...]}`,
      );
    }
    return (body as { records: unknown[] }).records;
  }
  throw new TributaryError('BAD_REQUEST', 'the body must be a JSON array of records or {"records": [...]}');
}

/** `item[field]` when it is a string: what an item claims before it is decoded. */
function stringField(item: unknown, field: 'record_id' | 'customer_id'): string | null {
  if (typeof item !== 'object' || item === null) return null;
  const value = (item as Record<string, unknown>)[field];
  return typeof value === 'string' ? value : null;
}

export function gatewayRoutes(options: GatewayOptions): FastifyPluginAsync {
  const maxRecords = options.maxRecords ?? 1_000;
  // Keys are checked when a request arrives, before its body is read: a caller without a valid
  // key gets its 401 without the server reading and parsing up to --body-limit bytes for it.
  const principals = new WeakMap<FastifyRequest, Principal>();
  const onRequest = async (request: FastifyRequest): Promise<void> => {
    principals.set(request, await authenticate(request, options.authenticator));
  };
  // eslint-disable-next-line @typescript-eslint/require-await -- fastify plugins are async functions
  return async (app) => {
    app.post('/v1/records', { onRequest }, async (request: FastifyRequest, reply: FastifyReply) => {
      const principal = principals.get(request);
      if (principal === undefined) throw new TributaryError('INTERNAL', 'the request was not authenticated');
      const items = recordsOf(request.body);
      if (items.length === 0) throw new TributaryError('BAD_REQUEST', 'the batch has no records');
      if (items.length > maxRecords) {
        throw new TributaryError(
          'PAYLOAD_TOO_LARGE',
          `${items.length} records in one request; at most ${maxRecords}`,
        );
      }

      const results: RecordResult[] = [];
      const accepted: TributaryRecord[] = [];
      for (const [index, item] of items.entries()) {
        // Before decoding: a record naming another customer refuses the batch even if it is
        // malformed as well, rather than being one more rejected record beside accepted ones.
        const owner = stringField(item, 'customer_id');
        if (owner !== null && owner !== principal.customerId) {
          throw new TributaryError(
            'FORBIDDEN',
            `record ${index} belongs to customer ${JSON.stringify(owner)}; this key may only send records of ${principal.customerId}`,
          );
        }
        const decoded = decodeJsonRecord(item);
        const recordId = stringField(item, 'record_id');
        if (!decoded.ok) {
          results.push({ index, record_id: recordId, status: 'rejected', reason: decoded.reason });
          continue;
        }
        const problems = validateRecord(decoded.record);
        if (problems.length > 0) {
          results.push({ index, record_id: recordId, status: 'rejected', reason: problems.join('; ') });
          continue;
        }
        accepted.push(decoded.record);
        results.push({ index, record_id: recordId, status: 'accepted' });
      }

      try {
        await options.producer.send(accepted);
      } catch (error) {
        options.logger.error({ err: error, customer: principal.customerId }, 'producing to Kafka failed');
        throw new TributaryError(
          'UNAVAILABLE',
          `records not accepted: Kafka did not acknowledge them (${describeError(error)}); retry the request`,
          {
            retriable: true,
            cause: error,
          },
        );
      }
      const answer: IngestAnswer = {
        accepted: accepted.length,
        rejected: results.length - accepted.length,
        results,
      };
      return reply.status(200).send(answer);
    });
  };
}
