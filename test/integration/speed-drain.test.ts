/**
 * SIGTERM of `tributary speed` in the middle of a backlog: every job drains what it has in flight,
 * checkpoints and commits, and the supervisor exits 0 without having to SIGKILL a worker. So a
 * restart sends nothing again — unlike after kill -9 (speed-crash.test.ts), where a job re-sends what
 * it sent after its last checkpoint and downstream drops it: records.valid holds each accepted input
 * once, the findings and feedback topics each finding once, no job downstream of validation drops an
 * upstream duplicate, and every record is counted once by the realtime views.
 */
import { describe, expect, it } from 'vitest';
import { upstreamOffset } from '../../ingest/validation/index.js';
import { kafkaClient } from '../helpers/context.js';
import { committedSum, endOffsetSum, readTopic } from '../helpers/kafka.js';
import { startCli } from '../helpers/process.js';
import {
  ALL_JOBS,
  allCaughtUp,
  deployBuiltIns,
  findingIdsOn,
  generateUnique,
  jobStatuses,
  speedWorld,
  viewsRecordCount,
} from '../helpers/speed.js';
import { waitFor } from '../helpers/wait-for.js';

const kafka = kafkaClient();
const RECORDS = 200_000;
/** Jobs on records.valid: they start on it as soon as validation's first outputs arrive. */
const UPSTREAM = ALL_JOBS.filter((job) => job !== 'validation' && job !== 'delivery');
/** Under the supervisor's 30 s grace before it SIGKILLs a worker that has not stopped. */
const DRAIN_BOUND_MS = 25_000;

/** Per job, the upstream duplicates it dropped (a replay of the job before it), from /metrics. */
async function upstreamDuplicates(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const dropped = new Map<string, number>();
  for (const m of text.matchAll(
    /^tributary_job_upstream_duplicates_total\{[^}]*job="([^"]+)"[^}]*\} (\S+)$/gm,
  ))
    dropped.set(m[1] ?? '', (dropped.get(m[1] ?? '') ?? 0) + Number(m[2]));
  return dropped;
}

/** How many messages carry a key that an earlier message already carried. */
function repeats(keys: readonly string[]): number {
  return keys.length - new Set(keys).size;
}

describe('tributary speed under SIGTERM', () => {
  it(
    'drains and commits mid-backlog, so a restart sends nothing again and counts each record once',
    { timeout: 900_000 },
    async () => {
      const world = await speedWorld();
      await deployBuiltIns(world.env);
      const valid = await generateUnique(world.env, RECORDS, 23);

      const first = startCli(['speed', '--port', '0'], world.env);
      const firstUrl = (await first.waitForOutput(/\/jobs on (\S+)/))[1] ?? '';
      // Part-way: validation has a tenth of the backlog behind it and every job on records.valid has
      // started on its input, so each has batches in flight and records handled since its last
      // checkpoint (delivery too, by the time the drain reaches it).
      await waitFor(
        async () => {
          const statuses = await jobStatuses(firstUrl);
          const inOf = (job: string): number => statuses.find((s) => s.job === job)?.metrics.in ?? 0;
          return inOf('validation') >= RECORDS / 10 && UPSTREAM.every((job) => inOf(job) > 0);
        },
        { timeoutMs: 300_000, intervalMs: 100, description: 'every job to be part-way through' },
      );
      const [validation = { groupId: '', topic: '' }] = world.groups(['validation']);
      expect(await allCaughtUp(kafka, [validation]), 'validation has input left').toBe(false);

      const stopping = performance.now();
      expect(await first.stop(), first.output()).toBe(0);
      expect(performance.now() - stopping, 'no worker waited for its SIGKILL').toBeLessThan(DRAIN_BOUND_MS);
      expect(first.output()).not.toContain('final checkpoint failed');
      // It stopped with the backlog unfinished (a drain finishes what is in flight, not the input), and
      // committed exactly what it had sent on: each input offset it passed or refused.
      const committed = await committedSum(kafka, validation.groupId, validation.topic);
      expect(committed).toBeLessThan(await endOffsetSum(kafka, validation.topic));
      const sent =
        (await readTopic(kafka, world.config.topics.valid)).length +
        (await readTopic(kafka, world.config.topics.deadLetter)).length;
      expect(committed).toBe(BigInt(sent));

      const second = startCli(['speed', '--port', '0'], world.env);
      const secondUrl = (await second.waitForOutput(/\/jobs on (\S+)/))[1] ?? '';
      await waitFor(() => allCaughtUp(kafka, world.groups(ALL_JOBS)), {
        timeoutMs: 600_000,
        intervalMs: 1_000,
        description: 'every job to catch up after the restart',
      });
      const dropped = await upstreamDuplicates(secondUrl);
      expect((await jobStatuses(secondUrl)).every((j) => j.restarts === 0)).toBe(true);
      expect(await second.stop(), second.output()).toBe(0);

      // Validation sent each accepted input once: nothing it had sent before the SIGTERM came again.
      const passed = await readTopic(kafka, world.config.topics.valid);
      const sources = passed.map((m) => `${m.partition}:${String(upstreamOffset(m.message.headers))}`);
      expect(repeats(sources)).toBe(0);
      expect(passed).toHaveLength(valid);
      for (const job of ALL_JOBS.filter((j) => j !== 'validation'))
        expect(dropped.get(job) ?? 0, job).toBe(0);

      // The use cases sent each finding once (no record is re-sent by the generator here: a customer's
      // re-sent record gives its findings again, by design, for delivery to drop), and delivery each
      // feedback message once.
      const findings = await findingIdsOn(kafka, world.config.topics.findings);
      const feedback = await findingIdsOn(kafka, world.config.topics.feedback);
      expect(findings.length).toBeGreaterThan(100);
      expect(repeats(findings)).toBe(0);
      expect(feedback.length).toBeGreaterThan(0);
      expect(repeats(feedback)).toBe(0);

      // The realtime views counted every record once, over both runs.
      expect(await viewsRecordCount(world)).toBe(valid);
    },
  );
});
