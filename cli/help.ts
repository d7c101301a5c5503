import type { Command } from '@commander-js/extra-typings';

/**
 * The NAME of `[COMMAND…] help NAME` when the command has no subcommand NAME: commander answers it
 * with the usage alone, without saying why. `help` is the help command only where subcommands are
 * (`customers add help` adds a customer named help), and an option after it is not a NAME.
 */
export function unknownHelpTopic(program: Command, args: readonly string[]): string | undefined {
  let command = program;
  for (const [i, arg] of args.entries()) {
    if (command.commands.length === 0) return undefined;
    if (arg === 'help') {
      const named = args[i + 1];
      if (named === undefined || named.startsWith('-')) return undefined;
      return command.commands.some((c) => c.name() === named) ? undefined : named;
    }
    const sub = command.commands.find((c) => c.name() === arg);
    if (sub === undefined) return undefined;
    command = sub as Command;
  }
  return undefined;
}
