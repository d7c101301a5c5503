/**
 * Writes accepted records to the master dataset, idempotently: every key column comes from the
 * record, so rewriting a record (redelivery, a resumed run) overwrites it with the same values.
 * Rows of one partition go together in an unlogged single-partition batch (one mutation on the
 * replica), batches run with bounded concurrency, and `write` resolves only when all are durable.
 */
import { cassandraTypes, type CassandraClient } from '../../core/cassandra/index.js';
import type { TributaryRecord } from '../../core/record.js';
import { recordBucket, recordTtlSeconds, utcDay } from './keys.js';

export interface StoredRecord {
  readonly record: TributaryRecord;
  readonly schemaId: number;
  /**
   * When the platform received the record (the records topic's message timestamp), so that a
   * rewrite after a replay stores the same value. Defaults to the time of the write.
   */
  readonly ingestedAt?: Date;
}

export interface MasterWriterOptions {
  readonly client: CassandraClient;
  readonly keyspace: string;
  readonly retentionDays: number;
  /** Batches in flight at once (default 16). */
  readonly concurrency?: number;
  /** Rows per single-partition batch (default 50, well under Cassandra's batch size warning). */
  readonly rowsPerBatch?: number;
}

const COLUMNS =
  'event_time, record_id, account_id, amount_minor, currency, category, country, merchant, channel, attributes, schema_id, ingested_at';

interface Statement {
  readonly query: string;
  readonly params: unknown[];
}

export class MasterDatasetWriter {
  private readonly byDay: string;
  private readonly byCustomer: string;

  constructor(private readonly options: MasterWriterOptions) {
    const ks = options.keyspace;
    this.byDay = `INSERT INTO ${ks}.records (day, bucket, customer_id, ${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TTL ?`;
    this.byCustomer = `INSERT INTO ${ks}.records_by_customer (customer_id, day, ${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TTL ?`;
  }

  /** Writes the records to both tables; resolves when every write is acknowledged. */
  async write(items: readonly StoredRecord[], now: number = Date.now()): Promise<void> {
    if (items.length === 0) return;
    const partitions = new Map<string, Statement[]>();
    const add = (key: string, statement: Statement): void => {
      const list = partitions.get(key);
      if (list === undefined) partitions.set(key, [statement]);
      else list.push(statement);
    };
    const writtenAt = new Date(now);
    for (const { record, schemaId, ingestedAt = writtenAt } of items) {
      const day = utcDay(record.event_time);
      const localDay = cassandraTypes.LocalDate.fromString(day);
      const bucket = recordBucket(record.customer_id, record.record_id);
      const ttl = recordTtlSeconds(record.event_time, this.options.retentionDays, now);
      const common = [
        record.event_time,
        record.record_id,
        record.account_id,
        record.amount_minor,
        record.currency,
        record.category,
        record.country,
        // An absent value is left unset, not written as null: a null is a tombstone per row, and
        // scans of a day would wade through them. (Records are immutable per key.)
        record.merchant ?? cassandraTypes.unset,
        record.channel ?? cassandraTypes.unset,
        record.attributes,
        schemaId,
        ingestedAt,
        ttl,
      ];
      add(`d|${day}|${bucket}`, {
        query: this.byDay,
        params: [localDay, bucket, record.customer_id, ...common],
      });
      add(`c|${record.customer_id}|${day}`, {
        query: this.byCustomer,
        params: [record.customer_id, localDay, ...common],
      });
    }
    const batches: Statement[][] = [];
    const size = this.options.rowsPerBatch ?? 50;
    for (const statements of partitions.values()) {
      for (let i = 0; i < statements.length; i += size) batches.push(statements.slice(i, i + size));
    }
    await this.runBounded(batches);
  }

  private async runBounded(batches: readonly Statement[][]): Promise<void> {
    const client = this.options.client;
    let next = 0;
    let failed = false;
    const worker = async (): Promise<void> => {
      while (next < batches.length && !failed) {
        const batch = batches[next];
        next += 1;
        if (batch === undefined) break;
        try {
          if (batch.length === 1 && batch[0] !== undefined) {
            await client.execute(batch[0].query, batch[0].params, { prepare: true, isIdempotent: true });
          } else {
            await client.batch(batch, { prepare: true, logged: false, isIdempotent: true });
          }
        } catch (error) {
          failed = true; // the other workers stop taking batches: the caller retries the whole write
          throw error;
        }
      }
    };
    const workers = Math.min(this.options.concurrency ?? 16, batches.length);
    await Promise.all(Array.from({ length: workers }, worker));
  }
}
