export {
  createCassandraClient,
  cassandraTypes,
  type LocalDate,
  probeCassandra,
  type CassandraClient,
  type CassandraClientOptions,
} from './client.js';
export {
  runBounded,
  writeByPartition,
  type PartitionedStatement,
  type PartitionedWriteOptions,
} from './partitioned.js';
