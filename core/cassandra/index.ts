export {
  createCassandraClient,
  probeCassandra,
  type CassandraClient,
  type CassandraClientOptions,
} from './client.js';
