import { randomBytes } from 'node:crypto';

/** A name unique to this test run: topics, consumer groups, keyspaces, tables. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}
