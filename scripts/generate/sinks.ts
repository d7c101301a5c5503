/** Where generated records go: Kafka (Avro, wire format) or the ingest gateway (JSON over HTTP). */
import { TributaryError } from '../../core/errors.js';
import type { PgPool } from '../../core/postgres/index.js';
import type { TributaryRecord } from '../../core/record.js';
import { addCustomer, createApiKey, getCustomer } from '../../core/tenants/index.js';
import { recordToJson } from '../../ingest/contract/json.js';
import { frame, type RecordSerializer } from '../../ingest/serde/index.js';
import type { RecordProducer } from '../../ingest/producer.js';
import type { BadKind, Generated } from './model.js';

export interface Sink {
  /** Accepts one item; may buffer. */
  add(item: Generated): Promise<void>;
  /** Sends everything buffered and waits for acknowledgement. */
  flush(): Promise<void>;
  /** Per-record refusals reported by the destination (the gateway), if any. */
  readonly refused: number;
}

/** The bytes of a bad message of each kind, derived from a real record. */
export function badBytes(kind: BadKind, record: TributaryRecord, serializer: RecordSerializer): Buffer {
  const good = serializer.encode(record);
  switch (kind) {
    case 'bad-magic':
      return Buffer.concat([Buffer.from([0x7b]), good.subarray(1)]);
    case 'truncated':
      return good.subarray(0, Math.max(6, good.length - 9));
    case 'unknown-schema':
      return frame(2_000_000_000, good.subarray(5));
    case 'garbage':
      // A record followed by bytes no schema accounts for.
      return Buffer.concat([good, Buffer.from('\u00ff\u00fe not avro \u0001\u0002', 'latin1')]);
    case 'invalid-value':
      return serializer.encode({ ...record, currency: record.currency.toLowerCase() });
    case 'missing-field':
      return serializer.encode({ ...record, record_id: '' });
  }
}

export class KafkaSink implements Sink {
  private buffer: { key: string | null; value: Buffer }[] = [];
  readonly refused = 0;

  constructor(
    private readonly producer: RecordProducer,
    private readonly serializer: RecordSerializer,
    private readonly batchSize = 1_000,
  ) {}

  async add(item: Generated): Promise<void> {
    const value =
      item.kind === 'bad'
        ? badBytes(item.bad, item.record, this.serializer)
        : this.serializer.encode(item.record);
    this.buffer.push({ key: item.record.customer_id, value });
    if (this.buffer.length >= this.batchSize) await this.flush();
  }

  async flush(): Promise<void> {
    const messages = this.buffer;
    this.buffer = [];
    await this.producer.sendRaw(messages);
  }
}

/** The JSON form of a bad record of each kind: each one must be refused by the gateway. */
export function badJson(kind: BadKind, record: TributaryRecord): Record<string, unknown> {
  const json = recordToJson(record);
  switch (kind) {
    case 'bad-magic':
      return { ...json, amount_minor: 'twelve' };
    case 'truncated': {
      const { account_id: _dropped, ...rest } = json;
      return rest;
    }
    case 'unknown-schema':
      return { ...json, unexpected_field: true };
    case 'garbage':
      return { ...json, event_time: 'last tuesday' };
    case 'invalid-value':
      return { ...json, currency: String(json.currency).toLowerCase() };
    case 'missing-field':
      return { ...json, record_id: '' };
  }
}

export interface GatewaySinkOptions {
  readonly url: string;
  readonly pool: PgPool;
  readonly batchSize?: number;
}

/** Posts each customer's records with that customer's own API key (created for this run). */
export class GatewaySink implements Sink {
  private readonly buffers = new Map<string, unknown[]>();
  private readonly keys = new Map<string, string>();
  refused = 0;

  constructor(private readonly options: GatewaySinkOptions) {}

  private async keyFor(customerId: string): Promise<string> {
    let key = this.keys.get(customerId);
    if (key === undefined) {
      if ((await getCustomer(this.options.pool, customerId)) === undefined) {
        await addCustomer(this.options.pool, customerId, `Generated ${customerId}`).catch(
          (error: unknown) => {
            if (!(error instanceof TributaryError && error.code === 'CONFLICT')) throw error;
          },
        );
      }
      key = (await createApiKey(this.options.pool, customerId)).key;
      this.keys.set(customerId, key);
    }
    return key;
  }

  async add(item: Generated): Promise<void> {
    const customer = item.record.customer_id;
    const body = item.kind === 'bad' ? badJson(item.bad, item.record) : recordToJson(item.record);
    let buffer = this.buffers.get(customer);
    if (buffer === undefined) {
      buffer = [];
      this.buffers.set(customer, buffer);
    }
    buffer.push(body);
    if (buffer.length >= (this.options.batchSize ?? 500)) {
      this.buffers.delete(customer);
      await this.post(customer, buffer);
    }
  }

  async flush(): Promise<void> {
    const pending = [...this.buffers];
    this.buffers.clear();
    for (const [customer, records] of pending) await this.post(customer, records);
  }

  private async post(customer: string, records: unknown[]): Promise<void> {
    const key = await this.keyFor(customer);
    const response = await fetch(`${this.options.url.replace(/\/+$/, '')}/v1/records`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ records }),
    });
    const answer: unknown = await response.json();
    if (!response.ok) {
      throw new TributaryError(
        'UNAVAILABLE',
        `gateway answered ${response.status}: ${JSON.stringify(answer)}`,
        {
          retriable: response.status >= 500,
        },
      );
    }
    const rejected = (answer as { rejected?: unknown }).rejected;
    if (typeof rejected === 'number') this.refused += rejected;
  }
}
