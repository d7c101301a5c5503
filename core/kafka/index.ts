export { createKafka, probeKafka, type KafkaClientOptions } from './client.js';
export { ensureTopics, ensureTopicsWith, type TopicSpec } from './topics.js';
export { InFlight, PartitionProducers } from './transactional.js';
export { chunkMessages, messageBytes } from './chunks.js';
export type {
  Admin,
  Consumer,
  EachBatchPayload,
  EachMessagePayload,
  IHeaders,
  Kafka,
  KafkaMessage,
  Message,
  Producer,
  RecordMetadata,
  Transaction,
} from 'kafkajs';
export { CompressionTypes } from 'kafkajs';
