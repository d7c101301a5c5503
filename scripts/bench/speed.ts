/**
 * `npm run bench speed`: the whole diamond (records → validation → 4 use-case jobs → delivery, and
 * views) — throughput on a backlog and its ratio to a raw Kafka consume+produce of the same records
 * and to the raw fan-out of the diamond's shape (fanout.ts), with what moving and storing a record
 * cost by themselves; latency from produce to feedback at 2,000 records/s, with each job's and
 * server's share of a core meanwhile; each job's CPU alone (alone.ts); and each job's memory while
 * draining a backlog.
 * Runs in its own PostgreSQL database, keyspace, topics and namespace, removed afterwards.
 */
import os from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import type { Config } from '../../core/config.js';
import { createCassandraClient } from '../../core/cassandra/index.js';
import { createKafka, type Kafka } from '../../core/kafka/index.js';
import type { Logger } from '../../core/logger.js';
import { RecordProducer, RecordSerializer, RegistryClient, recordSubject } from '../../ingest/index.js';
import type { JobStatus } from '../../speed/index.js';
import { DEFAULT_GENERATE, generateStream, type GenerateOptions } from '../generate/index.js';
import { perSecond, writeSection, type BenchRow } from './report.js';
import { rawMasterWrite } from './raw.js';
import { lagZero, run, tributary, type Proc } from './procs.js';
import { createScratch } from '../scratch.js';
import { consumeAll, rawFanOut } from './fanout.js';
import { jobAlone } from './alone.js';
import { DIAMOND_JOBS, listenToFeedback, percentile, serveAndDeploy, shortName } from './diamond.js';
import { hopBounds, latencyBuckets } from './hops.js';
import { cassandraLoad, describeLoad } from './cassandra-load.js';
import {
  busyShare,
  cpuSpent,
  describeQuiet,
  exitedChildrenCpu,
  machineCpu,
  processCpu,
  serverMicros,
  serverPids,
  serversQuiet,
} from './cpu.js';

/** Raw Kafka speed on the same records: consume the topic and produce every message to another. */
async function rawConsumeProduce(
  kafka: Kafka,
  from: string,
  to: string,
  count: number,
  partitions: number,
): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic: to, numPartitions: partitions }] });
  await admin.disconnect();
  const copied = await consumeAll(kafka, { groupId: `${to}.raw`, from, to, count, partitions });
  return perSecond(count, copied.doneAt - copied.firstAt);
}

/** Each job's CPU seconds so far, by its short name (`usecase.` dropped), for cpuSpent. */
function jobCpu(jobs: readonly JobStatus[]): Map<string, number> {
  return new Map(jobs.map((j) => [shortName(j.job), j.metrics.cpuSeconds ?? 0]));
}

/** Records/s of the second latency run: low enough that nothing queues anywhere. */
const TRICKLE_RATE = 20;

export interface SpeedBenchOptions {
  /** Records of the backlog the whole diamond works through. */
  readonly records: number;
  /** Records of the backlog drained while each job's memory is sampled. */
  readonly backlog: number;
  /** Records/s of the latency run (30 s). */
  readonly rate: number;
}

export async function benchSpeed(
  baseConfig: Config,
  logger: Logger,
  { records, backlog, rate }: SpeedBenchOptions,
): Promise<string> {
  const scratch = await createScratch(baseConfig, logger, 'bench');
  const { name, env, config } = scratch;
  const kafka = createKafka({ brokers: config.kafka.brokers, logger });
  const cassandra = createCassandraClient({
    contactPoints: config.cassandra.contactPoints,
    localDataCenter: config.cassandra.localDataCenter,
    logger,
  });
  const procs: Proc[] = [];
  const rows: BenchRow[] = [];
  try {
    const { serve, registryUrl } = await serveAndDeploy(config, env);
    procs.push(serve);
    const serializer = await RecordSerializer.create({
      registry: new RegistryClient({ url: registryUrl }),
      subject: recordSubject(config.topics.records),
    });
    const endMs = Date.now(); // one model, so that the raw write stores the records the jobs get
    const model = (count: number): GenerateOptions => ({
      ...DEFAULT_GENERATE,
      records: count,
      customers: 100,
      days: 7,
      bad: 0.001,
      endMs,
      seed: 17,
    });
    const produce = async (topic: string, count: number): Promise<number> => {
      const producer = new RecordProducer(kafka, topic, serializer);
      await producer.connect();
      let batch: { key: string; value: Buffer }[] = [];
      const began = performance.now();
      for (const item of generateStream(model(count))) {
        batch.push({ key: item.record.customer_id, value: serializer.encode(item.record) });
        if (batch.length === 2_000) {
          await producer.sendRaw(batch);
          batch = [];
        }
      }
      await producer.sendRaw(batch);
      await producer.close();
      return perSecond(count, performance.now() - began);
    };

    // 1. Throughput of the whole diamond on a backlog, and raw Kafka consume+produce of the same records.
    const produceRate = await produce(config.topics.records, records);
    rows.push({
      metric: 'raw produce of the records',
      value: `${produceRate.toLocaleString('en')} records/s`,
    });
    const raw = await rawConsumeProduce(
      kafka,
      config.topics.records,
      `${name}-copy`,
      records,
      config.topics.partitions,
    );
    rows.push({
      metric: 'raw Kafka consume + produce of the same records',
      value: `${raw.toLocaleString('en')} records/s`,
      note: 'the ceiling for one hop',
    });
    const jobs = DIAMOND_JOBS;
    const groupIn = (namespace: string, job: string): { groupId: string; topic: string } =>
      job === 'validation'
        ? { groupId: `${namespace}.validation`, topic: config.topics.records }
        : job === 'delivery'
          ? { groupId: `${namespace}.job.delivery`, topic: config.topics.findings }
          : { groupId: `${namespace}.job.${job}`, topic: config.topics.valid };
    const groupOf = (job: string): { groupId: string; topic: string } => groupIn(name, job);
    const groups = jobs.map(groupOf);
    const servers = await serverPids(baseConfig, logger);
    // The diamond's shape with nothing in it: validation's hop, then records.valid's consumers (the
    // use cases, views, master), each its own process. What moving the records alone costs here.
    const validConsumers = groups.filter((g) => g.topic === config.topics.valid).length + 1; // + master
    const fanOut = await rawFanOut(kafka, {
      brokers: config.kafka.brokers,
      from: config.topics.records,
      via: `${name}-fan`,
      count: records,
      partitions: config.topics.partitions,
      consumers: validConsumers,
      groupPrefix: `${name}.fan`,
      servers,
    });
    const micros = (n: number | undefined): string => (n === undefined ? '?' : n.toFixed(1));
    rows.push({
      metric: `raw fan-out of the same records: 1 consume + produce, then ${validConsumers} consumers of its output, each its own process, no logic`,
      value: `${fanOut.rate.toLocaleString('en')} records/s`,
      note: `the ceiling of the diamond's Kafka traffic; CPU per record, µs: copier ${micros(fanOut.copierMicros)}, each consumer ${micros(fanOut.consumerMicros)}, kafka ${micros(fanOut.kafkaMicros)}; the machine's CPU ${fanOut.machineBusy} busy meanwhile`,
    });
    // Every record is stored in the master dataset before it goes on: the diamond cannot be faster.
    // Into a keyspace of its own, dropped right after with its memtables unflushed (the stack runs
    // without auto_snapshot): otherwise the diamond's writes would flush and compact these rows too.
    const rawKeyspace = `${name}_raw`;
    await run(config, ['db', 'apply'], { ...env, CASSANDRA_KEYSPACE: rawKeyspace });
    await serversQuiet(servers);
    const writeServersBefore = await processCpu(servers);
    const writeMachineBefore = await machineCpu();
    let masterWrite: { rate: number; cpuMicros: number };
    try {
      masterWrite = await rawMasterWrite(
        cassandra,
        { ...config, cassandra: { ...config.cassandra, keyspace: rawKeyspace } },
        generateStream(model(records)),
        serializer.schemaId,
      );
    } finally {
      await cassandra.execute(`DROP KEYSPACE IF EXISTS ${rawKeyspace}`);
    }
    const writeMachineBusy = busyShare(writeMachineBefore, await machineCpu());
    const writeServersAfter = await processCpu(servers);
    const cassandraWriteMicros = serverMicros(writeServersBefore, writeServersAfter, 'cassandra', records);
    rows.push({
      metric: 'raw master dataset write of the same records (Cassandra, same writer, no Kafka)',
      value: `${masterWrite.rate.toLocaleString('en')} records/s`,
      note: `the ceiling of the master dataset job, which stores every record; CPU per record, µs: writer ${micros(masterWrite.cpuMicros)}, cassandra ${micros(cassandraWriteMicros)}; the machine's CPU ${writeMachineBusy} busy meanwhile`,
    });
    // The two raw runs together bound the whole platform on this machine: moving every record
    // through the diamond's Kafka hops and storing it once in the master dataset, with no job logic,
    // no duplicate index, no findings and no views, already costs this much CPU a record.
    const { kafkaMicros } = fanOut;
    if (kafkaMicros !== undefined && cassandraWriteMicros !== undefined) {
      const total =
        fanOut.copierMicros +
        fanOut.consumerMicros * validConsumers +
        kafkaMicros +
        masterWrite.cpuMicros +
        cassandraWriteMicros;
      const cores = os.cpus().length;
      rows.push({
        metric:
          'ceiling of the platform on this machine: the diamond’s Kafka hops plus the master dataset write, no logic (from the two raw runs above)',
        value: `${Math.round((cores * 1e6) / total).toLocaleString('en')} records/s`,
        note: `${String(cores)} cores ÷ the CPU a record costs in them, ${total.toFixed(0)} µs: the fan-out's copier, ${String(validConsumers)} consumers and kafka, plus the master dataset's writer and cassandra; the target of 20,000 records/s allows ${((cores * 1e6) / 20_000).toFixed(0)} µs`,
      });
    }
    // Whatever the servers still do for what came before (a compaction) is not the diamond's cost.
    const settled = await serversQuiet(servers);
    const serversBefore = await processCpu(servers);
    const loadBefore = await cassandraLoad(cassandra, config.cassandra.keyspace);
    let began = performance.now();
    const speed = tributary(config, ['speed', '--port', '0'], env);
    procs.push(speed);
    const speedUrl = await speed.line(/\/jobs on (\S+)/);
    const status = async (): Promise<JobStatus[]> =>
      (await (await fetch(`${speedUrl}/jobs`)).json()) as JobStatus[];
    // Start-up (processes, connections, group joins) is reported apart from the steady rate, and so
    // is its CPU (loading modules, connecting: ~0.3 s a job, 15 µs a record on a 20k-record run).
    const startupCpu = new Map<string, number>();
    for (;;) {
      const now = await status();
      for (const j of now)
        if (j.state === 'running' && !startupCpu.has(shortName(j.job)))
          startupCpu.set(shortName(j.job), j.metrics.cpuSeconds ?? 0);
      if (now.filter((j) => j.state === 'running').length >= jobs.length + 1) break;
      await delay(50);
    }
    const running = performance.now();
    const machineBeforeDiamond = await machineCpu();
    while (!(await lagZero(kafka, groups))) await delay(250);
    const ended = performance.now();
    const diamondBusy = busyShare(machineBeforeDiamond, await machineCpu());
    const diamond = perSecond(records, ended - running);
    const jobsAtEnd = await status();
    const serversAfter = await processCpu(servers);
    const loadAfter = await cassandraLoad(cassandra, config.cassandra.keyspace);
    rows.push({
      metric: 'whole diamond on a backlog (validation → 4 use-case jobs → delivery, + views)',
      value: `${diamond.toLocaleString('en')} records/s`,
      note: `from the moment every job runs (start-up took ${((running - began) / 1000).toFixed(1)} s; ${perSecond(records, ended - began).toLocaleString('en')}/s counting it); ratio to raw consume+produce: ${(diamond / raw).toFixed(2)}, to the raw fan-out: ${(diamond / fanOut.rate).toFixed(2)}; the machine's CPU ${diamondBusy} busy meanwhile; target ≥ 20,000 records/s`,
    });
    while (!(await lagZero(kafka, [groupOf('master')]))) await delay(250);
    const master = perSecond(records, performance.now() - running);
    rows.push({
      metric:
        'master dataset job on the same backlog (records.valid → Cassandra ×2 tables), beside the diamond',
      value: `${master.toLocaleString('en')} records/s`,
      note: `caught up ${((performance.now() - ended) / 1000).toFixed(1)} s after the diamond; ratio to the raw master dataset write: ${(master / masterWrite.rate).toFixed(2)}`,
    });
    const perRecord = (seconds: number): string => ((seconds * 1e6) / records).toFixed(0);
    const cpu = cpuSpent(
      new Map([...startupCpu, ...serversBefore]),
      new Map([...jobCpu(jobsAtEnd), ...serversAfter]),
      perRecord,
    );
    rows.push({
      metric: 'CPU per record during that run, µs (each job from when it ran; servers over the run)',
      value: cpu.join(', '),
      note: `2 cores = 100 µs per record at 20,000 records/s; Cassandra: ${describeLoad(loadBefore, loadAfter, records)}; the servers were quiet ${describeQuiet(settled)} before it`,
    });

    // 2. Latency from produce to feedback at `rate` records/s, for 30 s; and at a trickle, where
    //    nothing queues, which shows the floor the hops themselves set.
    for (const [perSecondRate, anomalies] of [
      [rate, 0.02],
      [TRICKLE_RATE, 0.2],
    ] as const) {
      if (perSecondRate === TRICKLE_RATE && rate <= TRICKLE_RATE) continue;
      const listener = await listenToFeedback(kafka, config, `${name}.latency.${perSecondRate}`);
      // What an earlier run left (the bulk jobs catch up last) must not load this one.
      while (!(await lagZero(kafka, [...groups, groupOf('master')]))) await delay(250);
      await delay(3_000);
      const quietAfter = await serversQuiet(servers);
      began = performance.now();
      const machineBefore = await machineCpu();
      const jobsBefore = await status();
      const serversBeforeRun = await processCpu(servers);
      const hopsBefore = await latencyBuckets(speedUrl);
      const benchBefore = process.cpuUsage();
      const generatorBefore = await exitedChildrenCpu();
      await run(
        config,
        [
          'generate',
          '--records',
          String(perSecondRate * 30),
          '--rate',
          String(perSecondRate),
          '--customers',
          '100',
          '--seed',
          String(23 + perSecondRate),
          '--anomalies',
          String(anomalies),
        ],
        env,
      );
      const sendSeconds = (performance.now() - began) / 1000;
      const machineBusy = busyShare(machineBefore, await machineCpu());
      const share = (seconds: number): string => ((100 * seconds) / sendSeconds).toFixed(0);
      // The load's own cost: the generator producing the records, and this process listening.
      const generatorCpu = share((await exitedChildrenCpu()) - generatorBefore);
      const benchCpu = process.cpuUsage(benchBefore);
      const listenerCpu = share((benchCpu.user + benchCpu.system) / 1e6);
      // Where the CPU went meanwhile, in % of a core: at moderate rates it is fetch cycles, not records.
      const jobsAfter = await status();
      const serversAfterRun = await processCpu(servers);
      const cpuShares = cpuSpent(
        new Map([...jobCpu(jobsBefore), ...serversBeforeRun]),
        new Map([...jobCpu(jobsAfter), ...serversAfterRun]),
        share,
      ).join(', ');
      await delay(5_000);
      const hopP99 = hopBounds(hopsBefore, await latencyBuckets(speedUrl), 0.99)
        .map((h) => `${shortName(h.job)} ${h.bound}`)
        .join(', ');
      await listener.stop();
      const samples = listener.samples;
      const latencies = samples.map((x) => x.ms).sort((a, b) => a - b);
      // Where the tail sits in time: p99 of each 10 s of the run.
      const first = samples.reduce((m, x) => Math.min(m, x.at), Number.POSITIVE_INFINITY);
      const windows: number[][] = [];
      for (const x of samples) (windows[Math.floor((x.at - first) / 10_000)] ??= []).push(x.ms);
      const byWindow = windows
        .map((w) =>
          percentile(
            [...w].sort((a, b) => a - b),
            99,
          ),
        )
        .join(' / ');
      rows.push({
        metric: `latency append → feedback at ${perSecondRate.toLocaleString('en')} records/s (p50 / p99 / max)`,
        value: `${percentile(latencies, 50)} / ${percentile(latencies, 99)} / ${latencies.at(-1) ?? 0} ms`,
        note: `from the broker's append of each record to \`records\` (LogAppendTime), not the generator's send; ${latencies.length} feedback messages over ${sendSeconds.toFixed(0)} s, the machine's CPU ${machineBusy} busy (servers quiet ${describeQuiet(quietAfter)} before; % of a core: ${cpuShares}, generator ${generatorCpu}, bench listening ${listenerCpu}); p99 of each 10 s: ${byWindow} ms; p99 of each job's hop (from the record's append to \`records\` to its outputs committed, by its latency histogram's buckets): ${hopP99} ms; target p99 ≤ 100 ms${perSecondRate === TRICKLE_RATE ? ' (at 2,000/s); a trickle shows the floor' : ''}`,
      });
    }

    await speed.stop();
    procs.pop();

    // 3. Each job alone on what its input holds by now (the diamond's and the latency runs' records).
    const alone: string[] = [];
    for (const [i, job] of [...jobs, 'master'].entries()) {
      const { micros, records: count } = await jobAlone(
        config,
        kafka,
        env,
        { job, topic: groupOf(job).topic, groupId: (namespace) => groupIn(namespace, job).groupId },
        `${name}alone${i}`,
      );
      alone.push(
        `${shortName(job)} ${micros.toFixed(0)}${job === 'delivery' ? ` a finding (${count.toLocaleString('en')} findings)` : ''}`,
      );
    }
    rows.push({
      metric: 'CPU per record of each job alone on its input, µs (nothing else running, from when it ran)',
      value: alone.join(', '),
      note: "against the diamond's figures above: what sharing two cores with every other job and the servers adds",
    });

    // 4. Memory per job while draining a backlog written straight to records.valid.
    await produce(config.topics.valid, backlog);
    const drain = tributary(config, ['speed', '--port', '0'], env);
    procs.push(drain);
    const drainUrl = await drain.line(/\/jobs on (\S+)/);
    const peaks = new Map<string, number[]>();
    began = performance.now();
    while (
      !(await lagZero(
        kafka,
        [...groups, groupOf('master')].filter((g) => g.topic === config.topics.valid),
      ))
    ) {
      const status = (await (await fetch(`${drainUrl}/jobs`)).json()) as JobStatus[];
      for (const j of status) {
        const list = peaks.get(j.job) ?? [];
        if (j.metrics.rssBytes !== undefined) list.push(j.metrics.rssBytes);
        peaks.set(j.job, list);
      }
      await delay(1_000);
    }
    const drainSeconds = (performance.now() - began) / 1000;
    for (const [job, samples] of peaks) {
      if (samples.length === 0) continue;
      const mb = samples.map((b) => Math.round(b / 1048576));
      const quarter = Math.max(1, Math.floor(mb.length / 4));
      rows.push({
        metric: `memory of ${job} draining ${backlog.toLocaleString('en')} records`,
        value: `peak ${Math.max(...mb)} MB`,
        note: `first quarter max ${Math.max(...mb.slice(0, quarter))} MB, last quarter max ${Math.max(...mb.slice(-quarter))} MB, ${mb.length} samples over ${drainSeconds.toFixed(0)} s`,
      });
    }
  } finally {
    for (const p of procs.reverse()) await p.stop();
    await cassandra.shutdown();
    await scratch.drop();
  }
  return writeSection(
    baseConfig,
    'speed',
    `\`npm run bench speed -- --records ${records} --backlog ${backlog}\`: 100 customers, ${config.topics.partitions} partitions, every job in its own process (2 cores shared with Kafka, Cassandra and PostgreSQL).`,
    rows,
  );
}
