/**
 * Bounded memory on a backlog: a use-case job started on 1,000,000 waiting records catches up with
 * its resident memory staying under a fixed bound (bounded fetches, one batch in flight per
 * partition, state bounded by expiry). data-quality is the one whose duplicate detection would grow
 * with every record id if it were kept in memory.
 */
import { describe, expect, it } from 'vitest';
import { RecordProducer, RecordSerializer, RegistryClient, recordSubject } from '../../ingest/index.js';
import { residentBytes } from '../../scripts/stack/processes.js';
import { DEFAULT_GENERATE, generateStream } from '../../scripts/generate/index.js';
import { kafkaClient } from '../helpers/context.js';
import { startCli } from '../helpers/process.js';
import { allCaughtUp, speedWorld } from '../helpers/speed.js';
import { waitFor } from '../helpers/wait-for.js';

const kafka = kafkaClient();
const RECORDS = 1_000_000;
const BOUND_MB = 400;

describe('a backlog of 1M records', () => {
  it(`keeps a job's memory under ${BOUND_MB} MB while it catches up`, { timeout: 900_000 }, async () => {
    const world = await speedWorld();
    // The backlog goes straight to records.valid (what the use-case jobs read).
    const serializer = await RecordSerializer.create({
      registry: new RegistryClient({ url: world.env.SCHEMA_REGISTRY_URL ?? '' }),
      subject: recordSubject(world.config.topics.records),
    });
    const producer = new RecordProducer(kafka, world.config.topics.valid, serializer);
    await producer.connect();
    let batch: { key: string; value: Buffer }[] = [];
    for (const item of generateStream({
      ...DEFAULT_GENERATE,
      records: RECORDS,
      customers: 200,
      days: 30,
      bad: 0,
      endMs: Date.now(),
    })) {
      batch.push({ key: item.record.customer_id, value: serializer.encode(item.record) });
      if (batch.length === 5_000) {
        await producer.sendRaw(batch);
        batch = [];
      }
    }
    await producer.sendRaw(batch);
    await producer.close();

    const job = startCli(['speed', '--job', 'usecase.data-quality'], world.env);
    await job.waitForOutput(/job usecase.data-quality running/);
    const pid = job.child.pid ?? 0;
    let peak = 0;
    const samples: number[] = [];
    const group = world.groups(['usecase.data-quality']);
    await waitFor(
      async () => {
        const rss = (await residentBytes(pid)) ?? 0;
        samples.push(rss);
        peak = Math.max(peak, rss);
        return allCaughtUp(kafka, group);
      },
      { timeoutMs: 800_000, intervalMs: 500, description: 'the job to drain the backlog' },
    );
    expect(await job.stop()).toBe(0);
    const mb = (bytes: number): number => Math.round(bytes / 1048576);
    process.stderr.write(
      `[speed-memory] ${samples.length} samples, peak RSS ${mb(peak)} MB, last ${mb(samples.at(-1) ?? 0)} MB\n`,
    );
    expect(samples.length).toBeGreaterThan(10);
    expect(mb(peak)).toBeLessThan(BOUND_MB);
  });
});
