export {
  createCassandraClient,
  cassandraTypes,
  type LocalDate,
  probeCassandra,
  type CassandraClient,
  type CassandraClientOptions,
} from './client.js';
