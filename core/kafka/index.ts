export { createKafka, probeKafka, type KafkaClientOptions } from './client.js';
export type {
  Admin,
  Consumer,
  EachBatchPayload,
  EachMessagePayload,
  Kafka,
  KafkaMessage,
  Producer,
  RecordMetadata,
  Transaction,
} from 'kafkajs';
export { CompressionTypes } from 'kafkajs';
