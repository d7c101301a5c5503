import { Command } from '@commander-js/extra-typings';
import { applySchema, summarise, type MigrationRun } from '../../migrations/schema/index.js';
import { action, commandContext } from '../context.js';

/** Prints failures of a schema run and returns the exit code. */
export function reportMigrationRuns(runs: readonly MigrationRun[]): number {
  let code = 0;
  for (const run of runs) {
    if (run.error !== undefined) {
      process.stderr.write(`tributary: ${run.store} schema migration failed: ${run.error}\n`);
      code = 1;
    }
  }
  return code;
}

export function dbCommand(): Command {
  const db = new Command('db').description(
    'schema migrations of Cassandra and PostgreSQL (not the data migration: see `migrate`)',
  );

  db.command('apply')
    .description('apply pending schema migrations, in order, each once (safe to run from several processes)')
    .action(
      action(async () => {
        const { config, logger } = commandContext();
        const runs = await applySchema(config, logger);
        for (const run of runs) process.stdout.write(`${summarise(run)}\n`);
        return reportMigrationRuns(runs);
      }),
    );

  db.command('status')
    .description('list schema migrations and whether each is applied, pending or changed')
    .action(
      action(async () => {
        const { config, logger } = commandContext();
        const runs = await applySchema(config, logger, { dryRun: true });
        for (const run of runs) {
          for (const r of run.results) process.stdout.write(`${run.store}\t${r.name}\t${r.status}\n`);
        }
        return reportMigrationRuns(runs);
      }),
    );
  return db;
}
