/** Migration files on disk: ordered by name, identified by a checksum of their exact content. */
import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';

export interface MigrationFile {
  readonly name: string;
  readonly checksum: string;
  readonly text: string;
}

/** A migration's name is its file name without extension: `0001_control_plane`. */
const NAME = /^(\d{4})_[a-z0-9_]+$/;

export async function readMigrationFiles(dir: string, extension: '.sql' | '.cql'): Promise<MigrationFile[]> {
  const entries = (await readdir(dir)).filter((f) => f.endsWith(extension)).sort();
  const files: MigrationFile[] = [];
  for (const entry of entries) {
    const name = entry.slice(0, -extension.length);
    if (!NAME.test(name)) {
      throw new Error(`migration file ${entry} in ${dir} must be named NNNN_lower_snake${extension}`);
    }
    const text = await readFile(path.join(dir, entry), 'utf8');
    files.push({ name, text, checksum: createHash('sha256').update(text).digest('hex') });
  }
  return files;
}

/**
 * Splits a CQL script into statements at semicolons outside quotes and comments; drops comments and
 * empty statements.
 */
export function splitStatements(script: string): string[] {
  const statements: string[] = [];
  let current = '';
  let i = 0;
  while (i < script.length) {
    const ch = script[i] ?? '';
    const next = script[i + 1] ?? '';
    if ((ch === '-' && next === '-') || (ch === '/' && next === '/')) {
      const end = script.indexOf('\n', i);
      i = end === -1 ? script.length : end;
      continue;
    }
    if (ch === '/' && next === '*') {
      const end = script.indexOf('*/', i + 2);
      i = end === -1 ? script.length : end + 2;
      continue;
    }
    if (ch === "'" || ch === '"') {
      let j = i + 1;
      while (j < script.length) {
        if (script[j] === ch) {
          if (script[j + 1] === ch)
            j += 2; // doubled quote inside a literal
          else break;
        } else j += 1;
      }
      current += script.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if (ch === ';') {
      if (current.trim() !== '') statements.push(current.trim());
      current = '';
      i += 1;
      continue;
    }
    current += ch;
    i += 1;
  }
  if (current.trim() !== '') statements.push(current.trim());
  return statements;
}
