/**
 * Compatibility levels and the check, in terms of Avro schema resolution (avsc's
 * `reader.createResolver(writer)` throws when the writer's data cannot be read):
 *
 * - BACKWARD: the new schema (reader) reads data written with the previous one (writer);
 * - FORWARD: the previous schema reads data written with the new one;
 * - FULL: both;
 * - *_TRANSITIVE: against every earlier (non-deleted) version, the others against the latest only;
 * - NONE: no check.
 *
 * Named types match on their unqualified name or an alias, as the Avro specification says (and Avro
 * Java's SchemaCompatibility does), so moving a record to another namespace is compatible.
 */
import type { AvroType } from './canonical.js';

export const COMPATIBILITY_LEVELS = [
  'NONE',
  'BACKWARD',
  'BACKWARD_TRANSITIVE',
  'FORWARD',
  'FORWARD_TRANSITIVE',
  'FULL',
  'FULL_TRANSITIVE',
] as const;

export type CompatibilityLevel = (typeof COMPATIBILITY_LEVELS)[number];

export const DEFAULT_COMPATIBILITY: CompatibilityLevel = 'BACKWARD';

/** `backward` → BACKWARD; undefined when the value is not a level. */
export function parseCompatibilityLevel(value: unknown): CompatibilityLevel | undefined {
  if (typeof value !== 'string') return undefined;
  const upper = value.trim().toUpperCase();
  return COMPATIBILITY_LEVELS.find((level) => level === upper);
}

interface Rule {
  /** The new schema must read the old ones' data. */
  readonly backward: boolean;
  /** The old schemas must read the new one's data. */
  readonly forward: boolean;
  /** Against every earlier version instead of the latest. */
  readonly transitive: boolean;
}

export function ruleOf(level: CompatibilityLevel): Rule {
  switch (level) {
    case 'NONE':
      return { backward: false, forward: false, transitive: false };
    case 'BACKWARD':
      return { backward: true, forward: false, transitive: false };
    case 'BACKWARD_TRANSITIVE':
      return { backward: true, forward: false, transitive: true };
    case 'FORWARD':
      return { backward: false, forward: true, transitive: false };
    case 'FORWARD_TRANSITIVE':
      return { backward: false, forward: true, transitive: true };
    case 'FULL':
      return { backward: true, forward: true, transitive: false };
    case 'FULL_TRANSITIVE':
      return { backward: true, forward: true, transitive: true };
  }
}

export interface PreviousSchema {
  readonly version: number;
  readonly type: AvroType;
}

/**
 * Checks `candidate` against `previous` (oldest first) under `level`. Returns the reasons it is
 * incompatible, each naming the version and the direction; an empty list means compatible.
 */
export function checkCompatibility(
  candidate: AvroType,
  previous: readonly PreviousSchema[],
  level: CompatibilityLevel,
): string[] {
  const rule = ruleOf(level);
  if (!rule.backward && !rule.forward) return [];
  const latest = previous.at(-1);
  const against = rule.transitive ? previous : latest === undefined ? [] : [latest];
  const reasons: string[] = [];
  for (const old of against) {
    if (rule.backward) {
      const problem = readProblem(candidate, old.type);
      if (problem !== undefined) {
        reasons.push(
          `${level}: the new schema cannot read data written with version ${old.version}: ${problem}`,
        );
      }
    }
    if (rule.forward) {
      const problem = readProblem(old.type, candidate);
      if (problem !== undefined) {
        reasons.push(
          `${level}: version ${old.version} cannot read data written with the new schema: ${problem}`,
        );
      }
    }
  }
  return reasons;
}

/** Why `reader` cannot read what `writer` wrote, or undefined when it can. */
export function readProblem(reader: AvroType, writer: AvroType): string | undefined {
  try {
    reader.createResolver(writer, { ignoreNamespaces: true });
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}
