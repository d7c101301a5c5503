/** Schema migrations for both stores, run by `tributary db apply|status` and after `stack up`. */
import path from 'node:path';
import type { Config } from '../../core/config.js';
import type { Logger } from '../../core/logger.js';
import { createPgPool } from '../../core/postgres/index.js';
import { migrateCassandra } from './cassandra.js';
import { migratePostgres } from './postgres.js';
import type { MigrationRun } from './result.js';

export { migrateCassandra, type CassandraMigrationOptions } from './cassandra.js';
export { migratePostgres } from './postgres.js';
export { splitStatements, readMigrationFiles, type MigrationFile } from './files.js';
export { summarise, type MigrationResult, type MigrationRun, type MigrationStatus } from './result.js';

export interface ApplySchemaOptions {
  readonly dryRun?: boolean;
  /** Folders holding the .sql and .cql files; the shipped ones by default. */
  readonly postgresDir?: string;
  readonly cassandraDir?: string;
}

export function shippedMigrationsDir(config: Config, store: 'postgres' | 'cassandra'): string {
  return path.join(config.migrationsDir, store);
}

export async function applySchema(
  config: Config,
  logger: Logger,
  options: ApplySchemaOptions = {},
): Promise<MigrationRun[]> {
  const dryRun = options.dryRun ?? false;
  const pool = createPgPool({
    url: config.postgres.url,
    max: 1,
    logger,
    applicationName: 'tributary-schema',
  });
  try {
    const postgres = await migratePostgres(pool, {
      dir: options.postgresDir ?? shippedMigrationsDir(config, 'postgres'),
      logger,
      dryRun,
    });
    const cassandra = await migrateCassandra({
      contactPoints: config.cassandra.contactPoints,
      localDataCenter: config.cassandra.localDataCenter,
      keyspace: config.cassandra.keyspace,
      replication: config.cassandra.replication,
      dir: options.cassandraDir ?? shippedMigrationsDir(config, 'cassandra'),
      logger,
      dryRun,
    });
    return [postgres, cassandra];
  } finally {
    await pool.end();
  }
}
