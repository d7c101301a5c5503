/**
 * A restore after a failure reads the anchors only once a checkpoint whose commit is on its way has
 * landed (or failed). Read before, the anchor is the one the commit replaces: if that checkpoint was
 * a snapshot, its truncation then takes the chain the restore follows, and the next node names a
 * truncated one, so every later restore fails (STATE_CORRUPT) until someone repairs it by hand.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ensureTopicsWith, type Admin, type Consumer, type Kafka } from '../../core/kafka/index.js';
import { Job } from '../../speed/index.js';
import type { InputMessage, JobLogic } from '../../speed/runtime/logic.js';
import type { KeyedState } from '../../speed/runtime/state.js';
import { kafkaClient, logger } from '../helpers/context.js';
import { intercept } from '../helpers/intercept.js';
import { committedOffsets } from '../helpers/kafka.js';
import { uniqueName } from '../helpers/names.js';
import { waitFor } from '../helpers/wait-for.js';

const real = kafkaClient();

/** Counts each key's records in the state; its batches fail while `failures` lasts. */
class CountingLogic implements JobLogic<string> {
  failures = 0;

  prepare(): Promise<void> {
    if (this.failures === 0) return Promise.resolve();
    this.failures -= 1;
    return Promise.reject(new Error('prepare failed on purpose'));
  }

  decode(input: InputMessage): string {
    return input.message.value?.toString() ?? '';
  }

  handle(item: string, _input: InputMessage, state: KeyedState): void {
    const count = state.get(item);
    state.set(item, (typeof count === 'number' ? count : 0) + 1);
  }
}

/** The Kafka client with the job's commits held while `held` is set, and its anchor reads counted. */
function instrumented(): {
  kafka: Kafka;
  hold(): void;
  release(): void;
  readonly commitsHeld: number;
  readonly anchorReads: number;
} {
  let gate: Promise<void> | undefined;
  let open: () => void = () => undefined;
  let commitsHeld = 0;
  let anchorReads = 0;
  const withCommits = intercept(
    real,
    'consumer',
    (consumer) =>
      (...args: Parameters<Kafka['consumer']>) =>
        intercept(
          consumer(...args),
          'commitOffsets',
          (commit) =>
            async (...offsets: Parameters<Consumer['commitOffsets']>) => {
              if (gate !== undefined) {
                commitsHeld += 1;
                await gate;
              }
              return commit(...offsets);
            },
        ),
  );
  const kafka = intercept(
    withCommits,
    'admin',
    (admin) =>
      (...args: Parameters<Kafka['admin']>) =>
        intercept(
          admin(...args),
          'fetchOffsets',
          (fetch) =>
            (...request: Parameters<Admin['fetchOffsets']>) => {
              anchorReads += 1;
              return fetch(...request);
            },
        ),
  );
  return {
    kafka,
    hold: () => {
      gate = new Promise((resolve) => {
        open = resolve;
      });
    },
    release: () => {
      gate = undefined;
      open();
    },
    get commitsHeld() {
      return commitsHeld;
    },
    get anchorReads() {
      return anchorReads;
    },
  };
}

describe('a restore while a checkpoint commits', () => {
  const name = uniqueName('restore');
  const topic = `${name}-input`;
  const producer = real.producer();
  const client = instrumented();
  const logic = new CountingLogic();
  const fatal: unknown[] = [];
  const job = new Job({
    name: 'counting',
    namespace: name,
    kafka: client.kafka,
    logger,
    inputTopic: topic,
    logic,
    partitions: 2,
    commitIntervalMs: 100,
    onFatal: (error) => fatal.push(error),
  });
  afterAll(async () => {
    client.release();
    await job.close();
    await producer.disconnect();
  });
  const send = (partition: number, values: readonly string[]) =>
    producer.send({ topic, messages: values.map((value) => ({ partition, value })) });
  const committed = async (partition: number): Promise<string | undefined> =>
    (await committedOffsets(real, job.groupId, topic)).get(partition);

  it(
    'reads the anchors after the commit has landed, and restores what it committed',
    { timeout: 120_000 },
    async () => {
      await ensureTopicsWith(real, [{ topic, partitions: 2 }]);
      await producer.connect();
      await job.start();
      await send(0, ['a', 'a', 'b']);
      await waitFor(async () => (await committed(0)) === '3', { description: 'the first checkpoint' });

      // The next checkpoint's commit is held; a batch of the other partition fails meanwhile.
      client.hold();
      await send(0, ['a']);
      await waitFor(() => client.commitsHeld > 0, { description: 'a checkpoint to be committing' });
      const readsBefore = client.anchorReads;
      logic.failures = 5; // every attempt of the batch (prepare is retried 5 times)
      await send(1, ['c']);
      await waitFor(() => logic.failures === 0, { description: 'the batch to fail' });
      // Its restore must not read the anchors while the commit is on its way. It would have within a
      // few hundred milliseconds (the failure's backoff is 200 ms): give it ten times that.
      const readEarly = await waitFor(() => client.anchorReads > readsBefore, {
        timeoutMs: 3_000,
        description: 'the restore to read the anchors',
      }).catch(() => false);
      expect(readEarly, 'the restore read the anchors while a commit was on its way').toBe(false);

      client.release();
      await waitFor(async () => (await committed(0)) === '4' && (await committed(1)) === '1', {
        description: 'both partitions to be committed after the restore',
      });
      // Another failure: the restore follows the chain the last checkpoints anchored.
      logic.failures = 5;
      await send(1, ['c']);
      await waitFor(async () => logic.failures === 0 && (await committed(1)) === '2', {
        description: 'the second batch of partition 1 to be committed after a second restore',
      });
      await send(0, ['a']);
      await waitFor(async () => (await committed(0)) === '5', { description: 'partition 0 to go on' });
      expect(fatal).toEqual([]);
    },
  );
});
