/**
 * The downstream job (the bottom of the diamond): applies the A/B post-filter and delivers each
 * customer's feedback. Every finding is stored in Cassandra (both variants are kept, `delivered`
 * says which one the customer receives); delivered findings are published to `feedback` and counted
 * into the daily summaries' findings by code. A finding seen before (same deterministic id) is not
 * delivered or counted again.
 */
import {
  cassandraTypes,
  writeByPartition,
  type CassandraClient,
  type PartitionedStatement,
} from '../../core/cassandra/index.js';
import type { Finding } from '../../core/finding.js';
import type { PgPool } from '../../core/postgres/index.js';
import { recordTtlSeconds, utcDay } from '../../ingest/master/keys.js';
import { AssignmentCache } from '../ab/assignments.js';
import { decodeFinding } from '../findings.js';
import { Rejection, type Emitter, type InputMessage, type JobLogic } from '../runtime/logic.js';
import type { KeyedState, StateValue } from '../runtime/state.js';
import { ingestHour } from '../views/views-logic.js';

const DAY = 86_400_000;

export interface DeliveryLogicOptions {
  readonly cassandra: CassandraClient;
  readonly pool: PgPool;
  readonly keyspace: string;
  readonly feedbackTopic: string;
  readonly retentionDays: number;
}

export class DeliveryLogic implements JobLogic<Finding> {
  private readonly assignments: AssignmentCache;
  /** Findings `prepare` decoded, for `decode`. */
  private readonly decoded = new WeakMap<object, ReturnType<typeof decodeFinding>>();
  private readonly pending = new Map<number, PartitionedStatement[]>();
  private readonly byCustomer: string;
  private readonly byUsecase: string;
  private readonly counts: string;

  constructor(private readonly options: DeliveryLogicOptions) {
    this.assignments = new AssignmentCache(options.pool);
    const ks = options.keyspace;
    this.byCustomer = `INSERT INTO ${ks}.findings_by_customer (customer_id, day, event_time, finding_id, usecase, variant, code,
      record_ids, detail, delivered, found_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TTL ?`;
    this.byUsecase = `INSERT INTO ${ks}.findings_by_usecase (usecase, day, variant, finding_id, customer_id, code, record_ids,
      delivered) VALUES (?, ?, ?, ?, ?, ?, ?, ?) USING TTL ?`;
    this.counts = `INSERT INTO ${ks}.realtime_finding_counts (customer_id, ingest_hour, day, code, finding_count) VALUES (?, ?, ?, ?, ?)`;
  }

  /**
   * Loads the A/B snapshots that decide the batch's findings (by their records' ingest time and
   * their use cases), decoding each finding once for `decode`.
   */
  async prepare(inputs: readonly InputMessage[]): Promise<void> {
    let latest = Number.NEGATIVE_INFINITY;
    const usecases = new Set<string>();
    for (const input of inputs) {
      if (input.timestampMs > latest) latest = input.timestampMs;
      const decoded = decodeFinding(input.message.value);
      this.decoded.set(input.message, decoded);
      if (decoded.ok) usecases.add(decoded.finding.usecase);
    }
    await this.assignments.refresh(latest, usecases);
  }

  decode(input: InputMessage): Finding {
    const decoded = this.decoded.get(input.message) ?? decodeFinding(input.message.value);
    this.decoded.delete(input.message);
    if (!decoded.ok) throw new Rejection('BAD_FINDING', decoded.reason);
    return decoded.finding;
  }

  handle(finding: Finding, input: InputMessage, state: KeyedState, emit: Emitter): void {
    const seenKey = `seen|${finding.findingId}`;
    if (state.get(seenKey) !== undefined) return;
    // Lifetimes count from the state's clock (the newest finding of the partition), not from this
    // finding's own time: the use cases feeding a partition run at their own pace, and a use case
    // deployed from the earliest brings findings days older than the others'. Kept from their own
    // time, those would expire as they are written: a re-sent one delivered again, counts written as 1.
    state.set(seenKey, 1, state.clock + 2 * DAY);
    // By the assignments in effect when the record was ingested: the same decision on a replay.
    const chosen = this.assignments.variantFor(finding.usecase, finding.customerId, input.timestampMs);
    const delivered = chosen === undefined || chosen === finding.variant;
    const day = cassandraTypes.LocalDate.fromString(utcDay(finding.eventTime));
    const ttl = recordTtlSeconds(finding.eventTime, this.options.retentionDays, input.timestampMs);
    const foundAt = new Date(input.timestampMs);
    const statements = this.pending.get(input.partition) ?? [];
    statements.push(
      {
        partition: `c|${finding.customerId}|${day.toString()}`,
        query: this.byCustomer,
        params: [
          finding.customerId,
          day,
          finding.eventTime,
          finding.findingId,
          finding.usecase,
          finding.variant,
          finding.code,
          [...finding.recordIds],
          finding.detail,
          delivered,
          foundAt,
          ttl,
        ],
      },
      {
        partition: `u|${finding.usecase}|${day.toString()}`,
        query: this.byUsecase,
        params: [
          finding.usecase,
          day,
          finding.variant,
          finding.findingId,
          finding.customerId,
          finding.code,
          [...finding.recordIds],
          delivered,
          ttl,
        ],
      },
    );
    this.pending.set(input.partition, statements);
    if (!delivered) return;
    const hour = ingestHour(input.timestampMs);
    const countKey = `cnt|${finding.customerId}|${hour}|${utcDay(finding.eventTime)}|${finding.code}`;
    const count = state.get(countKey);
    state.set(countKey, (typeof count === 'number' ? count : 0) + 1, state.clock + 4 * 3_600_000);
    emit.emit({
      topic: this.options.feedbackTopic,
      key: finding.customerId,
      value: input.message.value ?? '',
      headers: { 'tributary.delivered.variant': finding.variant },
      timestamp: input.message.timestamp,
    });
  }

  restored(): void {
    this.pending.clear();
  }

  /** Stores what was delivered since the partition's last checkpoint, and its findings counts. */
  async checkpoint(partition: number, touched: ReadonlyMap<string, StateValue>): Promise<void> {
    // Taken at once: batches handled while these are written go to the next checkpoint.
    const statements = this.pending.get(partition) ?? [];
    this.pending.set(partition, []);
    for (const [key, value] of touched) {
      if (!key.startsWith('cnt|')) continue;
      if (typeof value !== 'number') continue;
      const [, customer = '', hour = '0', day = '', ...code] = key.split('|'); // a code may hold '|'
      statements.push({
        partition: `n|${customer}`,
        query: this.counts,
        params: [
          customer,
          new Date(Number(hour)),
          cassandraTypes.LocalDate.fromString(day),
          code.join('|'),
          BigInt(value),
        ],
      });
    }
    await writeByPartition(this.options.cassandra, statements);
  }
}
