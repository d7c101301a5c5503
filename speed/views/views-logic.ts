/**
 * The realtime views job: folds every valid record (not the copies validation marked as re-sent)
 * into the aggregates of its (customer, ingest hour, event day, category) and, at each checkpoint,
 * upserts the aggregates changed since the last one whole into `realtime_aggregates` — idempotent,
 * never an increment. The aggregates live in the job's state (restored from its checkpoints), so a replay after a crash rewrites the same values and no view
 * counts a record twice. Records are keyed by customer, so each row has exactly one writer.
 */
import { addRecord, aggregateOf, AggregateValue } from '../../core/aggregates.js';
import {
  cassandraTypes,
  writeByPartition,
  type CassandraClient,
  type PartitionedStatement,
} from '../../core/cassandra/index.js';
import type { TributaryRecord } from '../../core/record.js';
import { resentOf } from '../../ingest/validation/headers.js';
import { utcDay } from '../../ingest/master/keys.js';
import { RecordDeserializer, type SchemaSource } from '../../ingest/serde/index.js';
import { Rejection, type InputMessage, type JobLogic } from '../runtime/logic.js';
import type { KeyedState, StateValue } from '../runtime/state.js';

const HOUR = 3_600_000;
/** An ingest hour's aggregates stay in state this long after the hour (late batches of that hour). */
const KEEP_MS = 3 * HOUR;

export function ingestHour(timestampMs: number): number {
  return Math.floor(timestampMs / HOUR) * HOUR;
}

export interface ViewsLogicOptions {
  readonly registry: SchemaSource;
  readonly cassandra: CassandraClient;
  readonly keyspace: string;
  readonly concurrency?: number;
}

export class ViewsLogic implements JobLogic<TributaryRecord> {
  private readonly deserializer: RecordDeserializer;
  private readonly upsert: string;

  constructor(private readonly options: ViewsLogicOptions) {
    this.deserializer = new RecordDeserializer({ registry: options.registry, validated: true });
    this.upsert = `INSERT INTO ${options.keyspace}.realtime_aggregates (customer_id, ingest_hour, day, category, record_count,
      amount_sum, amount_sumsq, amount_min, amount_max, first_event, last_event) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;
  }

  async prepare(inputs: readonly InputMessage[]): Promise<void> {
    await this.deserializer.prepare(inputs.map((i) => i.message.value));
  }

  decode(input: InputMessage): TributaryRecord {
    const decoded = this.deserializer.decode(input.message.value, input.message.key);
    if (!decoded.ok) throw new Rejection(decoded.code, decoded.reason);
    return decoded.record;
  }

  handle(record: TributaryRecord, input: InputMessage, state: KeyedState): void {
    // A re-sent record is one record: the master dataset stores its first occurrence only.
    if (resentOf(input.message.headers) !== undefined) return;
    const hour = ingestHour(input.timestampMs);
    const key = `agg|${record.customer_id}|${hour}|${utcDay(record.event_time)}|${record.category}`;
    state.set(key, new AggregateValue(addRecord(aggregateOf(state.get(key)), record)), hour + HOUR + KEEP_MS);
  }

  async checkpoint(_partition: number, touched: ReadonlyMap<string, StateValue>): Promise<void> {
    const statements: PartitionedStatement[] = [];
    for (const [key, value] of touched) {
      if (!key.startsWith('agg|')) continue;
      // The category is last and may itself hold '|'; the customer id, hour and day cannot.
      const [, customer = '', hour = '0', day = '', ...category] = key.split('|');
      const a = aggregateOf(value);
      statements.push({
        partition: customer,
        query: this.upsert,
        params: [
          customer,
          new Date(Number(hour)),
          cassandraTypes.LocalDate.fromString(day),
          category.join('|'),
          BigInt(a.count),
          a.sum,
          a.sumsq,
          a.min,
          a.max,
          a.first === null ? null : new Date(a.first),
          a.last === null ? null : new Date(a.last),
        ],
      });
    }
    await writeByPartition(this.options.cassandra, statements, {
      concurrency: this.options.concurrency ?? 16,
    });
  }
}
