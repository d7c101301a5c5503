/** The `tributary` command line. */
import { Command, CommanderError } from '@commander-js/extra-typings';
import { abCommand } from './commands/ab.js';
import { customersCommand, keysCommand } from './commands/customers.js';
import { dbCommand } from './commands/db.js';
import { demoCommand } from './commands/demo.js';
import { deployCommand, listCommand, undeployCommand } from './commands/deploy.js';
import { generateCommand } from './commands/generate.js';
import { migrateCommand } from './commands/migrate.js';
import { serveCommand } from './commands/serve.js';
import { speedCommand } from './commands/speed.js';
import { stackCommand } from './commands/stack.js';
import { EXIT_USAGE } from './context.js';
import { unknownHelpTopic } from './help.js';

export function buildProgram(): Command {
  const program = new Command('tributary')
    .description('Tributary: per-customer feedback from a stream (Kafka) and 60 days of history (Cassandra)')
    .version('0.1.0');
  program.addCommand(stackCommand());
  program.addCommand(dbCommand());
  program.addCommand(serveCommand());
  program.addCommand(speedCommand());
  program.addCommand(deployCommand());
  program.addCommand(undeployCommand());
  program.addCommand(listCommand());
  program.addCommand(abCommand());
  program.addCommand(customersCommand());
  program.addCommand(keysCommand());
  program.addCommand(generateCommand());
  program.addCommand(migrateCommand());
  program.addCommand(demoCommand());
  return program;
}

/** Usage errors must reach us (exit code 2) with usage printed, at every level of subcommands. */
function configureAll(command: Command): void {
  command.exitOverride().showHelpAfterError();
  for (const sub of command.commands) configureAll(sub as Command);
}

export async function main(argv: readonly string[]): Promise<void> {
  const program = buildProgram();
  configureAll(program);
  const unknown = unknownHelpTopic(program, argv.slice(2));
  if (unknown !== undefined) process.stderr.write(`error: unknown command '${unknown}'\n`);
  try {
    await program.parseAsync([...argv]);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help asked for (--help, `help [command]`) and version are not errors. Help shown because a
      // subcommand is missing (`tributary ab`) or `help` names no command is one: commander gives it
      // exit code 1. Everything else commander reports is a usage error too.
      const ok =
        ['commander.helpDisplayed', 'commander.version'].includes(error.code) ||
        (error.code === 'commander.help' && error.exitCode === 0);
      process.exitCode = ok ? 0 : EXIT_USAGE;
      return;
    }
    throw error;
  }
}

await main(process.argv);
// Every command has finished its work and closed what it opened; client libraries may still hold
// timers (reconnects, keep-alives) that would keep the process up.
process.exit(process.exitCode ?? 0);
