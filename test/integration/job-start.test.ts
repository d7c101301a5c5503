/**
 * Where a new use-case job starts (`deploy --from`): its consumer group is positioned before its
 * first join, by committing offsets the broker then hands back. `latest` must commit each
 * partition's end, so that the job skips what is already there, and a timestamp the first offset at
 * or after it; a group that has committed is left alone.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ensureTopicsWith } from '../../core/kafka/index.js';
import { positionNewGroup } from '../../speed/runtime/topics.js';
import { kafkaClient } from '../helpers/context.js';
import { committedOffsets } from '../helpers/kafka.js';
import { uniqueName } from '../helpers/names.js';

const kafka = kafkaClient();

describe('positioning a new job’s group', () => {
  const producer = kafka.producer();
  afterAll(async () => {
    await producer.disconnect();
  });

  it(
    'commits the end for latest, the first offset from a time for a timestamp, and keeps what a group committed',
    {
      timeout: 120_000,
    },
    async () => {
      const topic = `${uniqueName('start')}-input`;
      await ensureTopicsWith(kafka, [{ topic, partitions: 2 }]);
      await producer.connect();
      const send = (n: number, timestamp: number): Promise<unknown> =>
        producer.send({
          topic,
          messages: Array.from({ length: n }, (_, i) => ({
            partition: i % 2,
            value: String(i),
            timestamp: String(timestamp),
          })),
        });
      const t0 = Date.parse('2026-12-01T00:00:00Z');
      await send(6, t0); // 3 per partition at t0
      await send(4, t0 + 60_000); // 2 per partition a minute later

      const latest = uniqueName('latest');
      await positionNewGroup(kafka, latest, topic, 'latest');
      expect(await committedOffsets(kafka, latest, topic)).toEqual(
        new Map([
          [0, '5'],
          [1, '5'],
        ]),
      );
      const fromTime = uniqueName('from-time');
      await positionNewGroup(kafka, fromTime, topic, t0 + 30_000);
      expect(await committedOffsets(kafka, fromTime, topic)).toEqual(
        new Map([
          [0, '3'],
          [1, '3'],
        ]),
      );
      // Positioned once: a later start (an update, a restart) continues from what it committed.
      await positionNewGroup(kafka, latest, topic, t0);
      expect(await committedOffsets(kafka, latest, topic)).toEqual(
        new Map([
          [0, '5'],
          [1, '5'],
        ]),
      );
    },
  );
});
