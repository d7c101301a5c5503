import { Command, Option } from '@commander-js/extra-typings';
import type { FastifyInstance } from 'fastify';
import { closeWithin, DEFAULT_REQUEST_TIMEOUT_MS } from '../../core/http.js';
import { createKafka, ensureTopicsWith, KafkaReadiness } from '../../core/kafka/index.js';
import { createPgPool } from '../../core/postgres/index.js';
import { ApiKeyAuthenticator } from '../../core/tenants/index.js';
import {
  RecordProducer,
  RecordSerializer,
  RegistryClient,
  gatewayRoutes,
  ingestTopics,
  recordSubject,
} from '../../ingest/index.js';
import { createRegistryApp } from '../../ingest/registry/index.js';
import { createApiApp } from '../../serving/index.js';
import { action, commandContext } from '../context.js';
import { parseNonNegativeNumber, parsePort, parsePositiveInt } from '../options.js';

export function serveCommand(): Command {
  return new Command('serve')
    .description('run the HTTP API (ingest gateway, health) and the schema registry')
    .addOption(new Option('--api-port <port>', 'HTTP API port (default: API_PORT)').argParser(parsePort))
    .addOption(
      new Option('--registry-port <port>', 'schema registry port (default: REGISTRY_PORT)').argParser(
        parsePort,
      ),
    )
    .option('--no-registry', 'do not run the schema registry here (use SCHEMA_REGISTRY_URL)')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .addOption(
      new Option('--max-records <n>', 'most records in one ingest request')
        .argParser(parsePositiveInt)
        .default(1_000),
    )
    .addOption(
      new Option('--body-limit <bytes>', 'largest ingest request body')
        .argParser(parsePositiveInt)
        .default(5 * 1024 * 1024),
    )
    .addOption(
      new Option(
        '--request-timeout-seconds <s>',
        'how long a client has to send its whole request before it is answered 408 (also the longest a stalled upload delays shutdown)',
      )
        .argParser(parsePositiveInt)
        .default(DEFAULT_REQUEST_TIMEOUT_MS / 1000),
    )
    .addOption(
      new Option(
        '--auth-cache-seconds <s>',
        'how long a verified API key is trusted before it is checked again',
      )
        .argParser(parseNonNegativeNumber)
        .default(30),
    )
    .action(
      action(async (options) => {
        const { config, logger } = commandContext();
        const pool = createPgPool({ url: config.postgres.url, logger, applicationName: 'tributary-serve' });
        const kafka = createKafka({ brokers: config.kafka.brokers, logger, clientId: 'tributary-serve' });
        const apps: FastifyInstance[] = [];
        let producer: RecordProducer | undefined;
        const kafkaReady = new KafkaReadiness(
          { brokers: config.kafka.brokers, logger, clientId: 'tributary-serve-readiness' },
          config.topics.records,
        );
        const close = async (): Promise<void> => {
          // The API first (in-flight requests finish and their records are acknowledged), then the rest.
          for (const app of apps.splice(0).reverse())
            await closeWithin(app, options.requestTimeoutSeconds * 1000);
          await producer?.close();
          await kafkaReady.close();
          await pool.end();
        };
        try {
          let registryUrl = config.registry.url;
          if (options.registry) {
            const registry = await createRegistryApp({
              pool,
              logger,
              adminToken: config.registry.adminToken,
              requestTimeoutMs: options.requestTimeoutSeconds * 1000,
            });
            apps.push(registry);
            await registry.listen({ port: options.registryPort ?? config.registry.port, host: options.host });
            const address = registry.server.address();
            const port =
              typeof address === 'object' && address !== null ? address.port : config.registry.port;
            registryUrl = `http://127.0.0.1:${port}`;
            process.stdout.write(`schema registry listening on ${registryUrl}\n`);
          }
          await ensureTopicsWith(kafka, ingestTopics(config));
          const serializer = await RecordSerializer.create({
            registry: new RegistryClient({ url: registryUrl, adminToken: config.registry.adminToken }),
            subject: recordSubject(config.topics.records),
          });
          producer = new RecordProducer(kafka, config.topics.records, serializer);
          await producer.connect();
          const api = await createApiApp({
            logger,
            bodyLimit: options.bodyLimit,
            requestTimeoutMs: options.requestTimeoutSeconds * 1000,
            routes: [
              gatewayRoutes({
                authenticator: new ApiKeyAuthenticator(pool, options.authCacheSeconds * 1000),
                producer,
                logger,
                maxRecords: options.maxRecords,
              }),
            ],
            readiness: [
              {
                name: 'postgres',
                check: async () => {
                  await pool.query('SELECT 1');
                },
              },
              // Records are accepted only once Kafka has them: without it the gateway cannot work.
              { name: 'kafka', check: () => kafkaReady.check() },
            ],
          });
          apps.push(api);
          await api.listen({ port: options.apiPort ?? config.api.port, host: options.host });
          const address = api.server.address();
          const apiPort = typeof address === 'object' && address !== null ? address.port : config.api.port;
          process.stdout.write(
            `API listening on http://127.0.0.1:${apiPort} (record schema id ${serializer.schemaId})\n`,
          );
        } catch (error) {
          await close();
          throw error;
        }
        await new Promise<void>((resolve) => {
          const stop = (): void => {
            resolve();
          };
          process.once('SIGTERM', stop);
          process.once('SIGINT', stop);
        });
        logger.info('shutting down: draining in-flight requests');
        await close();
        return 0;
      }),
    );
}
