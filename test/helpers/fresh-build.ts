/**
 * Integration tests drive the built command (`bin/tributary.js` runs `dist/`). `npm test` builds
 * first, but `npx vitest run FILE` does not: after an edit, those tests would silently exercise the
 * old code. This rebuilds `dist/` when a source file is newer than everything in it.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/** The newest modification time of the files under `dir` whose names pass `keep`; 0 if none. */
function newest(dir: string, keep: (name: string) => boolean): number {
  let latest = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0; // a folder that does not exist (yet)
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) latest = Math.max(latest, newest(full, keep));
    else if (keep(entry.name)) latest = Math.max(latest, statSync(full).mtimeMs);
  }
  return latest;
}

/** Rebuilds dist/ if a source is newer than it; returns the build's duration in ms, or undefined. */
export function ensureFreshBuild(projectRoot: string): number | undefined {
  const buildConfig = path.join(projectRoot, 'tsconfig.build.json');
  // The folders the build compiles, as tsconfig.build.json lists them.
  const { include } = JSON.parse(readFileSync(buildConfig, 'utf8')) as { include: string[] };
  const sources = Math.max(
    ...include.map((dir) =>
      newest(path.join(projectRoot, dir), (name) => name.endsWith('.ts') && !name.endsWith('.test.ts')),
    ),
    statSync(buildConfig).mtimeMs,
  );
  const built = newest(path.join(projectRoot, 'dist'), (name) => name.endsWith('.js'));
  if (built >= sources) return undefined;
  const began = performance.now();
  execFileSync(
    process.execPath,
    [path.join(projectRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
    { cwd: projectRoot, stdio: 'inherit' },
  );
  return performance.now() - began;
}
