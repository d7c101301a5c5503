export { createKafka, KafkaReadiness, probeKafka, type KafkaClientOptions } from './client.js';
export {
  ConfigResourceTypes,
  deleteTopicsStartingWith,
  ensureTopics,
  ensureTopicsWith,
  type TopicSpec,
} from './topics.js';
export { InFlight } from './in-flight.js';
export { FetchCycles, type Contribution } from './fetch-cycles.js';
export { LazyCommits } from './lazy-commits.js';
export { BULK_FETCH_MIN_BYTES } from './fetching.js';
export { FetchPacer } from './fetch-pacer.js';
export { OutputProducer, type TopicOutputs } from './outputs.js';
export { memberPartitions, slotAssigner, slotOf } from './slots.js';
export { chunkTopicMessages, messageBytes } from './chunks.js';
export { onConsumerCrash, stopFetching } from './consumer-life.js';
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
