/**
 * A/B under kill -9 of the delivery job, with the experiment changed between the first handling of
 * the findings and their replay: a customer must still receive one variant's findings of a record,
 * never both. Delivery checkpoints only every 60 s here, so everything it handled before the kill is
 * handled again after it; it decides each finding by the assignments in effect when its record was
 * ingested, so the replay decides as the first pass did, and records ingested after the change go
 * by the change.
 */
import { describe, expect, it } from 'vitest';
import { customerIds } from '../../scripts/generate/index.js';
import { deliveredVariant } from '../../speed/index.js';
import { runCli } from '../helpers/cli.js';
import { kafkaClient } from '../helpers/context.js';
import { committedSum, endOffsetSum, readTopic } from '../helpers/kafka.js';
import { startCli } from '../helpers/process.js';
import { jobStatuses, speedWorld, storedFindings, type SpeedWorld } from '../helpers/speed.js';
import { waitFor } from '../helpers/wait-for.js';

const kafka = kafkaClient();
const END = Date.UTC(2026, 10, 20, 12, 0, 0);
const CUSTOMERS = 20;

async function cli(world: SpeedWorld, args: string[]): Promise<string> {
  const result = await runCli(args, world.env);
  if (result.code !== 0) throw new Error(`tributary ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

async function generate(world: SpeedWorld, prefix: string, seed: number): Promise<void> {
  await cli(world, [
    'generate',
    '--records',
    '8000',
    '--customers',
    String(CUSTOMERS),
    '--customer-prefix',
    prefix,
    '--days',
    '1',
    '--end',
    String(END),
    '--anomalies',
    '0.05',
    '--duplicates',
    '0',
    '--seed',
    String(seed),
  ]);
}

/** `ab set amount-anomaly`: A the control, B the treatment for `percent` of the customers. */
function abSet(world: SpeedWorld, percent: number): Promise<string> {
  const args = ['--control', 'A', '--treatment', 'B', '--percent', String(percent)];
  return cli(world, ['ab', 'set', 'amount-anomaly', ...args]);
}

/** Waits until every job of `speed` has handled its whole input (delivery commits only later). */
async function handledAll(world: SpeedWorld, url: string): Promise<void> {
  await waitFor(
    async () => {
      const statuses = await jobStatuses(url);
      for (const job of ['validation', 'usecase.amount-anomaly.A', 'usecase.amount-anomaly.B', 'delivery']) {
        const status = statuses.find((s) => s.job === job);
        const [{ topic } = { topic: '' }] = world.groups([job]);
        const end = await endOffsetSum(kafka, topic);
        if (status?.state !== 'running' || end === 0n || BigInt(status.metrics.in ?? 0) < end) return false;
      }
      return true;
    },
    { timeoutMs: 180_000, intervalMs: 250, description: 'every job to handle its whole input' },
  );
}

interface Received {
  /** Per customer, the variants whose amount-anomaly findings it received. */
  readonly variants: Map<string, Set<string>>;
  readonly ids: Set<string>;
}

async function feedback(world: SpeedWorld): Promise<Received> {
  const variants = new Map<string, Set<string>>();
  const ids = new Set<string>();
  for (const m of await readTopic(kafka, world.config.topics.feedback)) {
    const f = JSON.parse(m.message.value?.toString() ?? '{}') as {
      findingId: string;
      usecase: string;
      variant: string;
      customerId: string;
    };
    if (f.usecase !== 'amount-anomaly') continue;
    ids.add(f.findingId);
    const seen = variants.get(f.customerId) ?? new Set<string>();
    seen.add(f.variant);
    variants.set(f.customerId, seen);
  }
  return { variants, ids };
}

describe('A/B decisions under a replay of the delivery job', () => {
  it(
    'are those of when each record was ingested, so a customer never receives both variants',
    { timeout: 600_000 },
    async () => {
      const world = await speedWorld();
      await cli(world, ['deploy', 'amount-anomaly', '--variant', 'A']);
      await cli(world, ['deploy', 'amount-anomaly', '--variant', 'B']);
      // The split both variants deployed give anyway; returns once in effect.
      const set = await abSet(world, 50);
      expect(set).toMatch(/for records ingested from \d{4}-\d\d-\d\dT/);
      await generate(world, 'early', 31);
      const speed = startCli(['speed', '--port', '0'], { ...world.env, SPEED_COMMIT_INTERVAL_MS: '60000' });
      const url = (await speed.waitForOutput(/\/jobs on (\S+)/))[1] ?? '';
      await handledAll(world, url);

      const before = await feedback(world);
      const split = (customer: string): string | undefined =>
        deliveredVariant(undefined, ['A', 'B'], customer, undefined);
      const early = customerIds({ customers: CUSTOMERS, customerPrefix: 'early' });
      expect(new Set(early.map(split))).toEqual(new Set(['A', 'B']));
      for (const [customer, variants] of before.variants)
        expect([...variants], customer).toEqual([split(customer)]);
      expect(before.ids.size).toBeGreaterThan(20);
      // Nothing of it is checkpointed: delivery's restart handles all of it again.
      const [delivery = { groupId: '', topic: '' }] = world.groups(['delivery']);
      expect(await committedSum(kafka, delivery.groupId, delivery.topic)).toBe(0n);

      // Everyone to B from now on, then delivery killed before it checkpoints.
      await abSet(world, 100);
      const pid = (await jobStatuses(url)).find((s) => s.job === 'delivery')?.pid;
      if (pid === undefined) throw new Error('delivery is not running');
      process.kill(pid, 'SIGKILL');
      await waitFor(
        async () =>
          (await jobStatuses(url)).some(
            (s) => s.job === 'delivery' && s.restarts > 0 && s.state === 'running',
          ),
        { timeoutMs: 60_000, description: 'delivery to be restarted' },
      );
      await generate(world, 'late', 32);
      await handledAll(world, url);
      expect(await speed.stop()).toBe(0);

      const after = await feedback(world);
      // The replay decided as the first pass did: the customers of A received no finding of B.
      for (const customer of early) {
        const variants = after.variants.get(customer);
        if (variants !== undefined) expect([...variants], customer).toEqual([split(customer)]);
      }
      // Records ingested after the change went by it.
      const late = customerIds({ customers: CUSTOMERS, customerPrefix: 'late' });
      expect(late.some((c) => after.variants.has(c))).toBe(true);
      for (const customer of late) {
        const variants = after.variants.get(customer);
        if (variants !== undefined) expect([...variants], customer).toEqual(['B']);
      }
      // What is stored as delivered is exactly what was published, both variants kept.
      const delivered = new Set<string>();
      const stored = new Map<string, number>();
      for (const customer of [...early, ...late]) {
        for (const f of await storedFindings(world, 'amount-anomaly', customer, END - 86_400_000, END)) {
          stored.set(f.variant, (stored.get(f.variant) ?? 0) + 1);
          if (f.delivered) delivered.add(f.findingId);
        }
      }
      expect(stored.get('A')).toBeGreaterThan(0);
      expect(stored.get('B')).toBeGreaterThan(0);
      expect(delivered).toEqual(after.ids);
    },
  );
});
