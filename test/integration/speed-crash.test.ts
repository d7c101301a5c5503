/**
 * Exactly-once effects under kill -9: the same 100k records run through the whole diamond twice —
 * once undisturbed, once with the validation job, a use-case job and the delivery job killed
 * mid-stream (the supervisor restarts them). The findings and feedback must be the same messages —
 * a restarted job sends again, identically, what it sent after its last checkpoint, so a topic may
 * hold a message more than once but never one the undisturbed run lacks — and the stored findings and
 * the realtime views must be exactly the same, counting each record once (re-sent ones too).
 */
import { describe, expect, it } from 'vitest';
import { cassandraTypes } from '../../core/cassandra/index.js';
import { daysBetween, utcDay } from '../../ingest/index.js';
import { customerIds } from '../../scripts/generate/index.js';
import type { JobStatus } from '../../speed/index.js';
import { runCli } from '../helpers/cli.js';
import { cassandraClient, kafkaClient } from '../helpers/context.js';
import { readTopic } from '../helpers/kafka.js';
import { startCli } from '../helpers/process.js';
import { allCaughtUp, speedWorld, type SpeedWorld } from '../helpers/speed.js';
import { waitFor } from '../helpers/wait-for.js';

const kafka = kafkaClient();
const cassandra = cassandraClient();
const END = Date.UTC(2026, 10, 23, 12, 0, 0);
const DAYS = 3;
const CUSTOMERS = 20;
const JOBS = [
  'validation',
  'master',
  'views',
  'delivery',
  'usecase.data-quality',
  'usecase.velocity',
  'usecase.amount-anomaly.A',
  'usecase.amount-anomaly.B',
];

interface Snapshot {
  findings: Findings;
  feedback: Findings;
  stored: string[];
  views: string[];
  /** Records counted by the realtime views, over every customer, day and category. */
  counted: bigint;
  /** What the generator sent: valid records, of which this many re-sent an earlier one. */
  generated: { valid: number; duplicates: number };
}

async function jobs(url: string): Promise<JobStatus[]> {
  return (await (await fetch(`${url}/jobs`)).json()) as JobStatus[];
}

interface Findings {
  /** Each distinct finding id, sorted. */
  readonly ids: string[];
  /** Each distinct message, sorted (a record sent twice gets the same id twice, with other details). */
  readonly contents: string[];
  readonly messages: number;
}

function findingsOf(messages: Awaited<ReturnType<typeof readTopic>>): Findings {
  const contents = new Set<string>();
  const ids = new Set<string>();
  for (const m of messages) {
    const text = m.message.value?.toString() ?? '{}';
    contents.add(text);
    ids.add((JSON.parse(text) as { findingId: string }).findingId);
  }
  return { ids: [...ids].sort(), contents: [...contents].sort(), messages: messages.length };
}

async function snapshot(world: SpeedWorld): Promise<Omit<Snapshot, 'generated'>> {
  const ks = world.config.cassandra.keyspace;
  const stored: string[] = [];
  const views = new Map<string, string>();
  let counted = 0n;
  const days = daysBetween(utcDay(new Date(END - DAYS * 86_400_000)), utcDay(new Date(END)));
  for (const customer of customerIds({ customers: CUSTOMERS, customerPrefix: 'cust' })) {
    for (const day of days) {
      const rows = await cassandra.execute(
        `SELECT finding_id, delivered, variant FROM ${ks}.findings_by_customer WHERE customer_id = ? AND day = ?`,
        [customer, cassandraTypes.LocalDate.fromString(day)],
      );
      for (const r of rows.rows)
        stored.push(
          `${String(r.get('finding_id'))}|${String(r.get('variant'))}|${String(r.get('delivered'))}`,
        );
    }
    // Realtime aggregates summed over ingest hours (the two runs were received at different times).
    const rows = await cassandra.execute(
      `SELECT day, category, record_count, amount_sum, amount_sumsq, amount_min, amount_max, first_event, last_event FROM ${ks}.realtime_aggregates WHERE customer_id = ?`,
      [customer],
    );
    const sums = new Map<
      string,
      { count: bigint; sum: bigint; sumsq: bigint; min: bigint; max: bigint; first: number; last: number }
    >();
    for (const r of rows.rows) {
      const key = `${customer}|${String(r.get('day'))}|${String(r.get('category'))}`;
      const prev = sums.get(key);
      const row = {
        count: r.get('record_count') as bigint,
        sum: r.get('amount_sum') as bigint,
        sumsq: r.get('amount_sumsq') as bigint,
        min: r.get('amount_min') as bigint,
        max: r.get('amount_max') as bigint,
        first: (r.get('first_event') as Date).getTime(),
        last: (r.get('last_event') as Date).getTime(),
      };
      sums.set(
        key,
        prev === undefined
          ? row
          : {
              count: prev.count + row.count,
              sum: prev.sum + row.sum,
              sumsq: prev.sumsq + row.sumsq,
              min: row.min < prev.min ? row.min : prev.min,
              max: row.max > prev.max ? row.max : prev.max,
              first: Math.min(prev.first, row.first),
              last: Math.max(prev.last, row.last),
            },
      );
    }
    for (const [key, v] of sums) {
      views.set(key, `${v.count}|${v.sum}|${v.sumsq}|${v.min}|${v.max}|${v.first}|${v.last}`);
      counted += v.count;
    }
  }
  return {
    findings: findingsOf(await readTopic(kafka, world.config.topics.findings)),
    feedback: findingsOf(await readTopic(kafka, world.config.topics.feedback)),
    stored: stored.sort(),
    views: [...views].map(([k, v]) => `${k}=${v}`).sort(),
    counted,
  };
}

async function runPipeline(kill: boolean): Promise<Snapshot> {
  const world = await speedWorld();
  for (const args of [
    ['deploy', 'data-quality'],
    ['deploy', 'velocity'],
    ['deploy', 'amount-anomaly', '--variant', 'A'],
    ['deploy', 'amount-anomaly', '--variant', 'B'],
    ['ab', 'set', 'amount-anomaly', '--control', 'A', '--treatment', 'B', '--percent', '50'],
  ]) {
    const result = await runCli(args, world.env);
    expect(result.code, result.stderr).toBe(0);
  }
  const generated = await runCli(
    [
      'generate',
      '--records',
      '100000',
      '--customers',
      String(CUSTOMERS),
      '--days',
      String(DAYS),
      '--seed',
      '11',
      '--end',
      String(END),
      '--json',
    ],
    world.env,
  );
  expect(generated.code, generated.stderr).toBe(0);
  const speed = startCli(['speed', '--port', '0'], world.env);
  const url = (await speed.waitForOutput(/\/jobs on (\S+)/))[1] ?? '';
  if (kill) {
    // kill -9 each victim once it is part-way through its input (delivery reads findings: fewer).
    const thresholds = new Map([
      ['validation', 40_000],
      ['usecase.amount-anomaly.B', 20_000],
      ['usecase.data-quality', 30_000],
      ['delivery', 300],
    ]);
    const killed = new Set<string>();
    await waitFor(
      async () => {
        for (const job of await jobs(url)) {
          const threshold = thresholds.get(job.job);
          if (threshold === undefined || killed.has(job.job) || job.pid === undefined) continue;
          if ((job.metrics.in ?? 0) >= threshold) {
            process.kill(job.pid, 'SIGKILL');
            killed.add(job.job);
          }
        }
        return killed.size === thresholds.size;
      },
      { timeoutMs: 300_000, intervalMs: 100, description: 'every victim to be part-way through and killed' },
    );
    await waitFor(
      async () => {
        const restarted = (await jobs(url)).filter(
          (j) => thresholds.has(j.job) && j.restarts > 0 && j.state === 'running',
        );
        return restarted.length === thresholds.size;
      },
      { timeoutMs: 60_000, description: 'the victims to be restarted by the supervisor' },
    );
  }
  await waitFor(() => allCaughtUp(kafka, world.groups(JOBS)), {
    timeoutMs: 400_000,
    intervalMs: 1_000,
    description: 'every job to catch up',
  });
  expect(await speed.stop()).toBe(0);
  const { valid, duplicates } = JSON.parse(generated.stdout) as { valid: number; duplicates: number };
  return { ...(await snapshot(world)), generated: { valid, duplicates } };
}

describe('speed layer under kill -9', () => {
  it('findings, feedback and realtime views equal an uninterrupted run', { timeout: 1_200_000 }, async () => {
    const undisturbed = await runPipeline(false);
    const crashed = await runPipeline(true);
    expect(undisturbed.findings.ids.length).toBeGreaterThan(500);
    expect(crashed.findings.ids).toEqual(undisturbed.findings.ids);
    expect(crashed.findings.contents).toEqual(undisturbed.findings.contents);
    expect(crashed.feedback.ids).toEqual(undisturbed.feedback.ids);
    expect(crashed.feedback.contents).toEqual(undisturbed.feedback.contents);
    // Undisturbed, delivery publishes each finding once.
    expect(undisturbed.feedback.messages).toBe(undisturbed.feedback.ids.length);
    expect(crashed.stored).toEqual(undisturbed.stored);
    expect(crashed.views.length).toBeGreaterThan(100);
    expect(crashed.views).toEqual(undisturbed.views);
    // Each record once: the ~1 % the generator re-sent (same record_id) are not counted again.
    const { valid, duplicates } = undisturbed.generated;
    expect(duplicates).toBeGreaterThan(100);
    expect(undisturbed.counted).toBe(BigInt(valid - duplicates));
    expect(crashed.counted).toBe(undisturbed.counted);
  });
});
