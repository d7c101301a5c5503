/**
 * Demo: the whole diamond on generated data. Records enter through the gateway and through Kafka;
 * the validation job passes valid records on and dead-letters bad input; the master dataset job
 * stores every valid record; four use-case jobs (one A/B pair) find problems; the delivery job
 * applies the A/B post-filter and publishes feedback; the views job keeps the realtime aggregates.
 * Everything runs as the operator would run it, but in topics, a namespace, a control-plane database
 * and a keyspace of the run's own, dropped at its end: a demo never mixes with other data, nor with
 * an earlier demo's (whose deployments, A/B split and findings would show in this one's report).
 */
import { setTimeout as delay } from 'node:timers/promises';
import { cassandraTypes, createCassandraClient } from '../../core/cassandra/index.js';
import { loadConfig } from '../../core/config.js';
import type { Logger } from '../../core/logger.js';
import { daysBetween, utcDay } from '../../ingest/index.js';
import { applySchema } from '../../migrations/schema/index.js';
import type { JobStatus } from '../../speed/index.js';
import { customerIds } from '../generate/index.js';
import { createScratch } from '../scratch.js';
import { runTributary, startTributary, type Child } from './children.js';

type Say = (line: string) => void;

async function jobs(url: string): Promise<JobStatus[]> {
  const response = await fetch(`${url}/jobs`);
  return (await response.json()) as JobStatus[];
}

/**
 * Waits until every job has taken in all its input (validation: everything sent; the use cases and
 * views: all that validation let through; delivery: every finding) and has no lag left — three
 * readings in a row. A demo that does not get there in time fails, naming where each job stands.
 */
async function drained(url: string, sent: number): Promise<JobStatus[]> {
  let calm = 0;
  let last: JobStatus[] = [];
  for (let i = 0; i < 900 && calm < 3; i += 1) {
    await delay(500);
    last = await jobs(url);
    const valid = last.find((j) => j.job === 'validation')?.metrics.out ?? 0;
    const findings = last
      .filter((j) => j.job.startsWith('usecase.'))
      .reduce((n, j) => n + (j.metrics.out ?? 0), 0);
    const expected = (job: string): number =>
      job === 'validation' ? sent : job === 'delivery' ? findings : valid;
    const ready = last.every(
      (j) => j.state === 'running' && (j.metrics.lag ?? 0) === 0 && (j.metrics.in ?? 0) >= expected(j.job),
    );
    calm = ready ? calm + 1 : 0;
  }
  if (calm < 3) {
    const where = last.map((j) => `${j.job} ${j.state} in ${j.metrics.in ?? 0} lag ${j.metrics.lag ?? 0}`);
    throw new Error(`the jobs did not catch up within 450 s: ${where.join('; ')}`);
  }
  return last;
}

export async function demoPipeline(logger: Logger, say: Say): Promise<void> {
  const scratch = await createScratch(loadConfig(process.env), logger, 'demo');
  const { config, env } = scratch;
  const cassandra = createCassandraClient({
    contactPoints: config.cassandra.contactPoints,
    localDataCenter: config.cassandra.localDataCenter,
    logger,
  });
  const children: Child[] = [];
  try {
    await applySchema(config, logger);
    if (scratch.abandoned.length > 0)
      say(`    dropped what interrupted runs left behind: ${scratch.abandoned.join(', ')}`);
    say(
      `    in a database, keyspace, namespace and topics of this run's own, dropped at its end: ${scratch.name}`,
    );
    const serve = startTributary(config, ['serve', '--api-port', '0', '--registry-port', '0'], env);
    children.push(serve);
    const registryUrl = (await serve.waitFor(/schema registry listening on (\S+)/))[1] ?? '';
    const apiUrl = (await serve.waitFor(/API listening on (\S+)/))[1] ?? '';
    say(`    serve: API ${apiUrl}, schema registry ${registryUrl}`);
    const childEnv = { ...env, SCHEMA_REGISTRY_URL: registryUrl };

    for (const [usecase, variant] of [
      ['data-quality', ''],
      ['velocity', ''],
      ['amount-anomaly', 'A'],
      ['amount-anomaly', 'B'],
    ] as const) {
      say(
        `    ${await runTributary(config, ['deploy', usecase, ...(variant === '' ? [] : ['--variant', variant])], childEnv)}`,
      );
    }
    say(
      `    ${await runTributary(config, ['ab', 'set', 'amount-anomaly', '--control', 'A', '--treatment', 'B', '--percent', '50'], childEnv)}`,
    );

    const speed = startTributary(config, ['speed', '--port', '0'], childEnv);
    children.push(speed);
    const speedUrl = (await speed.waitFor(/\/jobs on (\S+)/))[1] ?? '';
    say(`    speed: every job in its own process; /metrics and /jobs on ${speedUrl}`);

    const prefix = scratch.name;
    const end = Date.now();
    const gateway = await runTributary(
      config,
      [
        'generate',
        '--via',
        'gateway',
        '--gateway-url',
        apiUrl,
        '--records',
        '2000',
        '--customers',
        '5',
        '--customer-prefix',
        prefix,
        '--end',
        String(end),
        '--seed',
        '1',
      ],
      childEnv,
    );
    say(`    ${gateway}`);
    const viaKafka = await runTributary(
      config,
      [
        'generate',
        '--via',
        'kafka',
        '--records',
        '30000',
        '--customers',
        '10',
        '--customer-prefix',
        `${prefix}-k`,
        '--end',
        String(end),
        '--seed',
        '2',
        '--bad',
        '0.01',
      ],
      childEnv,
    );
    say(`    ${viaKafka}`);
    const refused = Number(/(\d+) refused/.exec(gateway)?.[1] ?? 0);
    const sentToKafka = 30_000 + 2_000 - refused;
    const final = await drained(speedUrl, sentToKafka);
    say('    every job has caught up (out = messages produced to Kafka):');
    for (const j of final) {
      const m = j.metrics;
      // The views and master dataset jobs write Cassandra rows, not messages: a 0 would read like a fault.
      const rows =
        j.job === 'views'
          ? 'realtime_aggregates rows'
          : j.job === 'master'
            ? 'the master dataset'
            : undefined;
      const out = rows !== undefined ? '—'.padStart(6) : String(m.out ?? 0).padStart(6);
      say(
        `      ${j.job.padEnd(26)} in ${String(m.in ?? 0).padStart(6)}  out ${out}  dead letters ${String(m.deadLetters ?? 0).padStart(4)}  rss ${Math.round((m.rssBytes ?? 0) / 1048576)} MB${rows !== undefined ? `  (writes ${rows})` : ''}`,
      );
    }

    const customers = [
      ...customerIds({ customers: 5, customerPrefix: prefix }),
      ...customerIds({ customers: 10, customerPrefix: `${prefix}-k` }),
    ];
    const days = daysBetween(utcDay(new Date(end - 3 * 86_400_000)), utcDay(new Date(end)));
    const ks = config.cassandra.keyspace;
    let stored = 0;
    const byCode = new Map<string, number>();
    let sample: string | undefined;
    for (const customer of customers) {
      for (const day of days) {
        const d = cassandraTypes.LocalDate.fromString(day);
        stored += Number(
          (
            await cassandra.execute(
              `SELECT count(*) FROM ${ks}.records_by_customer WHERE customer_id = ? AND day = ?`,
              [customer, d],
            )
          ).rows[0]?.get('count') ?? 0,
        );
        const findings = await cassandra.execute(
          `SELECT code, usecase, variant, delivered, detail, record_ids FROM ${ks}.findings_by_customer WHERE customer_id = ? AND day = ?`,
          [customer, d],
        );
        for (const row of findings.rows) {
          if (row.get('delivered') !== true) continue;
          const code = String(row.get('code'));
          byCode.set(code, (byCode.get(code) ?? 0) + 1);
          if (sample === undefined && code === 'AMOUNT_ANOMALY')
            sample = `${customer}: ${String(row.get('usecase'))}/${String(row.get('variant'))} ${JSON.stringify(row.get('detail'))}`;
        }
      }
    }
    say(`    master dataset: ${stored} distinct records of the demo customers (duplicates stored once)`);
    say(`    feedback delivered, by code: ${[...byCode].map(([c, n]) => `${c} ${n}`).join(', ')}`);
    if (sample !== undefined) say(`    e.g. ${sample}`);
    const report = await runTributary(
      config,
      // Findings are filed by their records' event day: the report spans the generated period.
      ['ab', 'report', 'amount-anomaly', '--days', String(days.length), '--json'],
      childEnv,
    );
    const parsed = JSON.parse(report) as {
      variants: { variant: string; findings: number; delivered: number }[];
      agreement: number | null;
    };
    say(
      `    A/B report: ${parsed.variants.map((v) => `${v.variant}: ${v.findings} findings, ${v.delivered} delivered`).join('; ')}; agreement ${parsed.agreement === null ? 'n/a' : `${(parsed.agreement * 100).toFixed(0)}%`}`,
    );
  } finally {
    for (const child of children.reverse()) await child.stop();
    await cassandra.shutdown();
    await scratch.drop();
  }
}
