/** Per-table dispatch: which sink a table is written to, and how it is verified. */
import type { Config } from '../../core/config.js';
import type { CassandraClient } from '../../core/cassandra/index.js';
import type { Logger } from '../../core/logger.js';
import type { PgPool } from '../../core/postgres/index.js';
import type { Checkpoint } from './checkpoint.js';
import { copyTable, type CopyOptions } from './copy.js';
import type { TableSpecs } from './plans.js';
import { CustomerSink, FindingSink, RecordSink, type CassandraSinkOptions } from './sinks.js';
import type { LegacyTable } from './tables.js';
import { findingTargets, recordTargets } from './targets.js';
import { verifyCustomers } from './verify-customers.js';
import { verifyTable, type TableVerification, type VerifyContext } from './verify.js';

export interface Stores {
  readonly config: Config;
  readonly logger: Logger;
  readonly controlPlane: PgPool;
  readonly cassandra: CassandraClient;
}

/** Cassandra requests in flight per page being written. */
const REQUESTS_PER_PAGE = 16;

function cassandraSink(stores: Stores): CassandraSinkOptions {
  return {
    client: stores.cassandra,
    keyspace: stores.config.cassandra.keyspace,
    retentionDays: stores.config.cassandra.retentionDays,
    logger: stores.logger,
    requests: REQUESTS_PER_PAGE,
  };
}

/** Copies one table; `write` false for a dry run (convert and count, store nothing). */
export function copyOne(
  table: LegacyTable,
  specs: TableSpecs,
  stores: Stores,
  write: boolean,
  options: CopyOptions,
): Promise<Checkpoint> {
  switch (table) {
    case 'customers':
      return copyTable(
        { ...specs.customers, sink: write ? new CustomerSink(stores.controlPlane, stores.logger) : null },
        options,
      );
    case 'records':
      return copyTable(
        { ...specs.records, sink: write ? new RecordSink(cassandraSink(stores)) : null },
        options,
      );
    case 'findings':
      return copyTable(
        { ...specs.findings, sink: write ? new FindingSink(cassandraSink(stores)) : null },
        options,
      );
  }
}

export function verifyOne(
  table: LegacyTable,
  specs: TableSpecs,
  stores: Stores,
  context: VerifyContext,
): Promise<TableVerification> {
  const keyspace = stores.config.cassandra.keyspace;
  switch (table) {
    case 'customers':
      return verifyCustomers(specs.customers, stores.controlPlane, context);
    case 'records':
      return verifyTable(specs.records, recordTargets(keyspace), context);
    case 'findings':
      return verifyTable(specs.findings, findingTargets(keyspace), context);
  }
}
