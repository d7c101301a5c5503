/**
 * Rebuilds dist/ if the sources are newer, brings the local stack up (or uses the one already
 * running, or the external servers the environment names) and applies the schema migrations, once for
 * the whole integration run.
 */
import { loadConfig } from '../core/config.js';
import { createLogger } from '../core/logger.js';
import { applySchema } from '../migrations/schema/index.js';
import { Stack } from '../scripts/stack/index.js';
import { ensureFreshBuild } from './helpers/fresh-build.js';

export default async function setup(): Promise<void> {
  const config = loadConfig();
  const rebuilt = ensureFreshBuild(config.projectRoot);
  if (rebuilt !== undefined)
    process.stderr.write(
      `[global-setup] dist/ was older than the sources: rebuilt in ${(rebuilt / 1000).toFixed(1)} s\n`,
    );
  const logger = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'warn' });
  const result = await new Stack(config, logger).up();
  process.stderr.write(
    `[global-setup] stack ready in ${(result.durationMs / 1000).toFixed(1)} s (started: ${result.started.join(', ') || 'none'})\n`,
  );
  const runs = await applySchema(config, logger);
  const failed = runs.find((run) => run.error !== undefined);
  if (failed?.error !== undefined) throw new Error(`schema migrations failed: ${failed.error}`);
}
