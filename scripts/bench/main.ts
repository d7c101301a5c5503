/** `npm run bench <name>`: runs one benchmark against the local stack and records it in BENCHMARKS.md. */
import { parseArgs } from 'node:util';
import { loadConfig } from '../../core/config.js';
import { createLogger } from '../../core/logger.js';
import { applySchema } from '../../migrations/schema/index.js';
import { Stack } from '../stack/index.js';
import { benchIngest } from './ingest.js';
import { benchMigrate } from './migrate.js';
import { benchSpeed } from './speed.js';
import { benchSteady } from './steady.js';

const BENCHES = ['ingest', 'speed', 'steady', 'migrate'] as const;
const USAGE = `usage: npm run bench <${BENCHES.join('|')}> [-- --records N] [--backlog N] [--rate N] [--windows N]
  --records N   records (ingest, speed) or legacy rows (migrate) to run through
  --backlog N   speed: the backlog drained while each job's memory is sampled (default 5,000,000)
  --rate N      speed: records/s of the latency run (default 2,000; a second run at 20/s follows);
                steady: records/s throughout (default 2,000)
  --windows N   steady: 20 s windows measured, every other one with master and views stopped (default 6)
`;

class UsageError extends Error {}

function count(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1)
    throw new UsageError(`--${name} must be a whole number above 0, not "${value}"`);
  return n;
}

function parse(): {
  name: (typeof BENCHES)[number];
  records?: number;
  backlog: number;
  rate: number;
  windows: number;
} {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        records: { type: 'string' },
        backlog: { type: 'string' },
        rate: { type: 'string' },
        windows: { type: 'string' },
      },
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { positionals, values } = parsed;
  const name = BENCHES.find((b) => b === positionals[0]);
  if (name === undefined || positionals.length > 1)
    throw new UsageError(`expected one benchmark name, got "${positionals.join(' ')}"`);
  const records = count('records', values.records);
  return {
    name,
    ...(records === undefined ? {} : { records }),
    backlog: count('backlog', values.backlog) ?? 5_000_000,
    rate: count('rate', values.rate) ?? 2_000,
    windows: count('windows', values.windows) ?? 6,
  };
}

async function main(): Promise<number> {
  let args;
  try {
    args = parse();
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`npm run bench: ${error.message}\n${USAGE}`);
    return 2;
  }
  const { name, records, backlog, rate, windows } = args;
  const config = loadConfig();
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'warn' });
  await new Stack(config, logger).up();
  await applySchema(config, logger);
  let section: string;
  if (name === 'speed') {
    section = await benchSpeed(config, logger, { records: records ?? 100_000, backlog, rate });
  } else if (name === 'steady') {
    section = await benchSteady(config, logger, { rate, windows, windowSeconds: 20 });
  } else if (name === 'migrate') {
    section = await benchMigrate(config, logger, records ?? 5_000_000);
  } else {
    section = await benchIngest(config, logger, records ?? 200_000);
  }
  process.stdout.write(`${section}\n`);
  return 0;
}

process.exitCode = await main();
