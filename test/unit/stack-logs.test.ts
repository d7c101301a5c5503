/** Rolling a server's output file at start. */
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SERVER_LOGS_KEPT } from '../../scripts/stack/layout.js';
import { rollIfLarge } from '../../scripts/stack/processes.js';

let dir: string;
let file: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tributary-roll-'));
  file = path.join(dir, 'server.out');
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('rollIfLarge', () => {
  it('leaves a missing or small file alone', async () => {
    expect(await rollIfLarge(file, 10)).toBe(false);
    await writeFile(file, '123456789');
    expect(await rollIfLarge(file, 10)).toBe(false);
    expect(await readdir(dir)).toEqual(['server.out']);
  });

  it('moves a file at the size to .1 and each older one up, keeping SERVER_LOGS_KEPT', async () => {
    for (let start = 1; start <= SERVER_LOGS_KEPT + 2; start++) {
      await writeFile(file, `start ${start}\n`);
      expect(await rollIfLarge(file, 5)).toBe(true);
    }
    const names = (await readdir(dir)).sort();
    expect(names).toEqual([1, 2, 3, 4, 5].map((i) => `server.out.${i}`));
    expect(SERVER_LOGS_KEPT).toBe(5);
    // .1 is the newest; the two oldest starts were dropped.
    for (let i = 1; i <= SERVER_LOGS_KEPT; i++) {
      expect(await readFile(`${file}.${i}`, 'utf8')).toBe(`start ${SERVER_LOGS_KEPT + 3 - i}\n`);
    }
  });
});
