import { Command } from '@commander-js/extra-typings';
import { applySchema, summarise } from '../../migrations/schema/index.js';
import { Stack, formatStatus } from '../../scripts/stack/index.js';
import { action, commandContext } from '../context.js';
import { reportMigrationRuns } from './db.js';

export function stackCommand(): Command {
  const stack = new Command('stack').description(
    'start, stop and inspect the local Kafka, Cassandra and PostgreSQL',
  );

  stack
    .command('up')
    .description(
      'start every local server that is not running, wait until each answers, apply schema migrations',
    )
    .option('--no-schema', 'do not apply schema migrations after the servers are up')
    .action(
      action(async (options) => {
        const { config, logger } = commandContext();
        const result = await new Stack(config, logger).up();
        const started = result.started.length === 0 ? 'nothing (already running)' : result.started.join(', ');
        process.stdout.write(`stack up in ${(result.durationMs / 1000).toFixed(1)} s: started ${started}\n`);
        if (result.external.length > 0) process.stdout.write(`external: ${result.external.join(', ')}\n`);
        if (options.schema) {
          const runs = await applySchema(config, logger);
          for (const run of runs) process.stdout.write(`schema ${summarise(run)}\n`);
          return reportMigrationRuns(runs);
        }
        return 0;
      }),
    );

  stack
    .command('down')
    .description('stop the servers `stack up` started (gracefully, then forcibly after a timeout)')
    .action(
      action(async () => {
        const { config, logger } = commandContext();
        const outcomes = await new Stack(config, logger).down();
        for (const [name, outcome] of Object.entries(outcomes)) process.stdout.write(`${name}: ${outcome}\n`);
        return 0;
      }),
    );

  stack
    .command('status')
    .description('each service with version, address, pid, memory, data folder and health')
    .option('--json', 'print JSON')
    .action(
      action(async (options) => {
        const { config, logger } = commandContext();
        const statuses = await new Stack(config, logger).status();
        process.stdout.write(
          options.json === true ? `${JSON.stringify(statuses, null, 2)}\n` : `${formatStatus(statuses)}\n`,
        );
        return statuses.every((s) => s.health === 'healthy' || s.health === 'external') ? 0 : 1;
      }),
    );
  return stack;
}
