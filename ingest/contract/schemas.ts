/**
 * The record schema's versions, read from their versioned files (never edited in place). The
 * current version is the reader every consumer decodes into; older writers are resolved into it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../core/config.js';
import { avroType, type AvroType } from './avro.js';

export const RECORD_SUBJECT_SUFFIX = '-value';
export const RECORD_VERSIONS = [1, 2] as const;
export type RecordVersion = (typeof RECORD_VERSIONS)[number];
export const CURRENT_RECORD_VERSION: RecordVersion = 2;

const cache = new Map<RecordVersion, { text: string; type: AvroType }>();

function load(version: RecordVersion): { text: string; type: AvroType } {
  let entry = cache.get(version);
  if (entry === undefined) {
    const text = readFileSync(
      path.join(PROJECT_ROOT, 'ingest', 'contract', `record.v${version}.avsc`),
      'utf8',
    );
    entry = { text: JSON.stringify(JSON.parse(text)), type: avroType(text) };
    cache.set(version, entry);
  }
  return entry;
}

/** The schema of a version as compact JSON text (what is registered). */
export function recordSchemaText(version: RecordVersion = CURRENT_RECORD_VERSION): string {
  return load(version).text;
}

export function recordType(version: RecordVersion = CURRENT_RECORD_VERSION): AvroType {
  return load(version).type;
}

/** The subject of the record topic's values: `<topic>-value` (TopicNameStrategy). */
export function recordSubject(topic: string): string {
  return `${topic}${RECORD_SUBJECT_SUFFIX}`;
}
