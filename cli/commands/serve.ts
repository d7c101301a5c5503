import { Command, Option } from '@commander-js/extra-typings';
import type { FastifyInstance } from 'fastify';
import { createPgPool } from '../../core/postgres/index.js';
import { createRegistryApp } from '../../ingest/registry/index.js';
import { createApiApp } from '../../serving/index.js';
import { action, commandContext } from '../context.js';
import { parsePort } from '../options.js';

export function serveCommand(): Command {
  return new Command('serve')
    .description('run the HTTP API (ingest gateway, /healthz) and the schema registry')
    .addOption(new Option('--api-port <port>', 'HTTP API port (default: API_PORT)').argParser(parsePort))
    .addOption(
      new Option('--registry-port <port>', 'schema registry port (default: REGISTRY_PORT)').argParser(
        parsePort,
      ),
    )
    .option('--no-registry', 'do not run the schema registry in this process')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .action(
      action(async (options) => {
        const { config, logger } = commandContext();
        const pool = createPgPool({ url: config.postgres.url, logger, applicationName: 'tributary-serve' });
        const apps: FastifyInstance[] = [];
        const close = async (): Promise<void> => {
          for (const app of apps.splice(0)) await app.close();
          await pool.end();
        };
        try {
          if (options.registry) {
            const registry = await createRegistryApp({
              pool,
              logger,
              adminToken: config.registry.adminToken,
            });
            apps.push(registry);
            const port = options.registryPort ?? config.registry.port;
            await registry.listen({ port, host: options.host });
            logger.info({ port }, 'schema registry listening');
          }
          const api = await createApiApp({
            logger,
            readiness: [
              {
                name: 'postgres',
                check: async () => {
                  await pool.query('SELECT 1');
                },
              },
            ],
          });
          apps.push(api);
          const apiPort = options.apiPort ?? config.api.port;
          await api.listen({ port: apiPort, host: options.host });
          logger.info({ port: apiPort }, 'API listening');
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
