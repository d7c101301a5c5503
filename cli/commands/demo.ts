import { Command } from '@commander-js/extra-typings';
import { runDemo } from '../../scripts/demo/demo.js';
import { action, commandContext } from '../context.js';

export function demoCommand(): Command {
  return new Command('demo').description('run the whole pipeline end to end on generated data').action(
    action(async () => {
      const { config, logger } = commandContext();
      await runDemo(config, logger);
      return 0;
    }),
  );
}
