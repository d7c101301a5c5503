#!/usr/bin/env node
// The `tributary` command. Runs the compiled CLI from dist/ (built by `npm run build`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write(
    'tributary: not built yet; run `npm run build` (or `npm ci && npm run build`) first\n',
  );
  process.exit(1);
}
await import(entry.href);
