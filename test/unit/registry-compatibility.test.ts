/**
 * The compatibility matrix: each schema change under each level, expected results written out.
 * BACKWARD = the new schema reads the old data; FORWARD = the old schema reads the new data.
 */
import { describe, expect, it } from 'vitest';
import {
  checkCompatibility,
  COMPATIBILITY_LEVELS,
  parseAvroSchema,
  parseCompatibilityLevel,
  type CompatibilityLevel,
  type PreviousSchema,
} from '../../ingest/registry/index.js';

type Field = Record<string, unknown>;

function record(fields: readonly Field[], name = 'User', extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ type: 'record', name, namespace: 'com.example', ...extra, fields });
}

const a = { name: 'a', type: 'int' };
const bDefault = { name: 'b', type: 'string', default: 'x' };
const bRequired = { name: 'b', type: 'string' };
const color = (symbols: string[], extra: Record<string, unknown> = {}): Field => ({
  name: 'color',
  type: { type: 'enum', name: 'Color', symbols, ...extra },
});

function history(...schemas: string[]): PreviousSchema[] {
  return schemas.map((schema, index) => ({ version: index + 1, type: parseAvroSchema(schema).type }));
}

function compatible(previous: readonly string[], candidate: string, level: CompatibilityLevel): boolean {
  return checkCompatibility(parseAvroSchema(candidate).type, history(...previous), level).length === 0;
}

interface Row {
  readonly change: string;
  readonly old: string;
  readonly new: string;
  readonly NONE: boolean;
  readonly BACKWARD: boolean;
  readonly FORWARD: boolean;
  readonly FULL: boolean;
}

// prettier-ignore
const MATRIX: readonly Row[] = [
  { change: 'field added with a default', old: record([a]), new: record([a, bDefault]),
    NONE: true, BACKWARD: true, FORWARD: true, FULL: true },
  { change: 'field added without a default', old: record([a]), new: record([a, bRequired]),
    NONE: true, BACKWARD: false, FORWARD: true, FULL: false },
  { change: 'field removed (it had a default)', old: record([a, bDefault]), new: record([a]),
    NONE: true, BACKWARD: true, FORWARD: true, FULL: true },
  { change: 'field removed (it had no default)', old: record([a, bRequired]), new: record([a]),
    NONE: true, BACKWARD: true, FORWARD: false, FULL: false },
  { change: 'int promoted to long', old: record([a]), new: record([{ name: 'a', type: 'long' }]),
    NONE: true, BACKWARD: true, FORWARD: false, FULL: false },
  { change: 'long narrowed to int', old: record([{ name: 'a', type: 'long' }]), new: record([a]),
    NONE: true, BACKWARD: false, FORWARD: true, FULL: false },
  { change: 'field type changed int → string', old: record([a]), new: record([{ name: 'a', type: 'string' }]),
    NONE: true, BACKWARD: false, FORWARD: false, FULL: false },
  { change: 'enum symbol added', old: record([color(['RED', 'GREEN'])]), new: record([color(['RED', 'GREEN', 'BLUE'])]),
    NONE: true, BACKWARD: true, FORWARD: false, FULL: false },
  { change: 'enum symbol added, old enum has a default', old: record([color(['RED', 'GREEN'], { default: 'RED' })]),
    new: record([color(['RED', 'GREEN', 'BLUE'], { default: 'RED' })]),
    NONE: true, BACKWARD: true, FORWARD: true, FULL: true },
  { change: 'enum symbol removed', old: record([color(['RED', 'GREEN', 'BLUE'])]), new: record([color(['RED', 'GREEN'])]),
    NONE: true, BACKWARD: false, FORWARD: true, FULL: false },
  { change: 'record renamed without alias', old: record([a], 'User'), new: record([a], 'Person'),
    NONE: true, BACKWARD: false, FORWARD: false, FULL: false },
  { change: 'record renamed with an alias to the old name', old: record([a], 'User'),
    new: record([a], 'Person', { aliases: ['User'] }),
    NONE: true, BACKWARD: true, FORWARD: false, FULL: false },
  { change: 'record moved to another namespace', old: record([a]), new: record([a], 'User', { namespace: 'org.other' }),
    NONE: true, BACKWARD: true, FORWARD: true, FULL: true },
  { change: 'union widened ["null","string"] → ["null","string","long"]',
    old: record([{ name: 'v', type: ['null', 'string'], default: null }]),
    new: record([{ name: 'v', type: ['null', 'string', 'long'], default: null }]),
    NONE: true, BACKWARD: true, FORWARD: false, FULL: false },
  { change: 'union narrowed ["null","string","long"] → ["null","string"]',
    old: record([{ name: 'v', type: ['null', 'string', 'long'], default: null }]),
    new: record([{ name: 'v', type: ['null', 'string'], default: null }]),
    NONE: true, BACKWARD: false, FORWARD: true, FULL: false },
  { change: 'field renamed with a field alias and a default', old: record([a]),
    new: record([{ name: 'alpha', type: 'int', aliases: ['a'], default: 0 }]),
    NONE: true, BACKWARD: true, FORWARD: false, FULL: false },
];

const BASE_LEVELS = ['NONE', 'BACKWARD', 'FORWARD', 'FULL'] as const;

describe('compatibility of one change against one previous version', () => {
  for (const row of MATRIX) {
    for (const level of BASE_LEVELS) {
      it(`${row.change} under ${level} → ${row[level] ? 'compatible' : 'incompatible'}`, () => {
        expect(compatible([row.old], row.new, level)).toBe(row[level]);
      });
    }
    it(`${row.change}: a *_TRANSITIVE level equals its base level with one previous version`, () => {
      expect(compatible([row.old], row.new, 'BACKWARD_TRANSITIVE')).toBe(row.BACKWARD);
      expect(compatible([row.old], row.new, 'FORWARD_TRANSITIVE')).toBe(row.FORWARD);
      expect(compatible([row.old], row.new, 'FULL_TRANSITIVE')).toBe(row.FULL);
    });
  }
});

interface TransitiveRow {
  readonly history: string;
  readonly versions: readonly string[];
  readonly candidate: string;
  readonly expected: Readonly<Record<CompatibilityLevel, boolean>>;
}

// prettier-ignore
const TRANSITIVE: readonly TransitiveRow[] = [
  {
    // v3 reads v2 (b is in v2's data) but not v1 (b is missing and v3 has no default for it).
    history: 'v1 {a}, v2 {a, b with default}, new {a, b without default}',
    versions: [record([a]), record([a, bDefault])], candidate: record([a, bRequired]),
    expected: { NONE: true, BACKWARD: true, BACKWARD_TRANSITIVE: false, FORWARD: true,
      FORWARD_TRANSITIVE: true, FULL: true, FULL_TRANSITIVE: false },
  },
  {
    // v2 reads v3's data (default for b) but v1 cannot (b has no default there).
    history: 'v1 {a, b without default}, v2 {a, b with default}, new {a}',
    versions: [record([a, bRequired]), record([a, bDefault])], candidate: record([a]),
    expected: { NONE: true, BACKWARD: true, BACKWARD_TRANSITIVE: true, FORWARD: true,
      FORWARD_TRANSITIVE: false, FULL: true, FULL_TRANSITIVE: false },
  },
  {
    // The latest is incompatible, an earlier one is not: non-transitive levels look at the latest.
    history: 'v1 {a}, v2 {a, b without default}, new {a}',
    versions: [record([a]), record([a, bRequired])], candidate: record([a]),
    expected: { NONE: true, BACKWARD: true, BACKWARD_TRANSITIVE: true, FORWARD: false,
      FORWARD_TRANSITIVE: false, FULL: false, FULL_TRANSITIVE: false },
  },
];

describe('transitive levels check every earlier version, the others the latest only', () => {
  for (const row of TRANSITIVE) {
    for (const level of COMPATIBILITY_LEVELS) {
      it(`${row.history} under ${level} → ${row.expected[level] ? 'compatible' : 'incompatible'}`, () => {
        expect(compatible(row.versions, row.candidate, level)).toBe(row.expected[level]);
      });
    }
  }
});

describe('reasons', () => {
  it('name the level, the version, the direction and what avsc could not resolve', () => {
    const row = TRANSITIVE[0];
    if (row === undefined) throw new Error('missing row');
    const reasons = checkCompatibility(
      parseAvroSchema(row.candidate).type,
      history(...row.versions),
      'FULL_TRANSITIVE',
    );
    expect(reasons).toEqual([
      'FULL_TRANSITIVE: the new schema cannot read data written with version 1: ' +
        'no matching field for default-less com.example.User.b',
    ]);
  });

  it('report both directions when both fail', () => {
    const reasons = checkCompatibility(
      parseAvroSchema(record([{ name: 'a', type: 'string' }])).type,
      history(record([a])),
      'FULL',
    );
    expect(reasons).toHaveLength(2);
    expect(reasons[0]).toMatch(/^FULL: the new schema cannot read data written with version 1: /);
    expect(reasons[1]).toMatch(/^FULL: version 1 cannot read data written with the new schema: /);
  });

  it('an empty history is compatible under every level', () => {
    for (const level of COMPATIBILITY_LEVELS) {
      expect(checkCompatibility(parseAvroSchema(record([a])).type, [], level)).toEqual([]);
    }
  });
});

describe('parseCompatibilityLevel', () => {
  it('accepts every level in any case and nothing else', () => {
    expect(parseCompatibilityLevel('full_transitive')).toBe('FULL_TRANSITIVE');
    expect(parseCompatibilityLevel(' Backward ')).toBe('BACKWARD');
    expect(parseCompatibilityLevel('SIDEWAYS')).toBeUndefined();
    expect(parseCompatibilityLevel(42)).toBeUndefined();
    expect(parseCompatibilityLevel(undefined)).toBeUndefined();
  });
});
