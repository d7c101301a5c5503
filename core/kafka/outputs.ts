/**
 * A job's producer: idempotent (the broker drops a retried request's duplicate), acks from every
 * in-sync replica, one request in flight so that a partition's messages land in the order sent.
 * Outputs are sent in requests that stay under the broker's size limit; the result gives, per
 * partition of each request, the offset of its first message.
 */
import type { Kafka, Message, Producer, RecordMetadata, TopicMessages } from 'kafkajs';
import { chunkTopicMessages } from './chunks.js';

export interface TopicOutputs {
  readonly topic: string;
  readonly messages: readonly Message[];
}

export class OutputProducer {
  private readonly producer: Producer;
  private connected: Promise<void> | undefined;

  constructor(kafka: Kafka) {
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  }

  connect(): Promise<void> {
    this.connected ??= this.producer.connect();
    return this.connected;
  }

  /** Sends everything, in order per partition; resolves once every message is acknowledged. */
  async send(outputs: readonly TopicOutputs[]): Promise<RecordMetadata[]> {
    await this.connect();
    const results: RecordMetadata[] = [];
    for (const chunk of chunkTopicMessages(outputs)) results.push(...(await this.sendRequest(chunk)));
    return results;
  }

  /** One request (the caller keeps it under the size limit, e.g. with chunkTopicMessages). */
  async sendRequest(topicMessages: TopicMessages[]): Promise<RecordMetadata[]> {
    await this.connect();
    return this.producer.sendBatch({ acks: -1, topicMessages });
  }

  async close(): Promise<void> {
    if (this.connected === undefined) return;
    await this.connected.catch(() => undefined);
    await this.producer.disconnect();
  }
}
