/** `npm run bench <name>`: runs one benchmark against the local stack and records it in BENCHMARKS.md. */
import { parseArgs } from 'node:util';
import { loadConfig } from '../../core/config.js';
import { createLogger } from '../../core/logger.js';
import { applySchema } from '../../migrations/schema/index.js';
import { Stack } from '../stack/index.js';
import { benchIngest } from './ingest.js';
import { benchMigrate } from './migrate.js';
import { benchSpeed } from './speed.js';

const BENCHES = ['ingest', 'speed', 'migrate'] as const;

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { records: { type: 'string' }, backlog: { type: 'string' } },
  });
  const name = positionals[0];
  if (name === undefined || !(BENCHES as readonly string[]).includes(name)) {
    process.stderr.write(`usage: npm run bench <${BENCHES.join('|')}> [-- --records N] [--backlog N]\n`);
    return 2;
  }
  const config = loadConfig();
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'warn' });
  await new Stack(config, logger).up();
  await applySchema(config, logger);
  const records = Number(values.records ?? 200_000);
  let section: string;
  if (name === 'speed') {
    section = await benchSpeed(
      config,
      logger,
      Number(values.records ?? 100_000),
      Number(values.backlog ?? 5_000_000),
    );
  } else if (name === 'migrate') {
    section = await benchMigrate(config, logger, Number(values.records ?? 5_000_000));
  } else {
    section = await benchIngest(config, logger, records);
  }
  process.stdout.write(`${section}\n`);
  return 0;
}

process.exitCode = await main();
