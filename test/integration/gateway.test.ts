/**
 * POST /v1/records through a real `tributary serve`: keys, limits, a corpus of bad records, and what
 * reaches Kafka is exactly what the answer called accepted.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaReadiness } from '../../core/kafka/index.js';
import { createApiKey, addCustomer, revokeApiKey } from '../../core/tenants/index.js';
import { RecordDeserializer, RegistryClient, recordToJson } from '../../ingest/index.js';
import type { TributaryRecord } from '../../core/record.js';
import { BAD_KINDS, badJson } from '../../scripts/generate/index.js';
import { config, kafkaClient, logger, pgPool } from '../helpers/context.js';
import { readTopic } from '../helpers/kafka.js';
import { waitFor } from '../helpers/wait-for.js';
import { uniqueName } from '../helpers/names.js';
import { startServe } from '../helpers/process.js';

const kafka = kafkaClient();
const pool = pgPool();
const topic = uniqueName('records');
let apiUrl: string;
let registryUrl: string;
let stop: () => Promise<unknown>;
let customer: string;
let key: string;

function record(i: number, owner = customer): TributaryRecord {
  return {
    record_id: `g-${i}`,
    customer_id: owner,
    event_time: new Date(Date.UTC(2026, 10, 20, 12, 0, i)),
    account_id: 'acc-1',
    amount_minor: BigInt(250 + i),
    currency: 'EUR',
    category: 'grocery',
    country: 'FR',
    merchant: 'Nordwind',
    attributes: {},
    channel: 'app',
  };
}

async function post(
  body: unknown,
  apiKey: string | null = key,
  raw?: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${apiUrl}/v1/records`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(apiKey === null ? {} : { authorization: `Bearer ${apiKey}` }),
    },
    body: raw ?? JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/**
 * A POST to `url` that declares a 1,000-byte body and sends 2 bytes of it, then nothing: what the
 * server answered and whether it has closed the connection.
 */
function stalledUpload(
  url: string,
  path: string,
): { sent: () => boolean; answer: () => string; closed: () => boolean } {
  const { hostname, port } = new URL(url);
  let sent = false;
  let answer = '';
  let closed = false;
  const socket = net.connect(Number(port), hostname, () => {
    sent = socket.write(
      `POST ${path} HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${key}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n[{',
    );
  });
  socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
  socket.on('error', () => undefined);
  socket.on('close', () => (closed = true));
  return { sent: () => sent, answer: () => answer, closed: () => closed };
}

beforeAll(async () => {
  const serve = await startServe({ RECORDS_TOPIC: topic }, [
    '--max-records',
    '50',
    '--body-limit',
    '65536',
    '--auth-cache-seconds',
    '0',
  ]);
  apiUrl = serve.apiUrl;
  registryUrl = serve.registryUrl;
  stop = () => serve.process.stop();
  customer = uniqueName('gw');
  await addCustomer(pool, customer, 'Gateway test');
  key = (await createApiKey(pool, customer)).key;
});
afterAll(() => stop());

describe('ingest gateway', () => {
  it('accepts valid records, rejects each bad one with a reason, and Kafka holds exactly the accepted ones', async () => {
    const good = [record(1), record(2), { ...record(3), amount_minor: 9_007_199_254_740_993n }];
    const bad = BAD_KINDS.map((kind, i) => badJson(kind, record(100 + i)));
    const body = [
      ...good.map(recordToJson),
      ...bad,
      'not an object',
      null,
      { ...recordToJson(record(200)), event_time: '2026-11-20' },
    ];
    // Amounts beyond 2^53 travel as strings in JSON.
    expect((body[2] as Record<string, unknown>).amount_minor).toBe('9007199254740993');
    const answer = await post({ records: body });
    expect(answer.status).toBe(200);
    expect(answer.body.accepted).toBe(3);
    expect(answer.body.rejected).toBe(bad.length + 3);
    const results = answer.body.results as { index: number; status: string; reason?: string }[];
    expect(results.filter((r) => r.status === 'accepted').map((r) => r.index)).toEqual([0, 1, 2]);
    for (const r of results.filter((x) => x.status === 'rejected'))
      expect(r.reason?.length).toBeGreaterThan(3);

    const messages = await readTopic(kafka, topic);
    expect(messages).toHaveLength(3);
    const deserializer = new RecordDeserializer({ registry: new RegistryClient({ url: registryUrl }) });
    await deserializer.prepare(messages.map((m) => m.message.value));
    const decoded = messages.map((m) => deserializer.decode(m.message.value, m.message.key));
    const records = decoded.map((d) => (d.ok ? d.record : undefined));
    expect(records.map((r) => r?.record_id).sort()).toEqual(['g-1', 'g-2', 'g-3']);
    expect(records.find((r) => r?.record_id === 'g-3')?.amount_minor).toBe(9_007_199_254_740_993n);
    expect(messages.every((m) => m.message.key?.toString() === customer)).toBe(true);
  });

  it('401 without a key, with an unknown key and with a revoked key', async () => {
    expect((await post([recordToJson(record(1))], null)).status).toBe(401);
    // The key is checked before the body is read: a malformed one is not even parsed.
    expect((await post(undefined, null, '{"records": [')).status).toBe(401);
    expect((await post([recordToJson(record(1))], 'trb_000000000000_' + 'x'.repeat(43))).status).toBe(401);
    const extra = await createApiKey(pool, customer);
    expect((await post([recordToJson(record(5))], extra.key)).status).toBe(200);
    await revokeApiKey(pool, extra.keyId);
    const revoked = await post([recordToJson(record(5))], extra.key);
    expect(revoked.status).toBe(401);
    expect(revoked.body.message).toMatch(/revoked/);
  });

  it('a 401 names its scheme; a path served for other methods is a 405 with Allow, not a 404', async () => {
    const unauthorized = await fetch(`${apiUrl}/v1/records`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '[]',
    });
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.headers.get('www-authenticate')).toBe('Bearer realm="tributary"');
    for (const [method, path, allow] of [
      ['GET', '/v1/records', 'POST'],
      ['DELETE', '/v1/records?x=1', 'POST'],
      ['POST', '/healthz', 'GET, HEAD'],
    ] as const) {
      const answer = await fetch(`${apiUrl}${path}`, { method, headers: { authorization: `Bearer ${key}` } });
      expect(answer.status, `${method} ${path}`).toBe(405);
      expect(answer.headers.get('allow')).toBe(allow);
      expect(await answer.json()).toEqual({
        error: 'METHOD_NOT_ALLOWED',
        message: `${method} is not served at ${path.split('?')[0] ?? ''}: use ${allow}`,
      });
    }
    const nowhere = await fetch(`${apiUrl}/v1/nothing-here`);
    expect(nowhere.status).toBe(404);
    // The router does not ignore a trailing slash: that is another path, served for no method.
    expect((await fetch(`${apiUrl}/healthz/`)).status).toBe(404);
    expect(((await nowhere.json()) as { error: string }).error).toBe('NOT_FOUND');
  });

  it('what fails before a route (a bad URL, huge headers, a long path) is answered in the same error shape', async () => {
    const badUrl = await fetch(`${apiUrl}/v1/%zz`);
    expect(badUrl.status).toBe(400);
    expect(await badUrl.json()).toEqual({
      error: 'BAD_REQUEST',
      message: "'/v1/%zz' is not a valid url component",
    });
    const longBadUrl = await fetch(`${apiUrl}/v1/%zz${'x'.repeat(5_000)}`);
    expect(longBadUrl.status).toBe(400);
    expect(((await longBadUrl.json()) as { message: string }).message).toMatch(/^'\/v1\/%zzxxx.{150,}…$/);
    const huge = await fetch(`${apiUrl}/healthz`, { headers: { 'x-big': 'a'.repeat(20_000) } });
    expect(huge.status).toBe(431);
    expect(await huge.json()).toEqual({
      error: 'HEADERS_TOO_LARGE',
      message: expect.stringMatching(/^the request line and headers are over \d+ bytes$/) as unknown,
    });
    const long = await fetch(`${apiUrl}/${'x/'.repeat(5_000)}`);
    expect(long.status).toBe(404);
    const { message } = (await long.json()) as { message: string };
    expect(message.length).toBeLessThan(300); // the path is quoted, not sent back whole
    expect(message).toMatch(/^no route GET \/x\/x\/.*…$/);
  });

  it('403 when a record belongs to another customer, and nothing of the batch is produced', async () => {
    const before = (await readTopic(kafka, topic)).length;
    const answer = await post([recordToJson(record(7)), recordToJson(record(8, 'someone-else'))]);
    expect(answer.status).toBe(403);
    expect(answer.body.message).toMatch(/someone-else/);
    // Also when that record is malformed besides: it is not merely one more rejected record.
    const malformed = await post([recordToJson(record(9)), { customer_id: 'someone-else', record_id: 'x' }]);
    expect(malformed.status).toBe(403);
    expect(malformed.body.message).toMatch(/record 1 belongs to customer "someone-else"/);
    expect((await readTopic(kafka, topic)).length).toBe(before);
  });

  it('text that would not be stored as sent is refused: a lone surrogate, bytes that are not UTF-8', async () => {
    const before = (await readTopic(kafka, topic)).length;
    const good = JSON.stringify(recordToJson(record(20)));
    // JSON.stringify would escape the surrogates itself; these are the escapes a client sends.
    const lone = JSON.stringify({ ...recordToJson(record(21)), record_id: 'LONE', merchant: 'M' })
      .replace('"LONE"', '"g-21\\ud800"')
      .replace('"M"', '"caf\\udc00"');
    const answer = await post(undefined, key, `[${good}, ${lone}]`);
    expect(answer.status).toBe(200);
    expect(answer.body.accepted).toBe(1);
    const results = answer.body.results as { status: string; reason?: string }[];
    expect(results[1]?.status).toBe('rejected');
    expect(results[1]?.reason).toBe(
      'record_id is not valid Unicode (a lone surrogate); merchant is not valid Unicode (a lone surrogate)',
    );

    const bytes = Buffer.from(`[${JSON.stringify({ ...recordToJson(record(22)), merchant: 'MERCHANT' })}]`);
    const at = bytes.indexOf('MERCHANT');
    bytes[at] = 0xff; // not UTF-8: a lenient decoder would store U+FFFD in its place
    const response = await fetch(`${apiUrl}/v1/records`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: bytes,
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { message: string }).message).toBe('the body is not valid UTF-8');

    const messages = await readTopic(kafka, topic);
    expect(messages.length).toBe(before + 1);
  });

  it('415 for a batch that is not sent as JSON', async () => {
    const response = await fetch(`${apiUrl}/v1/records`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', authorization: `Bearer ${key}` },
      body: JSON.stringify([recordToJson(record(30))]),
    });
    expect(response.status).toBe(415);
    expect(((await response.json()) as { message: string }).message).toMatch(/application\/json/);
  });

  it('400 for malformed JSON and for a body that is not a batch; 413 for too many records or bytes', async () => {
    const malformed = await post(undefined, key, '{"records": [');
    expect(malformed.status).toBe(400);
    expect(malformed.body.message).toBeTruthy();
    expect((await post({ hello: 'world' })).status).toBe(400);
    expect((await post([])).status).toBe(400);
    // A key beside "records" would be silently ignored: refused, and nothing of the batch produced.
    const before = (await readTopic(kafka, topic)).length;
    const extra = await post({ records: [recordToJson(record(60))], schema_version: 2 });
    expect(extra.status).toBe(400);
    expect(extra.body.message).toMatch(/^unknown key "schema_version" beside "records"/);
    expect((await readTopic(kafka, topic)).length).toBe(before);
    const tooMany = await post(Array.from({ length: 51 }, (_, i) => recordToJson(record(i))));
    expect(tooMany.status).toBe(413);
    expect(tooMany.body.message).toMatch(/at most 50/);
    const tooBig = await post([{ ...recordToJson(record(1)), attributes: { blob: 'x'.repeat(70_000) } }]);
    expect(tooBig.status).toBe(413);
  });

  it('/readyz answers for PostgreSQL and Kafka; a Kafka that does not answer is not ready', async () => {
    const ready = await fetch(`${apiUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { checks: unknown[] }).checks).toEqual([
      { name: 'postgres', ok: true },
      { name: 'kafka', ok: true },
    ]);
    const nowhere = new KafkaReadiness({ brokers: ['127.0.0.1:1'], logger }, topic, 1_000);
    try {
      await expect(nowhere.check()).rejects.toThrow(/ECONNREFUSED/);
    } finally {
      await nowhere.close();
    }
    // A broker that takes the connection and never answers (frozen, or not Kafka at all).
    const sockets: net.Socket[] = [];
    const silent = net.createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    const mute = new KafkaReadiness({ brokers: [`127.0.0.1:${port}`], logger }, topic, 1_000);
    try {
      const began = performance.now();
      await expect(mute.check()).rejects.toThrow(/did not answer within 1000 ms/);
      expect(performance.now() - began).toBeLessThan(5_000);
      expect(sockets.length).toBeGreaterThan(0);
    } finally {
      await mute.close();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
    // A topic the cluster does not have is named in the reason.
    const missing = uniqueName('no-such-topic');
    const lost = new KafkaReadiness({ brokers: config.kafka.brokers, logger }, missing, 2_000);
    try {
      await expect(lost.check()).rejects.toThrow(
        `topic ${missing}: This server does not host this topic-partition`,
      );
    } finally {
      await lost.close();
    }
  });

  it('a client that stops sending its body is answered 408, and does not hold up shutdown', async () => {
    const serve = await startServe({ RECORDS_TOPIC: topic }, ['--request-timeout-seconds', '2']);
    const uploads = [
      stalledUpload(serve.apiUrl, '/v1/records'),
      stalledUpload(serve.registryUrl, '/subjects/stalled-value/versions'),
    ];
    await waitFor(() => uploads.every((u) => u.closed()), {
      timeoutMs: 20_000,
      description: 'both stalled uploads answered and closed',
    });
    for (const upload of uploads) expect(upload.answer()).toMatch(/^HTTP\/1\.1 408 /);

    // One more, caught by the shutdown: SIGTERM waits for in-flight requests, but not past the limit.
    const last = stalledUpload(serve.apiUrl, '/v1/records');
    await waitFor(last.sent, { description: 'the last upload begun' });
    const began = performance.now();
    expect(await serve.process.stop()).toBe(0);
    expect(performance.now() - began).toBeLessThan(15_000);
    expect(last.closed()).toBe(true);
  });
});
