/**
 * The consumer-lag gauge operators and the demo rely on ("caught up?") must not read 0 while a job
 * is working through a batch. A job that has caught up, then fetches a large batch, used to report
 * the lag of its previous batch (0) for as long as the new batch took.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ensureTopicsWith } from '../../core/kafka/index.js';
import type { InputMessage, JobLogic } from '../../speed/runtime/logic.js';
import { Job } from '../../speed/index.js';
import { kafkaClient, logger } from '../helpers/context.js';
import { uniqueName } from '../helpers/names.js';
import { waitFor } from '../helpers/wait-for.js';

const kafka = kafkaClient();

/** Takes each message as is; a batch waits in `prepare` while the gate is closed. */
class GatedLogic implements JobLogic<string> {
  handled = 0;
  private gate: Promise<void> = Promise.resolve();
  private openGate: () => void = () => undefined;
  waiting = false;

  close(): void {
    this.gate = new Promise((resolve) => {
      this.openGate = resolve;
    });
  }

  open(): void {
    this.openGate();
  }

  async prepare(): Promise<void> {
    this.waiting = true;
    await this.gate;
    this.waiting = false;
  }

  decode(input: InputMessage): string {
    return input.message.value?.toString() ?? '';
  }

  handle(): void {
    this.handled += 1;
  }
}

async function lag(job: Job<string>): Promise<number> {
  const metric = await job.metrics.lag.get();
  return metric.values.reduce((sum, v) => sum + v.value, 0);
}

describe('consumer lag', () => {
  const name = uniqueName('lag');
  const topic = `${name}-input`;
  const producer = kafka.producer();
  const logic = new GatedLogic();
  const job = new Job({
    name: 'lagged',
    namespace: name,
    kafka,
    logger,
    inputTopic: topic,
    logic,
    partitions: 1,
  });
  afterAll(async () => {
    logic.open();
    await job.close();
    await producer.disconnect();
  });

  it('counts the batch being processed, not only what is left after it', { timeout: 120_000 }, async () => {
    await ensureTopicsWith(kafka, [{ topic, partitions: 1 }]);
    await producer.connect();
    const send = (n: number, from: number) =>
      producer.send({
        topic,
        messages: Array.from({ length: n }, (_, i) => ({ key: 'k', value: String(from + i) })),
      });
    await send(10, 0);
    await job.start();
    await waitFor(async () => logic.handled === 10 && (await lag(job)) === 0, {
      timeoutMs: 60_000,
      description: 'the job to catch up on the first records',
    });

    logic.close();
    await send(500, 10);
    await waitFor(() => logic.waiting, { timeoutMs: 30_000, description: 'the next batch to be in hand' });
    // In hand and not done: the gauge must say so (it read 0 here before).
    expect(await lag(job)).toBeGreaterThan(0);

    logic.open();
    await waitFor(async () => logic.handled === 510 && (await lag(job)) === 0, {
      timeoutMs: 60_000,
      description: 'the job to finish',
    });
  });
});
