/**
 * A job's state store against the real broker: checkpoints written to the state topic, restored from
 * the anchor a commit names, snapshots taken once the deltas outgrow them, and the state topic
 * truncated before an anchored snapshot — so a restore reads the snapshot and what follows, not the
 * whole history.
 */
import { describe, expect, it } from 'vitest';
import { ensureTopicsWith, OutputProducer } from '../../core/kafka/index.js';
import { StateStore, type CommitRequest, type Committed } from '../../speed/runtime/store.js';
import { kafkaClient, logger } from '../helpers/context.js';
import { uniqueName } from '../helpers/names.js';
import { waitFor } from '../helpers/wait-for.js';

const kafka = kafkaClient();

async function lowWatermark(topic: string, partition: number): Promise<bigint> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return BigInt(offsets.find((o) => o.partition === partition)?.low ?? '0');
  } finally {
    await admin.disconnect();
  }
}

describe('state store', () => {
  it('restores from the committed anchor, snapshots, and truncates behind a snapshot', async () => {
    const topic = uniqueName('state');
    await ensureTopicsWith(kafka, [{ topic, partitions: 2 }]);
    const producer = new OutputProducer(kafka);
    const options = { kafka, topic, producer, logger, snapshotBytes: 20_000 };
    const writer = new StateStore(options);
    let committed: readonly CommitRequest[] = [];
    const commit = (requests: readonly CommitRequest[]): Promise<void> => {
      committed = requests;
      return Promise.resolve();
    };
    try {
      const part = writer.get(1);
      for (let round = 0; round < 30; round += 1) {
        for (let i = 0; i < 50; i += 1) part.state.set(`key-${i}`, { round, padding: 'x'.repeat(20) });
        part.state.set(`only-${round}`, round);
        part.state.commitRecord();
        part.through = BigInt(round * 100 + 99);
        await writer.checkpoint(() => true, commit);
      }
      expect(committed.map((c) => c.offset)).toEqual(['3000']);
      // Snapshots were taken and the partition truncated before the last anchored one.
      await waitFor(async () => (await lowWatermark(topic, 1)) > 0n, {
        timeoutMs: 30_000,
        description: 'the state topic to be truncated behind a snapshot',
      });

      const reader = new StateStore(options);
      const anchor = committed[0];
      if (anchor === undefined) throw new Error('nothing committed');
      await reader.restore(
        new Map<number, Committed>([
          [1, { offset: BigInt(anchor.offset), metadata: anchor.metadata }],
          [0, { offset: -1n, metadata: null }],
        ]),
      );
      const restored = reader.get(1);
      expect(restored.through).toBe(2_999n);
      expect(restored.state.get('key-7')).toEqual({ round: 29, padding: 'x'.repeat(20) });
      expect(restored.state.get('only-3')).toBe(3);
      expect(restored.state.get('only-29')).toBe(29);
      expect(restored.state.size).toBe(80);
      expect(reader.get(0).through).toBe(-1n);
      await reader.close();
    } finally {
      await writer.close();
      await producer.close();
    }
  });
});
