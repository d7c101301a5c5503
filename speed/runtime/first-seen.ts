/**
 * Exact detection of re-sent records with bounded memory: where each (customer, record_id) first
 * appeared in the `records` topic is kept in Cassandra (`record_first_seen_upstream`), not in memory.
 * The validation job keeps it and marks re-sent records on their way to records.valid, so every job
 * downstream agrees on them. A customer's records all travel in one partition, so the offset orders
 * them totally: a record is re-sent when the same id was seen at a smaller offset. Writes use USING
 * TIMESTAMP 2^62 − offset so the earliest occurrence wins whatever the write order, which makes
 * replays decide exactly alike. First occurrences wait in memory for the next checkpoint and are
 * written then, grouped by (partition, bucket); a Bloom filter in the job's state spares the read of
 * ids certainly never seen, and the ids written lately stay in memory (RECENT_IDS per partition), so
 * reads are for ids re-sent long after, and false positives, only. A read sits on the record's way to
 * feedback (and waits out Cassandra's GC pauses): at 2,000 records/s with 1 % re-sent, ~6 batches a
 * second waited for one when every read went to Cassandra; none do now.
 */
import { runBounded, writeByPartition, type CassandraClient } from '../../core/cassandra/index.js';
import { fnv1a32 } from '../../core/hash.js';
import { IdFilter } from './id-filter.js';
import type { StateExtension } from './store.js';

const TIMESTAMP_BASE = 2n ** 62n;
export const FIRST_SEEN_BUCKETS = 64;
/** Record ids per read (`record_id IN …`), well under Cassandra's limits on IN lists. */
const IDS_PER_READ = 100;
/**
 * Ids written to Cassandra that each partition keeps answering from memory, at least the last
 * RECENT_IDS and at most twice as many (two generations, the older one dropped whole): re-sends mostly
 * come soon (a producer's retry): at 2,000 records/s over six partitions that is the last 6–12 s.
 * More costs memory: 10,000 raised data-quality's peak on speed-memory's 1M drain by ~40 MB.
 */
export const RECENT_IDS = 2_000;

/** key → offset of first occurrences written lately, from `sinceMs` (their earliest ingest time). */
interface Generation {
  readonly ids: Map<string, bigint>;
  sinceMs: number;
}

function lookUp(
  generation: Generation | undefined,
  key: string,
  atMs: number,
  forMs: number,
): bigint | undefined {
  return generation !== undefined && atMs - generation.sinceMs < forMs ? generation.ids.get(key) : undefined;
}

/** `current` fills up, then becomes `previous`; the previous one is dropped whole. */
interface Recent {
  current: Generation;
  previous: Generation | undefined;
}

export interface Occurrence {
  readonly customerId: string;
  readonly recordId: string;
  readonly partition: number;
  readonly offset: bigint;
  /** Ingest time: the state's clock when the record is handled (deterministic under replay). */
  readonly timestampMs: number;
}

/** Bits of each of the filter's three generations (2 MiB each: ~1.7M ids at 1 % false positives). */
export const DEFAULT_FILTER_BITS = 16 * 1024 * 1024;
const GENERATIONS = 3;

function idKey(customerId: string, recordId: string): string {
  return `${customerId}\u0000${recordId}`;
}

export function firstSeenBucket(recordId: string): number {
  return fnv1a32(recordId) % FIRST_SEEN_BUCKETS;
}

export class FirstSeenIndex {
  /** Per partition: key → smallest offset read from Cassandra for the batch in hand. */
  private readonly known = new Map<number, Map<string, bigint>>();
  /** Per partition: first occurrences not written yet (they are, at the next checkpoint). */
  private readonly pending = new Map<number, Map<string, Occurrence>>();
  /** Per partition: first occurrences being written by a checkpoint (still looked up here). */
  private readonly flushing = new Map<number, Map<string, Occurrence>>();
  /** Per partition: the first occurrences written lately (at least the last RECENT_IDS). */
  private readonly recent = new Map<number, Recent>();
  /**
   * A generation answers only while its oldest id is younger than this (half the horizon): past it,
   * Cassandra's row may have expired and memory must not say "seen" where the index would not.
   */
  private readonly recentForMs: number;
  /** Per partition: which ids Cassandra may hold, so that the others are not read (job state). */
  private readonly filters = new Map<number, IdFilter>();
  private readonly select: string;
  private readonly insert: string;

  constructor(
    private readonly client: CassandraClient,
    keyspace: string,
    private readonly horizonSeconds: number,
    private readonly filterBits = DEFAULT_FILTER_BITS,
  ) {
    this.recentForMs = (horizonSeconds * 1000) / 2;
    this.select = `SELECT record_id, source_offset FROM ${keyspace}.record_first_seen_upstream WHERE source_partition = ? AND bucket = ? AND customer_id = ? AND record_id IN ?`;
    this.insert = `INSERT INTO ${keyspace}.record_first_seen_upstream (source_partition, bucket, customer_id, record_id, source_offset) VALUES (?, ?, ?, ?, ?) USING TIMESTAMP ? AND TTL ?`;
  }

  /**
   * A new, empty filter for a partition (the state store fills it on restore and checkpoints it).
   * Ids are remembered for at least the horizon: three generations of half of it.
   */
  extension(partition: number): StateExtension {
    const filter = new IdFilter({
      bits: this.filterBits,
      generationMs: Math.ceil((this.horizonSeconds * 1000) / (GENERATIONS - 1)),
      generations: GENERATIONS,
    });
    this.filters.set(partition, filter);
    return filter;
  }

  private pendingOf(partition: number): Map<string, Occurrence> {
    let pending = this.pending.get(partition);
    if (pending === undefined) {
      pending = new Map();
      this.pending.set(partition, pending);
    }
    return pending;
  }

  /**
   * Loads what Cassandra knows about the ids of a partition's batch that memory does not answer:
   * one read per (customer, bucket). What memory answers is kept with the batch too: a checkpoint's
   * flush that ends before the batch is handled moves its ids to the recent ones, which keep only
   * the last RECENT_IDS or so, and an id so dropped was not read either.
   */
  async load(partition: number, occurrences: readonly Occurrence[]): Promise<void> {
    const pending = this.pendingOf(partition);
    const filter = this.filters.get(partition);
    const groups = new Map<string, { customerId: string; bucket: number; ids: Set<string> }>();
    const flushing = this.flushing.get(partition);
    const known = new Map<string, bigint>();
    for (const o of occurrences) {
      const key = idKey(o.customerId, o.recordId);
      const inMemory = pending.get(key)?.offset ?? flushing?.get(key)?.offset ?? this.recentOffset(o, key);
      if (inMemory !== undefined) {
        known.set(key, inMemory);
        continue;
      }
      if (filter !== undefined && !filter.mightContain(key, o.timestampMs)) continue; // certainly not in Cassandra
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
    await runBounded(reads, 16, async ({ customerId, bucket, ids }) => {
      const result = await this.client.execute(this.select, [partition, bucket, customerId, ids], {
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
  }

  /**
   * The offset where this id was seen before, when it was (the record is re-sent); otherwise
   * undefined, and the occurrence is recorded as the first.
   */
  earlierOffset(occurrence: Occurrence): bigint | undefined {
    const pending = this.pendingOf(occurrence.partition);
    const key = idKey(occurrence.customerId, occurrence.recordId);
    const first =
      pending.get(key)?.offset ??
      this.flushing.get(occurrence.partition)?.get(key)?.offset ??
      this.recentOffset(occurrence, key) ??
      this.known.get(occurrence.partition)?.get(key);
    if (first !== undefined && first < occurrence.offset) return first;
    // Also when Cassandra holds this very occurrence (a replay of a write the state's filter had not
    // kept, read on a false positive): rewritten alike, and the filter must say "maybe" from now on.
    pending.set(key, occurrence);
    this.filters.get(occurrence.partition)?.add(key, occurrence.timestampMs);
    return undefined;
  }

  /**
   * Writes the pending first occurrences of a partition (idempotent; the earliest wins). What it
   * writes is taken at once, so handling can go on meanwhile; until written, it is still looked up.
   */
  async flush(partition: number): Promise<void> {
    const pending = this.pending.get(partition);
    if (pending === undefined || pending.size === 0) return;
    this.pending.set(partition, new Map());
    this.flushing.set(partition, pending);
    await writeByPartition(
      this.client,
      [...pending.values()].map((o) => {
        const bucket = firstSeenBucket(o.recordId);
        return {
          partition: `${o.partition}|${bucket}`,
          query: this.insert,
          params: [
            o.partition,
            bucket,
            o.customerId,
            o.recordId,
            o.offset,
            TIMESTAMP_BASE - o.offset,
            this.horizonSeconds,
          ],
        };
      }),
    );
    if (this.flushing.get(partition) !== pending) return; // reset meanwhile
    this.flushing.delete(partition);
    let recent = this.recent.get(partition);
    for (const [key, o] of pending) {
      if (recent === undefined || recent.current.ids.size >= RECENT_IDS) {
        recent = { current: { ids: new Map(), sinceMs: o.timestampMs }, previous: recent?.current };
        this.recent.set(partition, recent);
      }
      recent.current.ids.set(key, o.offset);
      recent.current.sinceMs = Math.min(recent.current.sinceMs, o.timestampMs);
    }
  }

  /** The offset memory holds for this id, from a generation still young enough to answer. */
  private recentOffset(occurrence: Occurrence, key: string): bigint | undefined {
    const recent = this.recent.get(occurrence.partition);
    if (recent === undefined) return undefined;
    const atMs = occurrence.timestampMs;
    return (
      lookUp(recent.current, key, atMs, this.recentForMs) ??
      lookUp(recent.previous, key, atMs, this.recentForMs)
    );
  }

  /** Forgets what was not written (after a restore, those records are handled again). */
  reset(): void {
    this.pending.clear();
    this.flushing.clear();
    this.recent.clear();
    this.known.clear();
  }
}
