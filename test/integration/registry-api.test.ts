/**
 * The schema registry's REST API against Confluent's contract, in-process (fastify inject) on a
 * PostgreSQL database of this file's own, so global config changes stay here. Each test uses its own
 * subjects.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createRegistryApp } from '../../ingest/registry/index.js';
import { logger } from '../helpers/context.js';
import { uniqueName } from '../helpers/names.js';
import {
  injectCaller,
  recordSchema,
  REGISTRY_CONTENT_TYPE,
  useRegistryDatabase,
  type HttpMethod,
  type RegistryCall,
  type RegistryResponse,
} from '../helpers/registry.js';

const db = useRegistryDatabase();
let app: FastifyInstance;
let call: RegistryCall;

beforeAll(async () => {
  app = await createRegistryApp({ pool: db().pool, logger });
  call = injectCaller(app);
});

afterAll(async () => {
  await app.close();
});

const v1 = recordSchema('User', [['id', 'long']]);
const v2 = recordSchema('User', [
  ['id', 'long'],
  ['email', ['null', 'string'], null],
]);
/** Not BACKWARD compatible with v1/v2: a field without default that old data lacks. */
const v3Breaking = recordSchema('User', [
  ['id', 'long'],
  ['country', 'string'],
]);

function subject(): string {
  return uniqueName('subject');
}

/** Schemas no other test registers (ids are global, so their usages are this test's only). */
function ownSchemas(): { record: string; v1: string; v2: string } {
  const record = uniqueName('User');
  return {
    record,
    v1: recordSchema(record, [['id', 'long']]),
    v2: recordSchema(record, [
      ['id', 'long'],
      ['email', ['null', 'string'], null],
    ]),
  };
}

const idBody = z.object({ id: z.number().int().positive() });
const errorBody = z.object({ error_code: z.number().int(), message: z.string().min(1) }).strict();

function expectError(response: RegistryResponse, errorCode: number): void {
  expect(errorBody.parse(response.body).error_code, response.text).toBe(errorCode);
  expect(response.status).toBe(Number(String(errorCode).slice(0, 3)));
  expect(response.contentType).toBe(REGISTRY_CONTENT_TYPE);
}

async function register(name: string, schema: string): Promise<number> {
  const response = await call('POST', `/subjects/${name}/versions`, { body: { schema } });
  expect(response.status, response.text).toBe(200);
  return idBody.parse(response.body).id;
}

describe('content types', () => {
  it('accepts the v1, the generic registry and the plain JSON content types; answers v1', async () => {
    const name = subject();
    for (const contentType of [
      'application/vnd.schemaregistry.v1+json',
      'application/vnd.schemaregistry+json',
      'application/json',
    ]) {
      const response = await call('POST', `/subjects/${name}/versions`, {
        body: { schema: v1 },
        contentType,
      });
      expect(response.status, contentType).toBe(200);
      expect(response.contentType).toBe(REGISTRY_CONTENT_TYPE);
    }
    expect((await call('GET', `/subjects/${name}/versions`)).body).toEqual([1]);
  });

  it('refuses other content types (415) and malformed JSON (400) as registry errors', async () => {
    const name = subject();
    const form = await call('POST', `/subjects/${name}/versions`, {
      rawBody: 'schema=x',
      contentType: 'application/x-www-form-urlencoded',
    });
    expectError(form, 415);
    const malformed = await call('POST', `/subjects/${name}/versions`, { rawBody: '{"schema": ' });
    expectError(malformed, 400);
  });

  it('answers unknown routes with error_code 404, and a method a route does not serve with 405', async () => {
    expectError(await call('GET', '/no/such/route'), 404);
    const wrongMethod = await call('PUT', `/subjects/${subject()}/versions`);
    expectError(wrongMethod, 405);
    expect(wrongMethod.headers.allow).toBe('GET, HEAD, POST');
    expectError(await call('GET', '/subjects/%zz/versions'), 400); // not Fastify's own error shape
    expectError(await call('GET', '/schemas/types/'), 404); // a trailing slash: another path, no route
    // A subject as long as a Kafka topic's name (249) allows is a subject, not a 414.
    expectError(await call('GET', `/subjects/${'s'.repeat(249)}-value/versions`), 40401);
  });

  it('serves the root, and the supported schema types', async () => {
    expect((await call('GET', '/')).body).toEqual({});
    const types = await call('GET', '/schemas/types');
    expect(types.body).toEqual(['AVRO']);
    expect(types.contentType).toBe(REGISTRY_CONTENT_TYPE);
  });
});

describe('registering and reading', () => {
  it('gives one global id per canonical schema, in any subject, and no duplicate versions', async () => {
    const { record, v1, v2 } = ownSchemas();
    const first = subject();
    const second = subject();
    const id = await register(first, v1);
    expect(id).toBeGreaterThan(0);
    expect(await register(first, v1)).toBe(id);
    // Same schema, spelled differently: same canonical form.
    const respelled = `{ "fields": [ { "type": {"type": "long"}, "name": "id" } ], "type": "record", "name": "${record}" }`;
    expect(await register(first, respelled)).toBe(id);
    expect((await call('GET', `/subjects/${first}/versions`)).body).toEqual([1]);
    expect(await register(second, v1)).toBe(id);
    // normalize=true is accepted (schemas are always normalised).
    const normalized = await call('POST', `/subjects/${second}/versions?normalize=true`, {
      body: { schema: v1 },
    });
    expect(normalized.body).toEqual({ id });

    const other = await register(first, v2);
    expect(other).not.toBe(id);
    expect((await call('GET', `/subjects/${first}/versions`)).body).toEqual([1, 2]);

    expect((await call('GET', `/schemas/ids/${id}`)).body).toEqual({ schema: v1 });
    const raw = await call('GET', `/schemas/ids/${id}/schema`);
    expect(JSON.parse(raw.text)).toEqual(JSON.parse(v1));
    expect(raw.contentType).toBe(REGISTRY_CONTENT_TYPE);
    expect((await call('GET', `/schemas/ids/${id}/versions`)).body).toEqual(
      [
        { subject: first, version: 1 },
        { subject: second, version: 1 },
      ].sort((a, b) => (a.subject < b.subject ? -1 : 1)),
    );
    expect((await call('GET', `/schemas/ids/${id}/subjects`)).body).toEqual([first, second].sort());
  });

  it('reads versions by number, latest and -1, with the Confluent shape (no schemaType for AVRO)', async () => {
    const name = subject();
    const id1 = await register(name, v1);
    const id2 = await register(name, v2);
    const canonical2 = v2;
    expect((await call('GET', `/subjects/${name}/versions/1`)).body).toEqual({
      subject: name,
      version: 1,
      id: id1,
      schema: v1,
    });
    for (const ref of ['2', 'latest', '-1']) {
      const response = await call('GET', `/subjects/${name}/versions/${ref}`);
      expect(response.body, ref).toEqual({ subject: name, version: 2, id: id2, schema: canonical2 });
      expect(response.contentType).toBe(REGISTRY_CONTENT_TYPE);
    }
    const raw = await call('GET', `/subjects/${name}/versions/latest/schema`);
    expect(raw.text).toBe(canonical2);
    expect((await call('GET', `/subjects/${name}/versions/2/referencedby`)).body).toEqual([]);
    const subjects = (await call('GET', '/subjects')).body;
    expect(subjects).toContain(name);
    expect((await call('GET', `/subjects?subjectPrefix=${name}`)).body).toEqual([name]);
  });

  it('takes subject names verbatim after URL decoding (slashes, spaces, dots, unicode)', async () => {
    const name = `${subject()}/eu orders.v1:ü`;
    const path = encodeURIComponent(name);
    const id = await register(path, v1);
    expect((await call('GET', `/subjects?subjectPrefix=${path}`)).body).toEqual([name]);
    expect((await call('GET', `/subjects/${path}/versions/1`)).body).toMatchObject({ subject: name, id });
    expect((await call('DELETE', `/subjects/${path}`)).body).toEqual([1]);
  });

  it('refuses a NUL character, which PostgreSQL cannot store, with 422 and not a store failure', async () => {
    const name = `${subject()}%00x`;
    const requests: [HttpMethod, string, unknown?][] = [
      ['GET', '/subjects?subjectPrefix=%00'],
      ['GET', `/subjects/${name}/versions`],
      ['POST', `/subjects/${name}/versions`, { schema: v1 }],
      ['POST', `/subjects/${name}`, { schema: v1 }],
      ['DELETE', `/subjects/${name}`],
      ['PUT', `/config/${name}`, { compatibility: 'NONE' }],
      ['POST', `/compatibility/subjects/${name}/versions`, { schema: v1 }],
    ];
    for (const [method, url, body] of requests) {
      const response = await call(method, url, body === undefined ? {} : { body });
      expect(response.status, `${method} ${url}`).toBe(422);
      expect(errorBody.parse(response.body).message, `${method} ${url}`).toMatch(/NUL character/);
    }
  });

  it('looks a schema up in a subject (POST /subjects/{s})', async () => {
    const name = subject();
    const id = await register(name, v1);
    await register(name, v2);
    const found = await call('POST', `/subjects/${name}`, { body: { schema: v1 } });
    expect(found.body).toEqual({ subject: name, version: 1, id, schema: v1 });
    expectError(await call('POST', `/subjects/${name}`, { body: { schema: v3Breaking } }), 40403);
    expectError(await call('POST', `/subjects/${subject()}`, { body: { schema: v1 } }), 40401);
    expectError(await call('POST', `/subjects/${name}`, { body: { schema: '{"type":' } }), 42201);
  });

  it('answers 40401, 40402, 42202 and 40403 for what does not exist or cannot', async () => {
    const name = subject();
    await register(name, v1);
    const missing = subject();
    expectError(await call('GET', `/subjects/${missing}/versions`), 40401);
    expectError(await call('GET', `/subjects/${missing}/versions/1`), 40401);
    expectError(await call('GET', `/subjects/${missing}/versions/latest`), 40401);
    expectError(await call('GET', `/subjects/${name}/versions/99`), 40402);
    expectError(await call('GET', `/subjects/${name}/versions/99/schema`), 40402);
    for (const bad of ['0', 'abc', '-5', '2147483648']) {
      expectError(await call('GET', `/subjects/${name}/versions/${bad}`), 42202);
    }
    expectError(await call('GET', '/schemas/ids/2147483000'), 40403);
    expectError(await call('GET', '/schemas/ids/2147483000/versions'), 40403);
    expectError(await call('GET', '/schemas/ids/abc'), 40403);
  });

  it('refuses invalid schemas and other schema types with 42201, storing nothing', async () => {
    const name = subject();
    const cases: readonly unknown[] = [
      { schema: '{"type": "record", "name": "R"' },
      { schema: '{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":"x"}]}' },
      { schema: '"NoSuchType"' },
      { schema: '' },
      {},
      { schema: '{"type":"object"}', schemaType: 'JSON' },
      { schema: 'syntax = "proto3";', schemaType: 'PROTOBUF' },
      { schema: '"string"', references: [{ name: 'x', subject: 'y', version: 1 }] },
    ];
    for (const body of cases) {
      const response = await call('POST', `/subjects/${name}/versions`, { body });
      expectError(response, 42201);
    }
    const json = await call('POST', `/subjects/${name}/versions`, {
      body: { schema: '{}', schemaType: 'JSON' },
    });
    expect(errorBody.parse(json.body).message).toMatch(/JSON is not supported.*AVRO/);
    expectError(await call('GET', `/subjects/${name}/versions`), 40401);
  });

  it('refuses an incompatible schema with 409 and the reason, registering nothing', async () => {
    const name = subject();
    await register(name, v1);
    const response = await call('POST', `/subjects/${name}/versions`, { body: { schema: v3Breaking } });
    expectError(response, 409);
    const { message } = errorBody.parse(response.body);
    expect(message).toContain(`incompatible with an earlier schema for subject "${name}"`);
    expect(message).toContain('BACKWARD: the new schema cannot read data written with version 1');
    expect(message).toContain('no matching field for default-less User.country');
    expect((await call('GET', `/subjects/${name}/versions`)).body).toEqual([1]);
  });
});

describe('deleting', () => {
  it('soft-deletes a version, hides it, refuses twice, then deletes it permanently', async () => {
    const { v1, v2 } = ownSchemas();
    const name = subject();
    await register(name, v1);
    const id2 = await register(name, v2);
    expectError(await call('DELETE', `/subjects/${name}/versions/2?permanent=true`), 40407);
    const soft = await call('DELETE', `/subjects/${name}/versions/2`);
    expect(soft.status).toBe(200);
    expect(soft.body).toBe(2);
    expect((await call('GET', `/subjects/${name}/versions`)).body).toEqual([1]);
    expect((await call('GET', `/subjects/${name}/versions?deleted=true`)).body).toEqual([1, 2]);
    expectError(await call('GET', `/subjects/${name}/versions/2`), 40402);
    expect((await call('GET', `/subjects/${name}/versions/2?deleted=true`)).body).toMatchObject({ id: id2 });
    expect((await call('GET', `/subjects/${name}/versions/latest`)).body).toMatchObject({ version: 1 });
    expect((await call('GET', `/schemas/ids/${id2}/versions`)).body).toEqual([]);
    expect((await call('GET', `/schemas/ids/${id2}/versions?deleted=true`)).body).toEqual([
      { subject: name, version: 2 },
    ]);
    // An id stays readable for old messages whatever happens to its versions.
    expect((await call('GET', `/schemas/ids/${id2}`)).status).toBe(200);
    expectError(await call('DELETE', `/subjects/${name}/versions/2`), 40406);
    expectError(await call('DELETE', `/subjects/${name}/versions/9`), 40402);
    expectError(await call('DELETE', `/subjects/${name}/versions/zero`), 42202);
    expect((await call('DELETE', `/subjects/${name}/versions/2?permanent=true`)).body).toBe(2);
    expect((await call('GET', `/subjects/${name}/versions?deleted=true`)).body).toEqual([1]);
    expect((await call('DELETE', `/subjects/${name}/versions/latest`)).body).toBe(1);
    expectError(await call('DELETE', `/subjects/${subject()}/versions/1`), 40401);
  });

  it('soft-deletes a subject, then permanently; re-registering revives the id in a new version', async () => {
    const name = subject();
    const id1 = await register(name, v1);
    await register(name, v2);
    expectError(await call('DELETE', `/subjects/${name}?permanent=true`), 40405);
    expect((await call('DELETE', `/subjects/${name}`)).body).toEqual([1, 2]);
    expect((await call('GET', '/subjects')).body).not.toContain(name);
    expect((await call('GET', '/subjects?deleted=true')).body).toContain(name);
    expectError(await call('GET', `/subjects/${name}/versions`), 40401);
    expectError(await call('GET', `/subjects/${name}/versions/latest`), 40401);
    expectError(await call('POST', `/subjects/${name}`, { body: { schema: v1 } }), 40401);
    const lookedUp = await call('POST', `/subjects/${name}?deleted=true`, { body: { schema: v1 } });
    expect(lookedUp.body).toMatchObject({ id: id1, version: 1 });
    expectError(await call('DELETE', `/subjects/${name}`), 40404);

    // Registering a soft-deleted schema again: the same id, in a new version, visible again.
    expect(await register(name, v1)).toBe(id1);
    expect((await call('GET', `/subjects/${name}/versions`)).body).toEqual([3]);
    expect((await call('GET', `/subjects/${name}/versions?deleted=true`)).body).toEqual([1, 2, 3]);

    expect((await call('DELETE', `/subjects/${name}`)).body).toEqual([3]);
    expect((await call('DELETE', `/subjects/${name}?permanent=true`)).body).toEqual([1, 2, 3]);
    expect((await call('GET', '/subjects?deleted=true')).body).not.toContain(name);
    expectError(await call('DELETE', `/subjects/${name}`), 40401);
    expectError(await call('DELETE', `/subjects/${name}?permanent=true`), 40401);
    // The id survives: registering again after a permanent delete starts at version 1 with it.
    expect(await register(name, v1)).toBe(id1);
    expect((await call('GET', `/subjects/${name}/versions`)).body).toEqual([1]);
  });
});

describe('compatibility levels', () => {
  it('global: BACKWARD by default, changed with PUT /config, 42203 for a bad level', async () => {
    expect((await call('GET', '/config')).body).toEqual({ compatibilityLevel: 'BACKWARD' });
    const name = subject();
    await register(name, v1);
    try {
      const put = await call('PUT', '/config', { body: { compatibility: 'FORWARD' } });
      expect(put.body).toEqual({ compatibility: 'FORWARD' });
      expect(put.contentType).toBe(REGISTRY_CONTENT_TYPE);
      expect((await call('GET', '/config')).body).toEqual({ compatibilityLevel: 'FORWARD' });
      // FORWARD: v1 can read data with an extra field, so the "breaking" schema is fine now.
      expect(await register(name, v3Breaking)).toBeGreaterThan(0);
      expectError(await call('PUT', '/config', { body: { compatibility: 'SIDEWAYS' } }), 42203);
      expectError(await call('PUT', '/config', { body: {} }), 42203);
    } finally {
      await call('PUT', '/config', { body: { compatibility: 'BACKWARD' } });
    }
    expect((await call('GET', '/config')).body).toEqual({ compatibilityLevel: 'BACKWARD' });
  });

  it('per subject: 40408 until set, defaultToGlobal, overrides the global level, DELETE reverts', async () => {
    const name = subject();
    expectError(await call('GET', `/config/${name}`), 40408);
    expect((await call('GET', `/config/${name}?defaultToGlobal=true`)).body).toEqual({
      compatibilityLevel: 'BACKWARD',
    });
    expect((await call('PUT', `/config/${name}`, { body: { compatibility: 'none' } })).body).toEqual({
      compatibility: 'NONE',
    });
    expect((await call('GET', `/config/${name}`)).body).toEqual({ compatibilityLevel: 'NONE' });
    await register(name, v1);
    expect(await register(name, v3Breaking)).toBeGreaterThan(0);
    expectError(await call('PUT', `/config/${name}`, { body: { compatibility: 'MOSTLY' } }), 42203);

    expect((await call('DELETE', `/config/${name}`)).body).toEqual({ compatibilityLevel: 'NONE' });
    expectError(await call('GET', `/config/${name}`), 40408);
    expectError(await call('DELETE', `/config/${name}`), 40408);
    // Back on the global BACKWARD, against the latest (v3Breaking): v2 reads its data (`email` has
    // a default, `country` is skipped), a schema with `id` as a string does not.
    expect(await register(name, v2)).toBeGreaterThan(0);
    const breaking = recordSchema('User', [['id', 'string']]);
    expectError(await call('POST', `/subjects/${name}/versions`, { body: { schema: breaking } }), 409);
  });

  it('transitive levels check every live version when registering', async () => {
    const name = subject();
    await call('PUT', `/config/${name}`, { body: { compatibility: 'BACKWARD_TRANSITIVE' } });
    const a = recordSchema('R', [['a', 'int']]);
    const ab = recordSchema('R', [
      ['a', 'int'],
      ['b', 'string', 'x'],
    ]);
    const abRequired = recordSchema('R', [
      ['a', 'int'],
      ['b', 'string'],
    ]);
    await register(name, a);
    await register(name, ab);
    const refused = await call('POST', `/subjects/${name}/versions`, { body: { schema: abRequired } });
    expectError(refused, 409);
    expect(errorBody.parse(refused.body).message).toContain('version 1');
    // Once version 1 is soft-deleted it no longer counts.
    await call('DELETE', `/subjects/${name}/versions/1`);
    expect(await register(name, abRequired)).toBeGreaterThan(0);
  });
});

describe('compatibility checks (POST /compatibility/...)', () => {
  const a = recordSchema('R', [['a', 'int']]);
  const ab = recordSchema('R', [
    ['a', 'int'],
    ['b', 'string', 'x'],
  ]);
  const abRequired = recordSchema('R', [
    ['a', 'int'],
    ['b', 'string'],
  ]);

  it('checks against one version, latest, or (no version) what registering would check', async () => {
    const name = subject();
    await call('PUT', `/config/${name}`, { body: { compatibility: 'BACKWARD_TRANSITIVE' } });
    await register(name, a);
    await register(name, ab);
    const check = async (path: string, schema: string): Promise<RegistryResponse> =>
      call('POST', `/compatibility/subjects/${name}/${path}`, { body: { schema } });
    expect((await check('versions/1', abRequired)).body).toEqual({ is_compatible: false });
    expect((await check('versions/2', abRequired)).body).toEqual({ is_compatible: true });
    // Confluent: "latest" checks against the last registered schema only.
    expect((await check('versions/latest', abRequired)).body).toEqual({ is_compatible: true });
    // Without a version: every version the (transitive) level requires, as registering does.
    expect((await check('versions', abRequired)).body).toEqual({ is_compatible: false });
    expect((await check('versions', ab)).body).toEqual({ is_compatible: true });

    const verbose = await call('POST', `/compatibility/subjects/${name}/versions?verbose=true`, {
      body: { schema: abRequired },
    });
    expect(verbose.body).toEqual({
      is_compatible: false,
      messages: [
        'BACKWARD_TRANSITIVE: the new schema cannot read data written with version 1: ' +
          'no matching field for default-less R.b',
      ],
    });
    const fine = await call('POST', `/compatibility/subjects/${name}/versions/2?verbose=true`, {
      body: { schema: abRequired },
    });
    expect(fine.body).toEqual({ is_compatible: true, messages: [] });
  });

  it('an unknown subject is compatible with "latest"; 40401, 40402, 42202 and 42201 otherwise', async () => {
    const name = subject();
    const missing = subject();
    const body = { schema: a };
    expect((await call('POST', `/compatibility/subjects/${missing}/versions/latest`, { body })).body).toEqual(
      {
        is_compatible: true,
      },
    );
    expect((await call('POST', `/compatibility/subjects/${missing}/versions`, { body })).body).toEqual({
      is_compatible: true,
    });
    expectError(await call('POST', `/compatibility/subjects/${missing}/versions/1`, { body }), 40401);
    await register(name, a);
    expectError(await call('POST', `/compatibility/subjects/${name}/versions/7`, { body }), 40402);
    expectError(await call('POST', `/compatibility/subjects/${name}/versions/first`, { body }), 42202);
    const invalid = { schema: '{"type":"record"}' };
    expectError(await call('POST', `/compatibility/subjects/${name}/versions/1`, { body: invalid }), 42201);
    const verbose = await call('POST', `/compatibility/subjects/${name}/versions/1?verbose=true`, {
      body: invalid,
    });
    expect(verbose.body).toEqual({
      is_compatible: false,
      messages: [expect.stringMatching(/^Invalid schema/)],
    });
  });

  it('ignores soft-deleted versions and follows the subject level', async () => {
    const name = subject();
    await register(name, a);
    await call('DELETE', `/subjects/${name}/versions/1`);
    const body = { schema: recordSchema('R', [['a', 'string']]) };
    expect((await call('POST', `/compatibility/subjects/${name}/versions/latest`, { body })).body).toEqual({
      is_compatible: true,
    });
    expectError(await call('POST', `/compatibility/subjects/${name}/versions/1`, { body }), 40401);
    await register(name, a);
    expect((await call('POST', `/compatibility/subjects/${name}/versions/latest`, { body })).body).toEqual({
      is_compatible: false,
    });
    await call('PUT', `/config/${name}`, { body: { compatibility: 'NONE' } });
    expect((await call('POST', `/compatibility/subjects/${name}/versions/latest`, { body })).body).toEqual({
      is_compatible: true,
    });
  });
});

describe('the admin token', () => {
  const token = 'test-admin-token-0123456789abcdef';
  let guarded: FastifyInstance;
  let guardedCall: RegistryCall;

  beforeAll(async () => {
    guarded = await createRegistryApp({ pool: db().pool, logger, adminToken: token });
    guardedCall = injectCaller(guarded);
  });

  afterAll(async () => {
    await guarded.close();
  });

  it('is required for every write: register, deletes, config changes (401, error 40101)', async () => {
    const name = subject();
    await register(name, v1); // through the unguarded app, on the same database
    const writes: readonly [Parameters<RegistryCall>[0], string, unknown?][] = [
      ['POST', `/subjects/${name}/versions`, { schema: v2 }],
      ['DELETE', `/subjects/${name}/versions/1`],
      ['DELETE', `/subjects/${name}`],
      ['PUT', '/config', { compatibility: 'NONE' }],
      ['PUT', `/config/${name}`, { compatibility: 'NONE' }],
      ['DELETE', `/config/${name}`],
    ];
    for (const [method, url, body] of writes) {
      for (const given of [undefined, 'wrong-token', `${token}x`]) {
        const response = await guardedCall(method, url, {
          ...(body === undefined ? {} : { body }),
          ...(given === undefined ? {} : { token: given }),
        });
        expectError(response, 40101);
        expect(response.headers['www-authenticate']).toMatch(/^Bearer/);
      }
    }
    // Refused before the body is even read.
    expectError(await guardedCall('POST', `/subjects/${name}/versions`, { rawBody: '{oops' }), 40101);
    expect((await call('GET', `/subjects/${name}/versions`)).body).toEqual([1]);
    expect((await call('GET', `/config/${name}`)).status).toBe(404);
  });

  it('lets writes with the token through, and reads and compatibility checks without it', async () => {
    const name = subject();
    const registered = await guardedCall('POST', `/subjects/${name}/versions`, {
      body: { schema: v1 },
      token,
    });
    expect(registered.status).toBe(200);
    const { id } = idBody.parse(registered.body);
    expect(
      (await guardedCall('PUT', `/config/${name}`, { body: { compatibility: 'FULL' }, token })).status,
    ).toBe(200);
    expect((await guardedCall('GET', `/subjects/${name}/versions/latest`)).body).toMatchObject({ id });
    expect((await guardedCall('GET', `/schemas/ids/${id}`)).status).toBe(200);
    expect((await guardedCall('GET', `/config/${name}`)).body).toEqual({ compatibilityLevel: 'FULL' });
    expect((await guardedCall('POST', `/subjects/${name}`, { body: { schema: v1 } })).status).toBe(200);
    const check = await guardedCall('POST', `/compatibility/subjects/${name}/versions/latest`, {
      body: { schema: v2 },
    });
    expect(check.body).toEqual({ is_compatible: true });
    expect((await guardedCall('DELETE', `/subjects/${name}`, { token })).body).toEqual([1]);
  });
});
