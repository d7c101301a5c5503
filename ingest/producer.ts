/**
 * Produces records to the records topic: Avro in the Confluent wire format, keyed by customer id,
 * idempotent producer, acknowledged by all in-sync replicas. `send` resolves only once Kafka has
 * acknowledged every record.
 */
import type { Kafka, Producer } from '../core/kafka/index.js';
import type { TributaryRecord } from '../core/record.js';
import type { RecordSerializer } from './serde/index.js';

export class RecordProducer {
  private readonly producer: Producer;
  private connected = false;

  constructor(
    kafka: Kafka,
    private readonly topic: string,
    private readonly serializer: RecordSerializer,
  ) {
    this.producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 5,
      allowAutoTopicCreation: false,
    });
  }

  get schemaId(): number {
    return this.serializer.schemaId;
  }

  async connect(): Promise<void> {
    await this.producer.connect();
    this.connected = true;
  }

  /** Encodes and sends; all records or an error (the caller may retry: writes are idempotent downstream). */
  async send(records: readonly TributaryRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.producer.send({
      topic: this.topic,
      acks: -1,
      messages: records.map((record) => ({ key: record.customer_id, value: this.serializer.encode(record) })),
    });
  }

  /** Sends pre-encoded values (the generator's bad data, benchmarks). */
  async sendRaw(messages: readonly { key: string | null; value: Buffer }[]): Promise<void> {
    if (messages.length === 0) return;
    await this.producer.send({ topic: this.topic, acks: -1, messages: [...messages] });
  }

  async close(): Promise<void> {
    if (!this.connected) return;
    this.connected = false;
    await this.producer.disconnect();
  }
}
