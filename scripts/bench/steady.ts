/**
 * `npm run bench steady`: the whole diamond at a steady rate (default 2,000 records/s) for a while,
 * measured in windows: latency from produce to feedback and each process's share of a core. Every
 * other window runs with the bulk jobs (master and views, which no feedback waits for) stopped
 * (SIGSTOP), and is followed by an unmeasured pause while they catch up: what they cost the way to
 * feedback, in the same run, on the same noisy machine. `bench speed` measures latency once, after
 * its backlog run; this one measures it in steady state and says what disturbs it.
 * Runs in its own PostgreSQL database, keyspace, topics and namespace, removed afterwards.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Config } from '../../core/config.js';
import { createKafka } from '../../core/kafka/index.js';
import type { Logger } from '../../core/logger.js';
import type { JobStatus } from '../../speed/index.js';
import { cpuSeconds } from '../stack/processes.js';
import { busyShare, machineCpu, serverCpu, serverPids } from './cpu.js';
import { DIAMOND_JOBS, listenToFeedback, percentile, serveAndDeploy } from './diamond.js';
import { tributary, type Proc } from './procs.js';
import { writeSection, type BenchRow } from './report.js';
import { createScratch } from './scratch.js';

export interface SteadyBenchOptions {
  /** Records/s the generator sends throughout. */
  readonly rate: number;
  /** Measured windows, alternately with everything running and with the bulk jobs stopped. */
  readonly windows: number;
  readonly windowSeconds: number;
}

const BULK = ['master', 'views'];
/** Before the first window: processes started, connections made, V8 done optimising the hot paths. */
const WARM_UP_MS = 20_000;
/** After a window, for the feedback of its last records to arrive before it is read. */
const SETTLE_MS = 3_000;
/** At most this long for the bulk jobs to catch up after a window without them. */
const CATCH_UP_MAX_MS = 120_000;

type Kind = 'everything' | 'bulk stopped';

function latencyOf(ms: readonly number[]): string {
  const sorted = [...ms].sort((a, b) => a - b);
  return `${percentile(sorted, 50)} / ${percentile(sorted, 99)} / ${sorted.at(-1) ?? 0} ms`;
}

export async function benchSteady(
  baseConfig: Config,
  logger: Logger,
  { rate, windows, windowSeconds }: SteadyBenchOptions,
): Promise<string> {
  const scratch = await createScratch(baseConfig, logger);
  const { name, env, config } = scratch;
  const kafka = createKafka({ brokers: config.kafka.brokers, logger });
  const procs: Proc[] = [];
  const stopped: number[] = [];
  const rows: BenchRow[] = [];
  const byKind = new Map<Kind, number[]>([
    ['everything', []],
    ['bulk stopped', []],
  ]);
  try {
    const { serve } = await serveAndDeploy(config, env);
    procs.push(serve);
    const speed = tributary(config, ['speed', '--port', '0'], env);
    procs.push(speed);
    const speedUrl = await speed.line(/\/jobs on (\S+)/);
    const status = async (): Promise<JobStatus[]> =>
      (await (await fetch(`${speedUrl}/jobs`)).json()) as JobStatus[];
    while ((await status()).filter((j) => j.state === 'running').length < DIAMOND_JOBS.length + 1)
      await delay(200);
    const listener = await listenToFeedback(kafka, config, `${name}.steady`);
    // Enough records for every window and the catching up after each; stopped when done.
    const records = rate * Math.ceil(WARM_UP_MS / 1000 + windows * (windowSeconds + 120));
    const generator = tributary(
      config,
      [
        'generate',
        ...['--records', String(records), '--rate', String(rate), '--customers', '100'],
        ...['--seed', '5', '--anomalies', '0.02'],
      ],
      env,
    );
    procs.push(generator);
    await delay(WARM_UP_MS);
    const servers = await serverPids(baseConfig, logger);
    for (let i = 0; i < windows; i += 1) {
      const kind: Kind = i % 2 === 0 ? 'everything' : 'bulk stopped';
      const jobs = (await status()).filter((j) => j.pid !== undefined);
      const pids = new Map<string, number>(jobs.map((j) => [j.job.replace('usecase.', ''), j.pid ?? 0]));
      if (generator.child.pid !== undefined) pids.set('generator', generator.child.pid);
      if (kind === 'bulk stopped')
        for (const job of jobs)
          if (BULK.includes(job.job) && job.pid !== undefined) {
            process.kill(job.pid, 'SIGSTOP');
            stopped.push(job.pid);
          }
      const cpuBefore = new Map<string, number | undefined>();
      for (const [job, pid] of pids) cpuBefore.set(job, await cpuSeconds(pid));
      const serversBefore = await serverCpu(servers);
      const machineBefore = await machineCpu();
      const from = Date.now();
      await delay(windowSeconds * 1000);
      const to = Date.now();
      const seconds = (to - from) / 1000;
      const machineBusy = busyShare(machineBefore, await machineCpu());
      const shares: string[] = [];
      for (const [job, pid] of pids) {
        const [before, after] = [cpuBefore.get(job), await cpuSeconds(pid)];
        if (before !== undefined && after !== undefined)
          shares.push(`${job} ${((100 * (after - before)) / seconds).toFixed(0)}`);
      }
      for (const [server, after] of await serverCpu(servers))
        shares.push(
          `${server} ${((100 * (after - (serversBefore.get(server) ?? after))) / seconds).toFixed(0)}`,
        );
      await delay(SETTLE_MS);
      const ms = listener.samples.filter((x) => x.at >= from && x.at < to).map((x) => x.ms);
      byKind.get(kind)?.push(...ms);
      rows.push({
        metric: `window ${i + 1}, ${kind === 'everything' ? 'every job running' : 'master and views stopped'}: p50 / p99 / max`,
        value: latencyOf(ms),
        note: `${ms.length} feedback messages; the machine's CPU ${machineBusy} busy; % of a core: ${shares.join(', ')}`,
      });
      if (kind === 'bulk stopped') {
        for (const pid of stopped.splice(0)) process.kill(pid, 'SIGCONT');
        // Catching up what they missed loads the machine: not part of any window. With records
        // flowing they are never at zero lag; a second's worth of records behind is caught up.
        const caughtUp = (all: JobStatus[]): boolean =>
          all.filter((j) => BULK.includes(j.job)).every((j) => (j.metrics.lag ?? Infinity) <= rate);
        for (let waited = 0; waited < CATCH_UP_MAX_MS && !caughtUp(await status()); waited += 500)
          await delay(500);
        await delay(SETTLE_MS);
      }
    }
    await listener.stop();
    for (const [kind, ms] of byKind)
      if (ms.length > 0)
        rows.push({
          metric: `all windows, ${kind === 'everything' ? 'every job running' : 'master and views stopped'}: p50 / p99 / max`,
          value: latencyOf(ms),
          note: `${ms.length} feedback messages; target p99 ≤ 100 ms`,
        });
  } finally {
    for (const pid of stopped) process.kill(pid, 'SIGCONT');
    for (const p of procs.reverse()) await p.stop();
    await scratch.drop(kafka);
  }
  return writeSection(
    baseConfig,
    'steady',
    `\`npm run bench steady -- --rate ${rate} --windows ${windows}\`: the whole diamond at ${rate.toLocaleString('en')} records/s (100 customers, 2 % anomalies), ${windowSeconds} s windows after ${WARM_UP_MS / 1000} s of warm-up; every job in its own process (2 cores shared with Kafka, Cassandra and PostgreSQL, and the generator).`,
    rows,
  );
}
