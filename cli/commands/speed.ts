import { Command, InvalidArgumentError, Option } from '@commander-js/extra-typings';
import { TributaryError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { createPgPool } from '../../core/postgres/index.js';
import {
  EXIT_ELSEWHERE,
  EXIT_PAUSED,
  isJobName,
  PausedAtStart,
  RunsElsewhere,
  PLATFORM_JOBS,
  startWorker,
  Supervisor,
} from '../../speed/index.js';
import { action, commandContext } from '../context.js';
import { parsePort } from '../options.js';

/**
 * Resolves on the first SIGTERM or SIGINT. The listeners stay: a process manager that signals the
 * whole process group (systemd's KillMode=control-group, `kill -TERM -PGID`, Ctrl-C) reaches each
 * worker twice, once itself and once through its supervisor, and a repeat left to Node's default
 * handler would end the drain before its final checkpoint and commit.
 */
function untilSignal(logger: Logger): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let first: NodeJS.Signals | undefined;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (first === undefined) {
        first = signal;
        resolve(signal);
      } else logger.warn({ signal, first }, 'already stopping: signal ignored (SIGKILL stops at once)');
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

/** `--job`: a platform job or a use case's, checked before anything connects. */
function parseJob(value: string): string {
  const job = value.trim();
  if (!isJobName(job))
    throw new InvalidArgumentError(
      `"${job}" is not a job: expected ${PLATFORM_JOBS.join(', ')} or usecase.<name>[.<variant>]`,
    );
  return job;
}

/** `--only`/`--except`: a comma-separated list of job names. */
function parseJobs(value: string): string[] {
  try {
    return value.split(',').map(parseJob);
  } catch (error) {
    if (error instanceof InvalidArgumentError)
      throw new InvalidArgumentError(`${error.message}, comma-separated`);
    throw error;
  }
}

/**
 * A worker started by the supervisor stops like on SIGTERM when the supervisor is gone (killed -9:
 * the IPC channel closes), instead of running on unsupervised or dying of a send on the closed channel.
 */
function untilOrphaned(): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined) return; // not started by a supervisor
    if (process.connected) process.once('disconnect', resolve);
    else resolve(); // gone while this worker started
  });
}

/**
 * Until its job runs a worker has nothing to drain, so a supervisor gone meanwhile ends it at once, as
 * SIGTERM does then (Node's default): it would otherwise start and run on with no one to stop it.
 * Returns what stops watching once the job runs.
 */
function exitIfOrphanedWhileStarting(logger: Logger, job: string): () => void {
  const gone = (): void => {
    logger.warn({ job }, 'the supervisor is gone while this job was starting: exiting');
    process.exit(1);
  };
  if (process.send !== undefined) process.once('disconnect', gone);
  return () => process.off('disconnect', gone);
}

/** To the supervisor, if there is one and it is still there. */
function tellSupervisor(message: object): void {
  if (process.connected) process.send?.(message);
}

export function speedCommand(): Command {
  return new Command('speed')
    .description('run the speed layer: every job in its own supervised process (or one job with --job)')
    .addOption(
      new Option(
        '--job <name>',
        'run only this job, in this process: validation, master, views, delivery or usecase.<name>[.<variant>]',
      ).argParser(parseJob),
    )
    .addOption(
      new Option(
        '--only <jobs>',
        'supervise only these jobs (comma-separated), e.g. master,views on a machine of their own',
      )
        .argParser(parseJobs)
        .conflicts(['except', 'job']),
    )
    .addOption(
      new Option('--except <jobs>', 'supervise every job but these (comma-separated)')
        .argParser(parseJobs)
        .conflicts('job'),
    )
    .addOption(
      // What the supervisor passes its workers: its row in the control plane, which is not another's.
      // Without --job it is refused in the action, as usage.
      new Option('--supervisor <id>', 'the id of the supervisor that started this job').hideHelp(),
    )
    .addOption(
      new Option('--port <port>', 'the supervisor’s /metrics and /jobs port (default: SPEED_PORT)')
        .argParser(parsePort)
        .conflicts('job'), // a lone job serves nothing: its measurements go to its supervisor
    )
    .action(
      action(async (options) => {
        if (options.supervisor !== undefined && options.job === undefined)
          throw new TributaryError(
            'USAGE',
            '--supervisor is what a supervisor gives a job it starts: use it with --job',
          );
        const { config, logger } = commandContext();
        if (options.job !== undefined) {
          const started = exitIfOrphanedWhileStarting(logger, options.job);
          let worker: Awaited<ReturnType<typeof startWorker>>;
          try {
            worker = await startWorker(config, logger, options.job, {
              ...(options.supervisor !== undefined && { supervisorId: options.supervisor }),
              onLacking: () => {
                tellSupervisor({ type: 'lacking' });
              },
            });
          } catch (error) {
            if (error instanceof RunsElsewhere) {
              // Left to the supervisor that runs it: this one does not restart it.
              process.stderr.write(`tributary: job ${options.job} not run here: ${error.message}\n`);
              return EXIT_ELSEWHERE;
            }
            if (!(error instanceof PausedAtStart)) throw error;
            // Paused and reported: the supervisor leaves it paused instead of restarting it.
            process.stderr.write(`tributary: job ${options.job} paused: ${error.reason}\n`);
            return EXIT_PAUSED;
          }
          started();
          process.stdout.write(`job ${options.job} running\n`);
          tellSupervisor({ type: 'ready' });
          const report = setInterval(() => {
            worker.metrics.sampleProcess();
            if (process.connected) {
              void worker.metrics.registry.getMetricsAsJSON().then((metrics) => {
                tellSupervisor({ type: 'metrics', metrics });
              });
            }
          }, 1_000);
          const outcome = await Promise.race([
            untilSignal(logger.child({ job: options.job })).then(() => 'signal' as const),
            untilOrphaned().then(() => 'orphaned' as const),
            worker.paused,
            worker.fatal,
          ]).catch(async (error: unknown) => {
            clearInterval(report);
            await worker.close().catch((closeError: unknown) => {
              logger.warn({ err: closeError }, 'closing the job after its fatal error failed');
            });
            throw error;
          });
          clearInterval(report);
          if (outcome === 'orphaned') logger.warn({ job: options.job }, 'the supervisor is gone: stopping');
          await worker.close();
          if (outcome !== 'signal' && outcome !== 'orphaned') {
            process.stderr.write(`tributary: job ${options.job} paused: ${outcome}\n`);
            return EXIT_PAUSED;
          }
          return 0;
        }
        const pool = createPgPool({
          url: config.postgres.url,
          logger,
          max: 2,
          applicationName: 'tributary-speed',
        });
        const { only, except } = options;
        const supervisor = new Supervisor({
          config,
          logger,
          pool,
          ...(only !== undefined && { share: { only } }),
          ...(except !== undefined && { share: { except } }),
        });
        // Listening before the start: a signal meanwhile stops the workers already started, once the
        // start is over, instead of killing the supervisor and leaving them to notice it is gone.
        const signalled = untilSignal(logger);
        const port = await supervisor.start(options.port ?? config.speed.port);
        process.stdout.write(`speed layer running: /metrics and /jobs on http://127.0.0.1:${port}\n`);
        const signal = await signalled;
        logger.info({ signal }, 'stopping every job gracefully');
        await supervisor.close();
        await pool.end();
        return 0;
      }),
    );
}
