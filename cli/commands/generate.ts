import { Command, InvalidArgumentError, Option } from '@commander-js/extra-typings';
import { createKafka, ensureTopicsWith } from '../../core/kafka/index.js';
import { createPgPool } from '../../core/postgres/index.js';
import {
  RecordProducer,
  RecordSerializer,
  RegistryClient,
  ingestTopics,
  recordSubject,
} from '../../ingest/index.js';
import {
  DEFAULT_GENERATE,
  GatewaySink,
  KafkaSink,
  runGenerator,
  type Sink,
} from '../../scripts/generate/index.js';
import { action, commandContext } from '../context.js';
import { parseNonNegativeNumber, parsePositiveInt } from '../options.js';
import { progressBar } from '../progress.js';

function share(value: string): number {
  const n = parseNonNegativeNumber(value);
  if (n > 1) throw new InvalidArgumentError('expected a share between 0 and 1');
  return n;
}

/** Customer ids are `<prefix>-0001`…: the prefix must keep them valid ids (CUSTOMER_ID_PATTERN). */
function customerPrefix(value: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,49}$/.test(value)) {
    throw new InvalidArgumentError(
      'expected 1-50 letters, digits, "_", "." or "-", starting with a letter or digit (ids are <prefix>-0001…)',
    );
  }
  return value;
}

/** The generator's seed is 32 bits (scripts/generate/random.ts): a larger one would repeat another's data. */
export function parseSeed(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 0xffff_ffff)
    throw new InvalidArgumentError('expected an integer 0–4294967295');
  return n;
}

/** Event times from 2200 on are refused by validation (ingest/contract/validate.ts): none is generated. */
const LAST_END_MS = Date.UTC(2200, 0, 1) - 1;

function endMs(value: string): number {
  const n = parsePositiveInt(value);
  if (n > LAST_END_MS)
    throw new InvalidArgumentError(`expected epoch milliseconds before 2200 (≤ ${LAST_END_MS})`);
  return n;
}

function gatewayUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError('expected an http:// or https:// URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new InvalidArgumentError('expected an http:// or https:// URL');
  return value;
}

export function generateCommand(): Command {
  const d = DEFAULT_GENERATE;
  return new Command('generate')
    .description(
      'produce realistic records (anomalies, bad data, duplicates, late events), seeded and reproducible',
    )
    .addOption(new Option('--customers <n>', 'customers').argParser(parsePositiveInt).default(d.customers))
    .addOption(
      new Option('--days <n>', 'days of event time, ending now').argParser(parsePositiveInt).default(d.days),
    )
    .addOption(
      new Option('--records <n>', 'messages to send in all').argParser(parsePositiveInt).default(d.records),
    )
    .addOption(
      new Option('--seed <n>', 'random seed (0–4294967295): the same seed gives the same data')
        .argParser(parseSeed)
        .default(d.seed),
    )
    .addOption(
      new Option('--rate <per-second>', 'records per second; 0 = as fast as possible')
        .argParser(parseNonNegativeNumber)
        .default(0),
    )
    .addOption(
      new Option('--via <sink>', 'send through Kafka or the HTTP gateway')
        .choices(['kafka', 'gateway'] as const)
        .default('kafka' as const),
    )
    .option('--gateway-url <url>', 'the ingest gateway (default: http://127.0.0.1:API_PORT)', gatewayUrl)
    .addOption(
      new Option('--anomalies <share>', 'share of anomalous amounts').argParser(share).default(d.anomalies),
    )
    .addOption(
      new Option('--bad <share>', 'share of messages that must be refused').argParser(share).default(d.bad),
    )
    .addOption(
      new Option('--duplicates <share>', 'share of exact re-sends').argParser(share).default(d.duplicates),
    )
    .addOption(
      new Option('--late <share>', 'share of events arriving 1–48 h late').argParser(share).default(d.late),
    )
    .addOption(
      new Option('--bursts <share>', 'share of velocity bursts (15 records in a minute)')
        .argParser(share)
        .default(d.bursts),
    )
    .addOption(
      new Option('--customer-prefix <prefix>', 'customer ids are <prefix>-0001…')
        .argParser(customerPrefix)
        .default(d.customerPrefix),
    )
    .addOption(new Option('--end <epoch-ms>', 'end of the generated period (default: now)').argParser(endMs))
    .option('--json', 'print the summary as JSON')
    .action(
      action(async (options) => {
        const { config, logger } = commandContext();
        const model = {
          customers: options.customers,
          days: options.days,
          records: options.records,
          seed: options.seed,
          anomalies: options.anomalies,
          bad: options.bad,
          duplicates: options.duplicates,
          late: options.late,
          bursts: options.bursts,
          customerPrefix: options.customerPrefix,
          endMs: options.end ?? Date.now(),
        };
        const progress = progressBar('generate', model.records);
        let sink: Sink;
        let cleanup: () => Promise<void>;
        if (options.via === 'kafka') {
          const kafka = createKafka({
            brokers: config.kafka.brokers,
            logger,
            clientId: 'tributary-generate',
          });
          await ensureTopicsWith(kafka, ingestTopics(config));
          const serializer = await RecordSerializer.create({
            registry: new RegistryClient({
              url: config.registry.url,
              adminToken: config.registry.adminToken,
            }),
            subject: recordSubject(config.topics.records),
          });
          const producer = new RecordProducer(kafka, config.topics.records, serializer);
          await producer.connect();
          sink = new KafkaSink(producer, serializer);
          cleanup = () => producer.close();
        } else {
          const pool = createPgPool({ url: config.postgres.url, logger, max: 2 });
          sink = new GatewaySink({ url: options.gatewayUrl ?? `http://127.0.0.1:${config.api.port}`, pool });
          cleanup = () => pool.end();
        }
        try {
          const summary = await runGenerator(model, sink, {
            rate: options.rate,
            onProgress: (n) => {
              progress.update(n);
            },
          });
          progress.stop();
          const result = { ...summary, refusedByGateway: sink.refused, via: options.via, seed: model.seed };
          if (options.json === true) process.stdout.write(`${JSON.stringify(result)}\n`);
          else {
            const rate = Math.round((summary.sent * 1000) / Math.max(1, summary.durationMs));
            process.stdout.write(
              `sent ${summary.sent} messages via ${options.via} in ${(summary.durationMs / 1000).toFixed(1)} s (${rate}/s): ` +
                `${summary.valid} valid (${summary.duplicates} duplicates), ${summary.bad} bad` +
                (options.via === 'gateway' ? `, ${sink.refused} refused by the gateway` : '') +
                '\n',
            );
          }
          return 0;
        } finally {
          progress.stop();
          await cleanup();
        }
      }),
    );
}
