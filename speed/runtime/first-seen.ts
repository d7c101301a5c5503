/**
 * Exact duplicate detection with bounded memory: where each (customer, record_id) first appeared in
 * the input topic is kept in Cassandra (`record_first_seen`), not in the job's memory. A customer's
 * records all travel in one partition, so the input offset orders them totally: a record is a
 * duplicate when the same id was seen at a smaller offset. Writes use USING TIMESTAMP 2^62 − offset so
 * the earliest occurrence wins whatever the write order, which makes replays decide exactly alike.
 */
import type { CassandraClient } from '../../core/cassandra/index.js';
import { runBounded } from '../views/views-logic.js';

const TIMESTAMP_BASE = 2n ** 62n;

export interface Occurrence {
  readonly customerId: string;
  readonly recordId: string;
  readonly partition: number;
  readonly offset: bigint;
}

export class FirstSeenIndex {
  /** Per partition: key → smallest offset known (from Cassandra or from this batch). */
  private readonly known = new Map<number, Map<string, bigint>>();
  private readonly fresh = new Map<number, Occurrence[]>();
  private readonly select: string;
  private readonly insert: string;

  constructor(
    private readonly client: CassandraClient,
    keyspace: string,
    private readonly horizonSeconds: number,
  ) {
    this.select = `SELECT source_offset FROM ${keyspace}.record_first_seen WHERE customer_id = ? AND record_id = ?`;
    this.insert = `INSERT INTO ${keyspace}.record_first_seen (customer_id, record_id, source_partition, source_offset) VALUES (?, ?, ?, ?) USING TIMESTAMP ? AND TTL ?`;
  }

  /** Loads what is known about the ids of a partition's batch (bounded concurrency). */
  async load(partition: number, occurrences: readonly Occurrence[]): Promise<void> {
    const known = new Map<string, bigint>();
    const keys = [...new Map(occurrences.map((o) => [`${o.customerId}\u0000${o.recordId}`, o])).values()];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < keys.length) {
        const o = keys[next];
        next += 1;
        if (o === undefined) continue;
        const result = await this.client.execute(this.select, [o.customerId, o.recordId], {
          prepare: true,
          isIdempotent: true,
        });
        const offset: unknown = result.rows[0]?.get('source_offset');
        if (typeof offset === 'bigint') known.set(`${o.customerId}\u0000${o.recordId}`, offset);
      }
    };
    await Promise.all(Array.from({ length: Math.min(64, keys.length) }, worker));
    this.known.set(partition, known);
    this.fresh.set(partition, []);
  }

  /** True when this id was seen before at a smaller offset; records the occurrence otherwise. */
  isDuplicate(occurrence: Occurrence): boolean {
    const known = this.known.get(occurrence.partition) ?? new Map<string, bigint>();
    const key = `${occurrence.customerId}\u0000${occurrence.recordId}`;
    const first = known.get(key);
    if (first !== undefined && first < occurrence.offset) return true;
    if (first === undefined || occurrence.offset < first) {
      known.set(key, occurrence.offset);
      this.fresh.get(occurrence.partition)?.push(occurrence);
    }
    return false;
  }

  /** Writes the first occurrences of the batch (idempotent; the earliest wins). */
  async flush(partition: number): Promise<void> {
    const occurrences = this.fresh.get(partition) ?? [];
    await runBounded(
      this.client,
      occurrences.map((o) => ({
        query: this.insert,
        params: [
          o.customerId,
          o.recordId,
          o.partition,
          o.offset,
          TIMESTAMP_BASE - o.offset,
          this.horizonSeconds,
        ],
      })),
      32,
    );
    this.fresh.set(partition, []);
  }
}
