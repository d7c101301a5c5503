/**
 * The diamond's Kafka traffic with no logic in it: one process consumes the records and produces each
 * to a second topic (validation's hop), and one process per bulk or use-case job consumes that topic
 * (records.valid's consumers), each in its own process and consumer group, as the jobs are. What the
 * same run's diamond could reach if its jobs did nothing but move records, and what that costs the
 * broker and each process per record.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Kafka } from '../../core/kafka/index.js';
import { busyShare, machineCpu, processCpu, serverMicros, serversQuiet } from './cpu.js';

/** What consumeAll reports: when its first batch came and when it had every record (epoch ms). */
export interface Consumed {
  readonly firstAt: number;
  readonly doneAt: number;
  /** CPU of this process from its first batch on (connecting and joining apart), µs. */
  readonly cpuMicros: number;
}

export interface ConsumeAllOptions {
  readonly groupId: string;
  readonly from: string;
  readonly count: number;
  readonly partitions: number;
  /** Produce every record to this topic too (idempotent, acks all), as a job's outputs are. */
  readonly to?: string;
}

/** Consumes `count` records of `from` from the beginning, copying each to `to` if given. */
export async function consumeAll(kafka: Kafka, options: ConsumeAllOptions): Promise<Consumed> {
  const { to } = options;
  const producer =
    to === undefined ? undefined : kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer?.connect();
  const consumer = kafka.consumer({ groupId: options.groupId, maxBytesPerPartition: 1024 * 1024 });
  await consumer.connect();
  await consumer.subscribe({ topic: options.from, fromBeginning: true });
  let consumed = 0;
  let first: { at: number; cpu: NodeJS.CpuUsage } | undefined;
  try {
    const doneAt = await new Promise<number>((resolve, reject) => {
      consumer
        .run({
          autoCommit: false,
          partitionsConsumedConcurrently: options.partitions,
          eachBatch: async ({ batch }) => {
            first ??= { at: Date.now(), cpu: process.cpuUsage() };
            if (producer !== undefined && to !== undefined) {
              for (let i = 0; i < batch.messages.length; i += 1_000) {
                await producer.send({
                  topic: to,
                  acks: -1,
                  messages: batch.messages.slice(i, i + 1_000).map((m) => ({ key: m.key, value: m.value })),
                });
              }
            }
            consumed += batch.messages.length;
            if (consumed >= options.count) resolve(Date.now());
          },
        })
        .catch(reject);
    });
    const cpu = process.cpuUsage(first?.cpu);
    return { firstAt: first?.at ?? doneAt, doneAt, cpuMicros: cpu.user + cpu.system };
  } finally {
    await consumer.disconnect();
    await producer?.disconnect();
  }
}

export interface FanOut {
  /** Records/s from the copier's first batch until the last consumer had every record. */
  readonly rate: number;
  /** CPU per record, µs: the copier, the mean consumer, and the broker over the run. */
  readonly copierMicros: number;
  readonly consumerMicros: number;
  readonly kafkaMicros: number | undefined;
  readonly machineBusy: string;
}

export interface FanOutOptions {
  readonly brokers: readonly string[];
  readonly from: string;
  /** The copier's output, consumed by the others; created here. */
  readonly via: string;
  readonly count: number;
  readonly partitions: number;
  /** Consumers of `via`, each its own process. */
  readonly consumers: number;
  readonly groupPrefix: string;
  /** The local servers' pids (cpu.ts), for the broker's share. */
  readonly servers: ReadonlyMap<string, number>;
}

/** One consumeAll in a child process (its own CPU, as a job has): its report, and a way to stop it. */
function inChild(
  brokers: readonly string[],
  options: ConsumeAllOptions,
): { report: Promise<Consumed>; kill: () => void } {
  const child = spawn(
    process.execPath,
    [fileURLToPath(import.meta.url), JSON.stringify({ brokers, options })],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  const report = new Promise<Consumed>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code === 0) resolve(JSON.parse(out) as Consumed);
      else reject(new Error(`fan-out process for ${options.groupId} exited ${code}: ${out}`));
    });
  });
  return { report, kill: () => child.kill('SIGKILL') };
}

export async function rawFanOut(kafka: Kafka, options: FanOutOptions): Promise<FanOut> {
  const { brokers, count, partitions } = options;
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic: options.via, numPartitions: partitions }],
    });
  } finally {
    await admin.disconnect();
  }
  await serversQuiet(options.servers);
  const serversBefore = await processCpu(options.servers);
  const machineBefore = await machineCpu();
  const children = [
    inChild(brokers, {
      groupId: `${options.groupPrefix}.copy`,
      from: options.from,
      to: options.via,
      count,
      partitions,
    }),
    ...Array.from({ length: options.consumers }, (_, i) =>
      inChild(brokers, { groupId: `${options.groupPrefix}.${i}`, from: options.via, count, partitions }),
    ),
  ];
  let reports: Consumed[];
  try {
    reports = await Promise.all(children.map((c) => c.report));
  } catch (error) {
    // One failed (the copier, say): the others would wait for records forever.
    for (const child of children) child.kill();
    throw error;
  }
  const [copier, ...consumers] = reports;
  if (copier === undefined) throw new Error('fan-out: no copier ran');
  const machineBusy = busyShare(machineBefore, await machineCpu());
  const serversAfter = await processCpu(options.servers);
  const elapsedMs = Math.max(...consumers.map((c) => c.doneAt)) - copier.firstAt;
  return {
    rate: Math.round((count * 1000) / Math.max(1, elapsedMs)),
    copierMicros: copier.cpuMicros / count,
    consumerMicros: consumers.reduce((n, c) => n + c.cpuMicros, 0) / consumers.length / count,
    kafkaMicros: serverMicros(serversBefore, serversAfter, 'kafka', count),
    machineBusy,
  };
}

// Run as a child process by inChild: one consumeAll, its report on stdout.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { createKafka } = await import('../../core/kafka/index.js');
  const { silentLogger } = await import('../../core/logger.js');
  const { brokers, options } = JSON.parse(process.argv[2] ?? '{}') as {
    brokers: string[];
    options: ConsumeAllOptions;
  };
  const report = await consumeAll(createKafka({ brokers, logger: silentLogger }), options);
  process.stdout.write(JSON.stringify(report), () => process.exit(0));
}
