import { describe, expect, it } from 'vitest';
import { Command } from '@commander-js/extra-typings';
import { unknownHelpTopic } from '../../cli/help.js';

/** A program shaped like ours: commands with and without subcommands. */
function program(): Command {
  const root = new Command('tributary');
  const ab = root.command('ab');
  ab.command('set');
  ab.command('assign');
  root.command('customers').command('add').argument('<id>').option('--name <n>');
  root.command('deploy').argument('<usecase>').option('--variant <v>');
  return root;
}

describe('unknownHelpTopic', () => {
  it('names what help is asked for that is no command', () => {
    expect(unknownHelpTopic(program(), ['help', 'bogus'])).toBe('bogus');
    expect(unknownHelpTopic(program(), ['ab', 'help', 'bogus'])).toBe('bogus');
  });

  it('says nothing of help for a command that exists, or of help as a value', () => {
    for (const args of [
      ['help'],
      ['help', 'ab'],
      ['ab', 'help', 'set'],
      ['help', '--help'],
      ['ab', 'help', '--json'],
      ['customers', 'add', 'help', '--name', 'Help Inc'],
      ['deploy', 'help', '--variant', 'A'],
      ['bogus', 'help', 'x'],
      [],
    ])
      expect(unknownHelpTopic(program(), args), args.join(' ')).toBeUndefined();
  });
});
