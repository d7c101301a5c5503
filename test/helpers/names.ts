import { randomBytes } from 'node:crypto';
import { afterAll } from 'vitest';
import { deleteTopicsStartingWith } from '../../core/kafka/index.js';
import { kafkaClient } from './context.js';

/** Every name handed out in this test file; the Kafka topics named after them are deleted after it. */
const given = new Set<string>();

/** A name unique to this test run: topics, consumer groups, keyspaces, tables. */
export function uniqueName(prefix: string): string {
  const name = `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  given.add(name.toLowerCase());
  return name;
}

afterAll(async () => {
  // Topics derived from a name too (`<name>-records.valid`, `<name>.changelog.<job>`, …).
  if (given.size > 0) await deleteTopicsStartingWith(kafkaClient(), [...given]);
});
