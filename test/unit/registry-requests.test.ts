/** Decoding of request parts: versions, ids, flags and bodies, with Confluent's error codes. */
import { describe, expect, it } from 'vitest';
import { RegistryError } from '../../ingest/registry/index.js';
import { LruCache } from '../../ingest/registry/lru-cache.js';
import {
  decodeConfigRequest,
  decodeSchemaRequest,
  flag,
  parseSchemaId,
  parseVersion,
} from '../../ingest/registry/requests.js';

function errorCodeOf(run: () => unknown): number | undefined {
  try {
    run();
  } catch (error) {
    return error instanceof RegistryError ? error.errorCode : -1;
  }
  return undefined;
}

describe('parseVersion', () => {
  it('accepts latest, -1 and 1…2^31-1', () => {
    expect(parseVersion('latest')).toBe('latest');
    expect(parseVersion('LATEST')).toBe('latest');
    expect(parseVersion('-1')).toBe('latest');
    expect(parseVersion('1')).toBe(1);
    expect(parseVersion('2147483647')).toBe(2147483647);
  });

  it('refuses anything else with 42202', () => {
    for (const bad of ['0', '-2', '2147483648', 'abc', '1.5', '', '1e3']) {
      expect(
        errorCodeOf(() => parseVersion(bad)),
        bad,
      ).toBe(42202);
    }
  });
});

describe('parseSchemaId', () => {
  it('accepts positive ids and answers 40403 for what cannot be one', () => {
    expect(parseSchemaId('7')).toBe(7);
    for (const bad of ['0', 'x', '-3', '99999999999']) {
      expect(
        errorCodeOf(() => parseSchemaId(bad)),
        bad,
      ).toBe(40403);
    }
  });
});

describe('flag', () => {
  it('is true only for "true", in any case', () => {
    expect(flag({ deleted: 'true' }, 'deleted')).toBe(true);
    expect(flag({ deleted: 'TRUE' }, 'deleted')).toBe(true);
    expect(flag({ deleted: '1' }, 'deleted')).toBe(false);
    expect(flag({}, 'deleted')).toBe(false);
    expect(flag(undefined, 'deleted')).toBe(false);
  });
});

describe('decodeSchemaRequest', () => {
  it('parses an AVRO schema, with or without schemaType', () => {
    expect(decodeSchemaRequest({ schema: '"string"' }).canonical).toBe('"string"');
    expect(decodeSchemaRequest({ schema: '"int"', schemaType: 'AVRO' }).canonical).toBe('"int"');
  });

  it('refuses other types, references, an empty schema and a bad body', () => {
    expect(errorCodeOf(() => decodeSchemaRequest({ schema: '{}', schemaType: 'JSON' }))).toBe(42201);
    expect(errorCodeOf(() => decodeSchemaRequest({ schema: '{}', schemaType: 'PROTOBUF' }))).toBe(42201);
    const ref = { name: 'x', subject: 's', version: 1 };
    expect(errorCodeOf(() => decodeSchemaRequest({ schema: '"int"', references: [ref] }))).toBe(42201);
    expect(errorCodeOf(() => decodeSchemaRequest({}))).toBe(42201);
    expect(errorCodeOf(() => decodeSchemaRequest({ schema: 42 }))).toBe(422);
    expect(errorCodeOf(() => decodeSchemaRequest('a string'))).toBe(422);
  });
});

describe('decodeConfigRequest', () => {
  it('reads compatibility (or compatibilityLevel) in any case; 42203 otherwise', () => {
    expect(decodeConfigRequest({ compatibility: 'full' })).toBe('FULL');
    expect(decodeConfigRequest({ compatibilityLevel: 'NONE' })).toBe('NONE');
    expect(errorCodeOf(() => decodeConfigRequest({ compatibility: 'SIDEWAYS' }))).toBe(42203);
    expect(errorCodeOf(() => decodeConfigRequest({}))).toBe(42203);
    expect(errorCodeOf(() => decodeConfigRequest(null))).toBe(42203);
  });
});

describe('LruCache', () => {
  it('forgets the least recently used entry beyond its capacity', () => {
    const cache = new LruCache<number, string>(2);
    cache.set(1, 'one');
    cache.set(2, 'two');
    expect(cache.get(1)).toBe('one'); // 1 is now the most recently used
    cache.set(3, 'three');
    expect(cache.get(2)).toBeUndefined();
    expect(cache.get(1)).toBe('one');
    expect(cache.get(3)).toBe('three');
    expect(cache.size).toBe(2);
  });
});
