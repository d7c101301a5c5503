/**
 * The Kafka client boundary. This folder is the only place that imports kafkajs, so the client can be
 * swapped (for example for @confluentinc/kafka-javascript, which offers the same API shape).
 */
import { Kafka, logLevel as KafkaLogLevel, type Admin, type LogEntry, type logCreator } from 'kafkajs';
import type { Logger } from '../logger.js';

export interface KafkaClientOptions {
  readonly brokers: readonly string[];
  readonly clientId?: string;
  readonly logger: Logger;
  readonly connectionTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
  /** Retries of the client's own requests (connection and metadata), not of our writes. */
  readonly retries?: number;
}

/**
 * A transaction that starts while the broker still writes the previous one's markers is answered
 * CONCURRENT_TRANSACTIONS and retried within milliseconds: routine, not worth a warning each time.
 */
function isRoutine(fields: Record<string, unknown>): boolean {
  const error = fields.error;
  return typeof error === 'string' && error.includes('another concurrent operation on the same transaction');
}

function pinoLogCreator(logger: Logger): logCreator {
  return () =>
    ({ level, log }: LogEntry) => {
      const { message, ...fields } = log;
      const child = { component: 'kafkajs', ...fields };
      if (isRoutine(fields)) {
        logger.debug(child, message);
        return;
      }
      switch (level) {
        // kafkajs logs retriable conditions (a rebalance, a coordinator moving) as errors and retries
        // them itself; what it cannot recover from reaches us as a rejected promise. One level down.
        case KafkaLogLevel.ERROR:
          logger.warn(child, message);
          break;
        case KafkaLogLevel.WARN:
          logger.info(child, message);
          break;
        case KafkaLogLevel.INFO:
          logger.debug(child, message);
          break;
        case KafkaLogLevel.DEBUG:
          logger.trace(child, message);
          break;
        case KafkaLogLevel.NOTHING:
          break;
      }
    };
}

// We choose partitioners explicitly; kafkajs's notice about its v2 default is noise.
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

export function createKafka(options: KafkaClientOptions): Kafka {
  return new Kafka({
    clientId: options.clientId ?? 'tributary',
    brokers: [...options.brokers],
    connectionTimeout: options.connectionTimeoutMs ?? 3_000,
    requestTimeout: options.requestTimeoutMs ?? 30_000,
    retry: { retries: options.retries ?? 5, initialRetryTime: 100, maxRetryTime: 5_000 },
    logLevel: KafkaLogLevel.INFO,
    logCreator: pinoLogCreator(options.logger),
  });
}

/** Strict readiness probe: a metadata request answered by the cluster. Returns the broker count. */
export async function probeKafka(options: KafkaClientOptions): Promise<number> {
  const admin = createKafka({ ...options, retries: 0 }).admin();
  await admin.connect();
  try {
    const cluster = await admin.describeCluster();
    return cluster.brokers.length;
  } finally {
    await admin.disconnect();
  }
}

/**
 * What a readiness endpoint asks of Kafka: that the cluster answers a metadata request for `topic`
 * within `timeoutMs`. Its own client, without retries (a check that fails is asked again by the
 * next probe), and one admin connection, opened at the first check and kept.
 */
export class KafkaReadiness {
  private readonly admin: Admin;
  private connected: Promise<void> | undefined;
  private asking: Promise<void> | undefined;

  constructor(
    options: KafkaClientOptions,
    private readonly topic: string,
    private readonly timeoutMs = 2_000,
  ) {
    this.admin = createKafka({
      ...options,
      retries: 0,
      connectionTimeoutMs: timeoutMs,
      // A broker that connects but never answers: each abandoned request ends with the check.
      requestTimeoutMs: timeoutMs,
    }).admin();
  }

  /** One question to the cluster at a time: concurrent checks share it, each with its own timeout. */
  async check(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new Error(`Kafka did not answer within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
    });
    this.asking ??= this.ask().finally(() => {
      this.asking = undefined;
    });
    const asked = this.asking;
    asked.catch(() => undefined); // a late failure, after the timeout answered, is not unhandled
    try {
      await Promise.race([asked, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async ask(): Promise<void> {
    this.connected ??= this.admin.connect();
    try {
      await this.connected;
    } catch (error) {
      this.connected = undefined; // the next check connects again
      throw error;
    }
    let metadata: Awaited<ReturnType<Admin['fetchTopicMetadata']>>;
    try {
      metadata = await this.admin.fetchTopicMetadata({ topics: [this.topic] });
    } catch (error) {
      if (error instanceof TypeError && error.message.includes('topicMetadata')) {
        // kafkajs answers a metadata request that no broker served by reading the topics of a null
        // answer: said plainly, and the next check starts on a new connection.
        this.connected = undefined;
        await this.admin.disconnect().catch(() => undefined);
        throw new Error(`topic ${this.topic}: no broker answered the metadata request`, { cause: error });
      }
      throw new Error(`topic ${this.topic}: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
      });
    }
    const leaderless = metadata.topics
      .flatMap((t) => t.partitions)
      .filter((p) => p.leader < 0)
      .map((p) => p.partitionId);
    if (leaderless.length > 0)
      throw new Error(`topic ${this.topic}: partitions ${leaderless.join(', ')} have no leader`);
  }

  async close(): Promise<void> {
    await this.admin.disconnect();
  }
}
