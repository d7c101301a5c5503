/**
 * Writes accepted records to the master dataset, idempotently: every key column comes from the
 * record, so rewriting a record (redelivery, a resumed run) overwrites it with the same values.
 * Rows of one partition go together in an unlogged single-partition batch (one mutation on the
 * replica), batches run with bounded concurrency, and `write` resolves only when all are durable.
 */
import {
  cassandraTypes,
  writeByPartition,
  type CassandraClient,
  type PartitionedStatement,
} from '../../core/cassandra/index.js';
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
    const statements: PartitionedStatement[] = [];
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
      statements.push(
        {
          partition: `d|${day}|${bucket}`,
          query: this.byDay,
          params: [localDay, bucket, record.customer_id, ...common],
        },
        {
          partition: `c|${record.customer_id}|${day}`,
          query: this.byCustomer,
          params: [record.customer_id, localDay, ...common],
        },
      );
    }
    await writeByPartition(this.options.client, statements, {
      concurrency: this.options.concurrency ?? 16,
      rowsPerBatch: this.options.rowsPerBatch ?? 50,
    });
  }
}
