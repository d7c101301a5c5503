/**
 * An existing Confluent client, @kafkajs/confluent-schema-registry, against our registry listening on
 * a real port (with the admin token): register, encode to the Confluent wire format, decode with a
 * fresh client that fetches the schema by id, and an incompatible registration refused with 409.
 */
import { randomBytes } from 'node:crypto';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistryApp } from '../../ingest/registry/index.js';
import { logger } from '../helpers/context.js';
import { uniqueName } from '../helpers/names.js';
import { httpCaller, useRegistryDatabase } from '../helpers/registry.js';

const db = useRegistryDatabase();
const token = randomBytes(24).toString('hex');
let app: FastifyInstance;
let host: string;

beforeAll(async () => {
  app = await createRegistryApp({ pool: db().pool, logger, adminToken: token });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('registry is not listening on TCP');
  host = `http://127.0.0.1:${address.port}`;
});

afterAll(async () => {
  await app.close();
});

/** A client sending the admin token (the client registers, then sets the subject's level). */
function adminClient(): SchemaRegistry {
  return new SchemaRegistry({
    host,
    retry: { retries: 0 },
    middlewares: [
      () => ({
        prepareRequest: async (next) =>
          (await next()).enhance({ headers: { authorization: `Bearer ${token}` } }),
      }),
    ],
  });
}

function paymentRecord(name: string, extraFields: readonly object[] = []) {
  return {
    type: 'record' as const,
    name,
    namespace: 'com.example.payments',
    fields: [
      { name: 'id', type: 'string' },
      { name: 'amount', type: 'double' },
      { name: 'note', type: ['null', 'string'], default: null },
      ...extraFields,
    ],
  };
}

function paymentSchema(name: string, extraFields: readonly object[] = []): string {
  return JSON.stringify(paymentRecord(name, extraFields));
}

describe('@kafkajs/confluent-schema-registry against our registry', () => {
  it('registers, encodes, decodes with a fresh client, and follows the latest id', async () => {
    const registry = adminClient();
    const subject = `${uniqueName('payments')}-value`;
    const record = uniqueName('Payment');
    const { id } = await registry.register(
      { type: SchemaType.AVRO, schema: paymentSchema(record) },
      { subject },
    );
    expect(await registry.getLatestSchemaId(subject)).toBe(id);

    const payload = { id: 'p-1', amount: 12.5, note: 'hello' };
    const encoded = await registry.encode(id, payload);
    expect(encoded[0]).toBe(0); // Confluent wire format: magic byte, then the id big-endian
    expect(encoded.readInt32BE(1)).toBe(id);

    // A reader with nothing cached fetches the writer's schema by id from the registry.
    const reader = new SchemaRegistry({ host, retry: { retries: 0 } });
    expect(await reader.decode(encoded)).toEqual(payload);

    // On first registration the client set the subject's level; it reads it back on the next one.
    const call = httpCaller(host);
    expect((await call('GET', `/config/${subject}`)).body).toEqual({ compatibilityLevel: 'BACKWARD' });
    const currency = { name: 'currency', type: 'string', default: 'EUR' };
    const evolved = paymentSchema(record, [currency]);
    const second = await registry.register({ type: SchemaType.AVRO, schema: evolved }, { subject });
    expect(second.id).not.toBe(id);
    expect(await reader.getLatestSchemaId(subject)).toBe(second.id);
    // Old data decodes with the new schema as reader.
    const readerSchema = paymentRecord(record, [currency]);
    expect(await reader.decode(encoded, { [SchemaType.AVRO]: { readerSchema } })).toEqual({
      ...payload,
      currency: 'EUR',
    });
    // Registering the same schema again gives the same id.
    expect((await registry.register({ type: SchemaType.AVRO, schema: evolved }, { subject })).id).toBe(
      second.id,
    );
  });

  it('sees an incompatible registration refused with 409 and the reason', async () => {
    const registry = adminClient();
    const subject = `${uniqueName('payments')}-value`;
    const record = uniqueName('Payment');
    await registry.register({ type: SchemaType.AVRO, schema: paymentSchema(record) }, { subject });
    const breaking = paymentSchema(record, [{ name: 'merchant', type: 'string' }]);
    await expect(
      registry.register({ type: SchemaType.AVRO, schema: breaking }, { subject }),
    ).rejects.toMatchObject({
      status: 409,
      message: expect.stringMatching(
        new RegExp(
          `Schema being registered is incompatible with an earlier schema for subject "${subject}".*` +
            'no matching field for default-less com\\.example\\.payments\\.\\w+\\.merchant',
        ),
      ) as unknown,
    });
  });

  it('cannot write without the admin token', async () => {
    const anonymous = new SchemaRegistry({ host, retry: { retries: 0 } });
    const subject = `${uniqueName('payments')}-value`;
    await expect(
      anonymous.register({ type: SchemaType.AVRO, schema: paymentSchema(uniqueName('P')) }, { subject }),
    ).rejects.toMatchObject({ status: 401 });
  });
});
