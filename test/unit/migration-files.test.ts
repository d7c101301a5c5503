import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readMigrationFiles, splitStatements } from '../../migrations/schema/index.js';

describe('splitStatements', () => {
  it('splits at semicolons outside literals and comments', () => {
    const script = `
      -- a comment; with a semicolon
      CREATE TABLE a (x text) WITH comment = 'one; two';
      /* block; comment */ CREATE TABLE b (y text);
      // another comment
      INSERT INTO a (x) VALUES ('it''s; fine')
    `;
    expect(splitStatements(script)).toEqual([
      "CREATE TABLE a (x text) WITH comment = 'one; two'",
      'CREATE TABLE b (y text)',
      "INSERT INTO a (x) VALUES ('it''s; fine')",
    ]);
  });

  it('returns nothing for a script of comments', () => {
    expect(splitStatements('-- nothing here\n/* or here */')).toEqual([]);
  });
});

describe('readMigrationFiles', () => {
  it('orders files by name and checksums their exact content', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mig-'));
    await writeFile(path.join(dir, '0002_second.sql'), 'SELECT 2;');
    await writeFile(path.join(dir, '0001_first.sql'), 'SELECT 1;');
    await writeFile(path.join(dir, 'README.txt'), 'ignored');
    const files = await readMigrationFiles(dir, '.sql');
    expect(files.map((f) => f.name)).toEqual(['0001_first', '0002_second']);
    expect(files[0]?.checksum).toMatch(/^[0-9a-f]{64}$/);
    expect(files[0]?.checksum).not.toBe(files[1]?.checksum);
  });

  it('refuses a badly named file', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mig-'));
    await writeFile(path.join(dir, 'create-things.sql'), 'SELECT 1;');
    await expect(readMigrationFiles(dir, '.sql')).rejects.toThrow(/NNNN_lower_snake/);
  });
});
