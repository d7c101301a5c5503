/**
 * The canonical form decides schema identity: formatting and spelling of names do not make a new
 * schema, anything that changes meaning (or documentation, as in Confluent) does.
 */
import { describe, expect, it } from 'vitest';
import { isRegistryError, parseAvroSchema } from '../../ingest/registry/index.js';

function canonical(schema: unknown): string {
  return parseAvroSchema(typeof schema === 'string' ? schema : JSON.stringify(schema)).canonical;
}

function fingerprint(schema: unknown): string {
  return parseAvroSchema(JSON.stringify(schema)).fingerprint.toString('hex');
}

const user = {
  type: 'record',
  name: 'User',
  namespace: 'com.example',
  fields: [
    { name: 'id', type: 'long' },
    { name: 'email', type: ['null', 'string'], default: null },
  ],
};

describe('the canonical form', () => {
  it('is compact JSON with fully qualified names and a fixed key order', () => {
    expect(canonical(user)).toBe(
      '{"name":"com.example.User","type":"record","fields":[{"name":"id","type":"long"},' +
        '{"name":"email","type":["null","string"],"default":null}]}',
    );
  });

  it('ignores whitespace, key order, namespace spelling and primitive wrappers', () => {
    const respelled = `{
      "fields": [
        {"type": {"type": "long"}, "name": "id"},
        {"default": null, "type": ["null", {"type": "string"}], "name": "email"}
      ],
      "name": "com.example.User", "type": "record"
    }`;
    expect(canonical(respelled)).toBe(canonical(user));
    expect(fingerprint(JSON.parse(respelled))).toBe(fingerprint(user));
  });

  it('qualifies references and aliases with the enclosing namespace', () => {
    const schema = {
      type: 'record',
      name: 'Order',
      namespace: 'shop',
      aliases: ['Purchase'],
      fields: [
        { name: 'status', type: { type: 'enum', name: 'Status', symbols: ['NEW', 'PAID'] } },
        { name: 'previous', type: 'Status' },
        { name: 'local', type: { type: 'fixed', name: 'Raw', namespace: '', size: 2 } },
      ],
    };
    expect(canonical(schema)).toBe(
      '{"name":"shop.Order","type":"record","fields":[' +
        '{"name":"status","type":{"name":"shop.Status","type":"enum","symbols":["NEW","PAID"]}},' +
        '{"name":"previous","type":"shop.Status"},' +
        '{"name":"local","type":{"name":"Raw","namespace":"","type":"fixed","size":2}}],' +
        '"aliases":["shop.Purchase"]}',
    );
  });

  it('keeps what changes meaning or documentation: default, logicalType, aliases, doc, custom attributes', () => {
    const base = fingerprint(user);
    const variants = [
      { ...user, fields: [{ name: 'id', type: 'long', default: 0 }, user.fields[1]] },
      {
        ...user,
        fields: [{ name: 'id', type: { type: 'long', logicalType: 'timestamp-millis' } }, user.fields[1]],
      },
      { ...user, aliases: ['Person'] },
      { ...user, fields: [{ name: 'id', type: 'long', aliases: ['key'] }, user.fields[1]] },
      { ...user, doc: 'A customer account' },
      { ...user, 'connect.name': 'com.example.User' },
      { ...user, fields: [{ name: 'id', type: 'long', order: 'descending' }, user.fields[1]] },
    ];
    const prints = variants.map(fingerprint);
    for (const print of prints) expect(print).not.toBe(base);
    expect(new Set(prints).size).toBe(prints.length);
    expect(canonical({ type: 'bytes', logicalType: 'decimal', precision: 9, scale: 2 })).toBe(
      '{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}',
    );
  });

  it('sorts the keys of default values, which does not change them', () => {
    const withDefault = (value: unknown): unknown => ({
      type: 'record',
      name: 'R',
      fields: [{ name: 'm', type: { type: 'map', values: 'int' }, default: value }],
    });
    expect(fingerprint(withDefault({ b: 1, a: 2 }))).toBe(fingerprint(withDefault({ a: 2, b: 1 })));
  });
});

describe('invalid schemas', () => {
  const cases: readonly [string, string, RegExp][] = [
    ['not JSON', '{"type": "record"', /Invalid schema: not JSON/],
    ['an unknown type', '"Nope"', /Invalid schema: .*Nope/],
    ['a record without fields', '{"type":"record","name":"R"}', /Invalid schema/],
    [
      'a default of the wrong type',
      '{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":"x"}]}',
      /incompatible field default/,
    ],
    [
      'a union default that is not of the first branch',
      '{"type":"record","name":"R","fields":[{"name":"a","type":["null","int"],"default":1}]}',
      /union defaults must match the first branch/,
    ],
    ['a bad name', '{"type":"enum","name":"1bad","symbols":["A"]}', /Invalid schema/],
    // Not "Maximum call stack size exceeded" from the recursion that parses it.
    [
      'a schema 1,700 records deep',
      nestedRecords(1_700),
      /Invalid schema: it nests deeper than 256 JSON levels/,
    ],
  ];
  for (const [what, text, message] of cases) {
    it(`${what} is error 42201`, () => {
      let caught: unknown;
      try {
        parseAvroSchema(text);
      } catch (error) {
        caught = error;
      }
      expect(isRegistryError(caught) && caught.errorCode).toBe(42201);
      expect(isRegistryError(caught) && caught.httpStatus).toBe(422);
      expect(caught instanceof Error ? caught.message : '').toMatch(message);
    });
  }
});

/** Records nested `depth` deep: three JSON levels each (the record, its fields, the field). */
function nestedRecords(depth: number): string {
  let type = '"int"';
  for (let i = depth; i > 0; i -= 1)
    type = `{"type":"record","name":"R${i}","fields":[{"name":"f","type":${type}}]}`;
  return type;
}

describe('deep schemas', () => {
  it('up to the depth limit parse (80 nested records, 240 levels)', () => {
    expect(() => parseAvroSchema(nestedRecords(80))).not.toThrow();
  });
});
