/**
 * data-quality's duplicate index against the real Cassandra: a re-sent id is a duplicate whether its
 * first occurrence is answered from memory (written lately) or read back from the table (after a
 * restore, or once memory let it go), and ids written lately cost no read — a read sits on the
 * record's way to feedback.
 */
import { describe, expect, it } from 'vitest';
import type { CassandraClient } from '../../core/cassandra/index.js';
import { FirstSeenIndex, RECENT_IDS, type Occurrence } from '../../speed/runtime/first-seen.js';
import { IdFilter } from '../../speed/runtime/id-filter.js';
import { cassandraClient } from '../helpers/context.js';
import { intercept } from '../helpers/intercept.js';
import { ingestWorld } from '../helpers/ingest.js';

const client = cassandraClient();

/** The real client, counting the index reads that go through it. */
function counting(real: CassandraClient): { client: CassandraClient; reads: () => number } {
  let reads = 0;
  const client = intercept(
    real,
    'execute',
    (execute) =>
      ((...args: Parameters<CassandraClient['execute']>) => {
        if (args[0].trimStart().startsWith('SELECT')) reads += 1;
        return execute(...args);
      }) as CassandraClient['execute'],
  );
  return { client, reads: () => reads };
}

const occurrence = (i: number, offset: bigint): Occurrence => ({
  customerId: `c-${i % 7}`,
  recordId: `r-${i}`,
  partition: 0,
  offset,
  timestampMs: 1_790_000_000_000 + Number(offset),
});

/** What validation does with a batch: load, then ask each record in order. */
async function handle(index: FirstSeenIndex, batch: readonly Occurrence[]): Promise<boolean[]> {
  await index.load(0, batch);
  return batch.map((o) => index.earlierOffset(o) !== undefined);
}

describe('first-seen index', () => {
  it(
    'answers lately written ids from memory and older ones from Cassandra, exactly',
    { timeout: 120_000 },
    async () => {
      const { keyspace } = await ingestWorld('http://127.0.0.1:9');
      const { client: reading, reads } = counting(client);
      const index = new FirstSeenIndex(reading, keyspace, 86_400);
      // As restored from a checkpoint that covers the horizon (a new filter cannot say "never seen").
      const filter = index.extension(0);
      if (!(filter instanceof IdFilter)) throw new Error('the index extension is its Bloom filter');
      filter.markComplete();

      const firsts = Array.from({ length: 200 }, (_, i) => occurrence(i, BigInt(i)));
      expect(await handle(index, firsts)).toEqual(firsts.map(() => false));
      await index.flush(0);

      // Re-sent soon after: duplicates, and no read.
      const before = reads();
      const resent = [occurrence(5, 300n), occurrence(150, 301n), occurrence(999, 302n)];
      expect(await handle(index, resent)).toEqual([true, true, false]);
      expect(reads()).toBe(before);
      await index.flush(0);

      // Half a horizon later memory no longer answers (Cassandra's row may have expired): it reads.
      const late = { ...occurrence(7, 350n), timestampMs: occurrence(7, 0n).timestampMs + 43_200_000 };
      expect(await handle(index, [late])).toEqual([true]);
      expect(reads()).toBe(before + 1);

      // After a restore the memory is gone: the table answers, with the same verdicts.
      index.reset();
      expect(await handle(index, [occurrence(5, 400n), occurrence(1_000, 401n)])).toEqual([true, false]);
      expect(reads()).toBeGreaterThan(before);
      await index.flush(0);

      // Memory keeps at least the last RECENT_IDS ids written and at most twice as many: the oldest
      // is read back, still a duplicate.
      const many = Array.from({ length: 2 * RECENT_IDS + 10 }, (_, i) =>
        occurrence(10_000 + i, BigInt(1_000 + i)),
      );
      await handle(index, many);
      await index.flush(0);
      const readsBefore = reads();
      const oldest = many[0] as Occurrence;
      const newest = many.at(-1) as Occurrence;
      expect(await handle(index, [{ ...newest, offset: 50_000n }])).toEqual([true]);
      expect(reads()).toBe(readsBefore);
      expect(await handle(index, [{ ...oldest, offset: 50_001n }])).toEqual([true]);
      expect(reads()).toBe(readsBefore + 1);
    },
  );

  it(
    'a re-send loaded while a checkpoint writes its first occurrence is a duplicate, however many that checkpoint writes',
    { timeout: 120_000 },
    async () => {
      const { keyspace } = await ingestWorld('http://127.0.0.1:9');
      const index = new FirstSeenIndex(client, keyspace, 86_400);
      const filter = index.extension(0);
      if (!(filter instanceof IdFilter)) throw new Error('the index extension is its Bloom filter');
      filter.markComplete();
      // A backlog: more first occurrences between two checkpoints than memory keeps once written.
      const firsts = Array.from({ length: 2 * RECENT_IDS + 500 }, (_, i) => occurrence(i, BigInt(i)));
      expect(await handle(index, firsts)).toEqual(firsts.map(() => false));
      // The checkpoint starts writing them; the next batch, which re-sends the first, is loaded
      // meanwhile (memory answers it, so it is not read), and handled once the write has ended.
      const writing = index.flush(0);
      const resent = { ...(firsts[0] as Occurrence), offset: 10_000n };
      await index.load(0, [resent]);
      await writing;
      expect(index.earlierOffset(resent)).toBe(0n);
    },
  );

  it(
    'an id read back on a false positive of the filter is in the filter from then on',
    { timeout: 120_000 },
    async () => {
      const { keyspace } = await ingestWorld('http://127.0.0.1:9');
      const writer = new FirstSeenIndex(client, keyspace, 86_400);
      const first = occurrence(1, 7n);
      await handle(writer, [first]);
      await writer.flush(0);
      // Replayed by a job whose restored filter had not kept it, and that reads it on a false positive.
      const index = new FirstSeenIndex(client, keyspace, 86_400);
      const filter = index.extension(0);
      if (!(filter instanceof IdFilter)) throw new Error('the index extension is its Bloom filter');
      filter.markComplete();
      const key = `${first.customerId}\u0000${first.recordId}`;
      expect(filter.mightContain(key, first.timestampMs)).toBe(false);
      const mightContain = filter.mightContain.bind(filter);
      filter.mightContain = () => true;
      expect(await handle(index, [first])).toEqual([false]);
      filter.mightContain = mightContain;
      expect(filter.mightContain(key, first.timestampMs)).toBe(true);
    },
  );
});
