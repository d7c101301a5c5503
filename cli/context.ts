/** What every command gets: the validated config, the logger, and an error-to-exit-code policy. */
import { Command } from '@commander-js/extra-typings';
import { loadConfig, type Config } from '../core/config.js';
import { describeError, isTributaryError, TributaryError } from '../core/errors.js';
import { createLogger, type Logger } from '../core/logger.js';
import { createPgPool, type PgPool } from '../core/postgres/index.js';
import {
  allUseCases,
  findUseCase,
  loadUseCaseModules,
  unknownVariant,
  type UseCase,
} from '../speed/usecases/index.js';

export interface CommandContext {
  readonly config: Config;
  readonly logger: Logger;
}

export const EXIT_USAGE = 2;
export const EXIT_CONFIG = 78;

let context: CommandContext | undefined;

/** Config is read once, on first use, so `--help` works even with a bad environment. */
export function commandContext(): CommandContext {
  if (context === undefined) {
    const config = loadConfig();
    context = { config, logger: createLogger({ level: config.logLevel }) };
  }
  return context;
}

export function exitCodeFor(error: unknown): number {
  if (!isTributaryError(error)) return 1;
  if (error.code === 'USAGE') return EXIT_USAGE;
  if (error.code === 'CONFIG_INVALID') return EXIT_CONFIG;
  return 1;
}

/**
 * Wraps a command's action: errors become one clear line on stderr and a non-zero exit code; a usage
 * error found by the action (a combination of flags, a use case it does not know) is followed by the
 * command's usage, as commander does for the errors it finds.
 */
export function action<Args extends unknown[]>(
  run: (...args: Args) => Promise<number | undefined>,
): (...args: Args) => Promise<void> {
  return async (...args: Args) => {
    try {
      const code = await run(...args);
      process.exitCode = code ?? 0;
    } catch (error) {
      const code = isTributaryError(error) ? ` [${error.code}]` : '';
      process.stderr.write(`tributary: error${code}: ${describeError(error)}\n`);
      if (!isTributaryError(error) && error instanceof Error && error.stack !== undefined) {
        process.stderr.write(`${error.stack}\n`);
      }
      process.exitCode = exitCodeFor(error);
      // commander passes the command itself last.
      const command = args.at(-1);
      if (process.exitCode === EXIT_USAGE && command instanceof Command)
        process.stderr.write(`\n${command.helpInformation()}`);
    }
  };
}

/** A small control-plane pool for one command, closed when the work is done. */
export async function withPool<T>(work: (pool: PgPool) => Promise<T>): Promise<T> {
  const { config, logger } = commandContext();
  const pool = createPgPool({ url: config.postgres.url, logger, max: 2, applicationName: 'tributary-cli' });
  try {
    return await work(pool);
  } finally {
    await pool.end();
  }
}

/**
 * Loads USECASE_MODULES for a command about `usecase`. A module that cannot be loaded fails the
 * command only if `usecase` is then unknown (it may be that module's); otherwise it is a warning,
 * so one broken module does not block deploying or testing the others.
 */
export async function loadUseCaseModulesFor(usecase: string): Promise<void> {
  const failed: string[] = [];
  await loadUseCaseModules(commandContext().config.speed.useCaseModules, (file, error) => {
    failed.push(`${file}: ${describeError(error)}`);
  });
  if (failed.length === 0) return;
  if (findUseCase(usecase) === undefined)
    throw new TributaryError(
      'NOT_FOUND',
      `no use case named ${usecase}; USECASE_MODULES that could not be loaded: ${failed.join('; ')}`,
    );
  for (const failure of failed)
    process.stderr.write(`tributary: warning: a USECASE_MODULES module could not be loaded: ${failure}\n`);
}

/**
 * The use case named `usecase` (USECASE_MODULES' too), with every one of `variants`: a name or a
 * variant it does not know is a usage error naming the known ones, raised before anything connects.
 */
export async function requireUseCase(usecase: string, variants: readonly string[] = []): Promise<UseCase> {
  await loadUseCaseModulesFor(usecase);
  const useCase = findUseCase(usecase);
  if (useCase === undefined) {
    const known = allUseCases().map((u) => u.name);
    throw new TributaryError('USAGE', `no use case named ${usecase} (known: ${known.join(', ')})`);
  }
  for (const variant of variants) {
    const unknown = unknownVariant(useCase, variant);
    if (unknown !== undefined) throw new TributaryError('USAGE', unknown);
  }
  return useCase;
}
