import { Command } from '@commander-js/extra-typings';
import { createCassandraClient } from '../../core/cassandra/index.js';
import { createKafka } from '../../core/kafka/index.js';
import { RegistryClient } from '../../ingest/index.js';
import { ValidationJob } from '../../ingest/validation/index.js';
import { action, commandContext } from '../context.js';

export function speedCommand(): Command {
  return new Command('speed')
    .description(
      'run the speed-layer jobs: the upstream validation job (use-case jobs join it in a later release)',
    )
    .option('--job <name>', 'run only this job', 'validation')
    .option('--group <id>', 'consumer group of the validation job', 'tributary.validation')
    .option('--stats-interval <seconds>', 'log throughput every N seconds (0: never)', '10')
    .action(
      action(async (options) => {
        const { config, logger } = commandContext();
        if (options.job !== 'validation') {
          process.stderr.write(
            `tributary: unknown job ${JSON.stringify(options.job)}; known jobs: validation\n`,
          );
          return 2;
        }
        const kafka = createKafka({ brokers: config.kafka.brokers, logger, clientId: 'tributary-speed' });
        const cassandra = createCassandraClient({
          contactPoints: config.cassandra.contactPoints,
          localDataCenter: config.cassandra.localDataCenter,
          logger,
        });
        const job = new ValidationJob({
          config,
          kafka,
          cassandra,
          registry: new RegistryClient({ url: config.registry.url }),
          logger,
          groupId: options.group,
        });
        const stopped = new Promise<void>((resolve) => {
          process.once('SIGTERM', () => {
            resolve();
          });
          process.once('SIGINT', () => {
            resolve();
          });
        });
        await job.start();
        process.stdout.write(`validation job running (group ${job.groupId})\n`);
        const every = Number(options.statsInterval) * 1000;
        let previous = job.stats();
        const timer =
          every > 0
            ? setInterval(() => {
                const now = job.stats();
                logger.info(
                  { ...now, perSecond: Math.round(((now.in - previous.in) * 1000) / every) },
                  'validation progress',
                );
                previous = now;
              }, every)
            : undefined;
        await stopped;
        clearInterval(timer);
        logger.info('SIGTERM: finishing the batch in flight, committing, exiting');
        await job.close();
        await cassandra.shutdown();
        return 0;
      }),
    );
}
