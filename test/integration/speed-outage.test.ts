/**
 * Cassandra, then Kafka, unresponsive in the middle of a backlog: the real server frozen (SIGSTOP, as
 * in a long GC pause or a network partition) until the jobs' requests to it have timed out, then
 * thawed (SIGCONT). The jobs restore their state and retry; none is paused as if its use case were
 * failing, none crashes (but see STUCK_MS below for Kafka); every job catches up, and the effects
 * are exact: the views count every record once, no input or finding is sent twice, and the findings
 * stored as delivered are exactly those on `feedback`.
 */
import { describe, expect, it } from 'vitest';
import { upstreamOffset } from '../../ingest/validation/index.js';
import { STUCK_EXIT_MESSAGE } from '../../speed/runtime/job.js';
import { runCli } from '../helpers/cli.js';
import { cassandraClient, kafkaClient } from '../helpers/context.js';
import { readTopic } from '../helpers/kafka.js';
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
const cassandra = cassandraClient();
const RECORDS = 100_000;

/** The jobs that logged a message containing `text`, from the supervisor's output (its workers' logs). */
function jobsThatLogged(output: string, text: string): Set<string> {
  const jobs = new Set<string>();
  for (const line of output.split('\n')) {
    if (!line.includes(text)) continue;
    const entry = JSON.parse(line) as { job?: string; msg?: string };
    if (entry.msg?.includes(text) === true) jobs.add(entry.job ?? '');
  }
  return jobs;
}

/** The jobs that logged a failure they recover from. */
function jobsThatFailed(output: string): Set<string> {
  return jobsThatLogged(output, 'restoring the state and retrying');
}

async function serverPid(name: string): Promise<number> {
  const status = await runCli(['stack', 'status', '--json']);
  const rows = JSON.parse(status.stdout) as { name: string; pid?: number }[];
  const pid = rows.find((r) => r.name === name)?.pid;
  if (pid === undefined) throw new Error(`no local ${name} pid: ${status.stdout}`);
  return pid;
}

/**
 * How long each server stays frozen. Cassandra: until the checkpoints of validation and delivery
 * have timed out (the driver's 30 s), seen in their logs, and for 170 s at least: the checkpoints
 * then fail for over 2 minutes, longer than a job waits for its commits to be accepted again before
 * it exits as stuck (STUCK_MS in job.ts), which a Cassandra outage must not make it do (CI saw the
 * views job restarted when it did). And the outage outlasts the input: a job whose last batch came
 * before its failure must still go back, handle again and commit (delivery stayed behind for good). Kafka: 35 s, past kafkajs's 30 s request
 * timeout (a frozen broker shows in no job's log until it answers again, so there is nothing else
 * to wait for).
 *
 * The broker fences itself when it wakes (its KRaft session timed out) and drops every group's
 * members; kafkajs's rejoin then sometimes fails and leaves a consumer fetching with no member id
 * and no heartbeat, its every commit refused (2 runs of 8 here). The runtime hands membership errors
 * back to kafkajs and, stuck anyway, exits after STUCK_MS of refused commits for its supervisor to
 * restart it. So after a Kafka outage a job may have been restarted, and then it re-sent what
 * followed its last checkpoint, with the same identities (README, "Delivery guarantees"): what
 * reaches a consumer that drops repeats is still exact. After a Cassandra outage no job restarts.
 */
type Outage = [string, (output: string, frozenMs: number) => boolean];
const OUTAGES: Outage[] = [
  [
    'cassandra',
    (output, frozenMs) => {
      const failed = jobsThatFailed(output);
      return failed.has('validation') && failed.has('delivery') && frozenMs >= 170_000;
    },
  ],
  ['kafka', (_output, frozenMs) => frozenMs >= 35_000],
];

describe.each(OUTAGES)('%s unresponsive mid-stream', (server, thaw) => {
  it('pauses no job, loses nothing and counts nothing twice', { timeout: 900_000 }, async () => {
    const world = await speedWorld();
    await deployBuiltIns(world.env);
    const valid = await generateUnique(world.env, RECORDS, 29);

    const speed = startCli(['speed', '--port', '0'], world.env);
    const url = (await speed.waitForOutput(/\/jobs on (\S+)/))[1] ?? '';
    await waitFor(
      async () => ((await jobStatuses(url)).find((s) => s.job === 'validation')?.metrics.in ?? 0) >= 20_000,
      { timeoutMs: 300_000, intervalMs: 100, description: 'validation to be part-way through' },
    );
    const pid = await serverPid(server);
    process.kill(pid, 'SIGSTOP');
    const frozenAt = performance.now();
    try {
      await waitFor(() => thaw(speed.output(), performance.now() - frozenAt), {
        timeoutMs: 240_000,
        intervalMs: 500,
        description: `the jobs to find ${server} unresponsive`,
      });
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await waitFor(() => allCaughtUp(kafka, world.groups(ALL_JOBS)), {
      timeoutMs: 600_000,
      intervalMs: 1_000,
      description: `every job to catch up once ${server} answers`,
    });
    const statuses = await jobStatuses(url);
    // None paused; none crashed, except a job that Kafka's outage left outside its group (above).
    for (const s of statuses) expect([s.job, s.state]).toEqual([s.job, 'running']);
    const restarted = new Set(statuses.filter((s) => s.restarts > 0).map((s) => s.job));
    if (server === 'cassandra') expect(restarted).toEqual(new Set());
    if (restarted.size > 0) {
      // …and only by exiting as stuck outside its group, nothing else.
      const stuck = jobsThatLogged(speed.output(), STUCK_EXIT_MESSAGE);
      for (const job of restarted) expect([job, stuck.has(job)]).toEqual([job, true]);
      console.info(`[speed-outage] ${server}: restarted as stuck: ${[...restarted].join(', ')}`);
    }
    expect(await speed.stop()).toBe(0);

    const feedback = await findingIdsOn(kafka, world.config.topics.feedback);
    expect(feedback.length).toBeGreaterThan(0);
    const ks = world.config.cassandra.keyspace;
    expect(await viewsRecordCount(world)).toBe(valid);
    const stored = await cassandra.execute(`SELECT finding_id, delivered FROM ${ks}.findings_by_customer`);
    const delivered = stored.rows
      .filter((r) => r.get('delivered') === true)
      .map((r) => String(r.get('finding_id')));
    // A job whose checkpoint failed handles again what followed its last one, to rebuild its state,
    // but sends nothing again that it had sent: each input once on records.valid, each finding once
    // on feedback. A restarted one re-sends, identically: each input and finding is there, and
    // nothing else.
    const passed = await readTopic(kafka, world.config.topics.valid);
    const sources = new Set(passed.map((m) => `${m.partition}:${String(upstreamOffset(m.message.headers))}`));
    expect(sources.size).toBe(valid);
    if (!restarted.has('validation')) expect(passed).toHaveLength(valid);
    if (!restarted.has('delivery')) expect(new Set(feedback).size).toBe(feedback.length);
    expect(delivered.sort()).toEqual([...new Set(feedback)].sort());
  });
});
