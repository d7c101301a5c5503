/**
 * Exact duplicate detection with bounded memory: where each (customer, record_id) first appeared in
 * the input topic is kept in Cassandra (`record_first_seen_by_bucket`), not in the job's memory. A
 * customer's records all travel in one partition, so the input offset orders them totally: a record
 * is a duplicate when the same id was seen at a smaller offset. Writes use USING TIMESTAMP
 * 2^62 − offset so the earliest occurrence wins whatever the write order, which makes replays decide
 * exactly alike. Ids are grouped by (customer, bucket): a batch costs one read and one write per group,
 * not per record.
 */
import { runBounded, writeByPartition, type CassandraClient } from '../../core/cassandra/index.js';
import { fnv1a32 } from '../../core/hash.js';

const TIMESTAMP_BASE = 2n ** 62n;
export const FIRST_SEEN_BUCKETS = 32;
/** Record ids per read (`record_id IN …`), well under Cassandra's limits on IN lists. */
const IDS_PER_READ = 100;

export interface Occurrence {
  readonly customerId: string;
  readonly recordId: string;
  readonly partition: number;
  readonly offset: bigint;
}

function idKey(customerId: string, recordId: string): string {
  return `${customerId}\u0000${recordId}`;
}

export function firstSeenBucket(recordId: string): number {
  return fnv1a32(recordId) % FIRST_SEEN_BUCKETS;
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
    this.select = `SELECT record_id, source_offset FROM ${keyspace}.record_first_seen_by_bucket WHERE customer_id = ? AND bucket = ? AND record_id IN ?`;
    this.insert = `INSERT INTO ${keyspace}.record_first_seen_by_bucket (customer_id, bucket, record_id, source_partition, source_offset) VALUES (?, ?, ?, ?, ?) USING TIMESTAMP ? AND TTL ?`;
  }

  /** Loads what is known about the ids of a partition's batch: one read per (customer, bucket). */
  async load(partition: number, occurrences: readonly Occurrence[]): Promise<void> {
    const groups = new Map<string, { customerId: string; bucket: number; ids: Set<string> }>();
    for (const o of occurrences) {
      const bucket = firstSeenBucket(o.recordId);
      const group = `${o.customerId}\u0000${bucket}`;
      let entry = groups.get(group);
      if (entry === undefined) {
        entry = { customerId: o.customerId, bucket, ids: new Set() };
        groups.set(group, entry);
      }
      entry.ids.add(o.recordId);
    }
    const reads: { customerId: string; bucket: number; ids: string[] }[] = [];
    for (const { customerId, bucket, ids } of groups.values()) {
      const all = [...ids];
      for (let i = 0; i < all.length; i += IDS_PER_READ)
        reads.push({ customerId, bucket, ids: all.slice(i, i + IDS_PER_READ) });
    }
    const known = new Map<string, bigint>();
    await runBounded(reads, 16, async ({ customerId, bucket, ids }) => {
      const result = await this.client.execute(this.select, [customerId, bucket, ids], {
        prepare: true,
        isIdempotent: true,
      });
      for (const row of result.rows) {
        const recordId: unknown = row.get('record_id');
        const offset: unknown = row.get('source_offset');
        if (typeof recordId === 'string' && typeof offset === 'bigint')
          known.set(idKey(customerId, recordId), offset);
      }
    });
    this.known.set(partition, known);
    this.fresh.set(partition, []);
  }

  /** True when this id was seen before at a smaller offset; records the occurrence otherwise. */
  isDuplicate(occurrence: Occurrence): boolean {
    const known = this.known.get(occurrence.partition) ?? new Map<string, bigint>();
    const key = idKey(occurrence.customerId, occurrence.recordId);
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
    await writeByPartition(
      this.client,
      occurrences.map((o) => {
        const bucket = firstSeenBucket(o.recordId);
        return {
          partition: `${o.customerId}\u0000${bucket}`,
          query: this.insert,
          params: [
            o.customerId,
            bucket,
            o.recordId,
            o.partition,
            o.offset,
            TIMESTAMP_BASE - o.offset,
            this.horizonSeconds,
          ],
        };
      }),
    );
    this.fresh.set(partition, []);
  }
}
