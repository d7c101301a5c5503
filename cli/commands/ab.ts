import { Command, InvalidArgumentError, Option } from '@commander-js/extra-typings';
import { createCassandraClient } from '../../core/cassandra/index.js';
import { createPgPool } from '../../core/postgres/index.js';
import { TributaryError } from '../../core/errors.js';
import { abReport } from '../../speed/ab/report.js';
import {
  assignVariant,
  listExperiments,
  setExperiment,
  untilInEffect,
  describeInEffect,
} from '../../speed/index.js';
import { action, commandContext, requireUseCase } from '../context.js';
import { parseCustomerIds, parsePercent, parsePositiveInt } from '../options.js';

/**
 * The report reads findings_by_usecase with one query per day, so a typo (--days 100000) would run for
 * hours. A finding is kept RETENTION_DAYS (default 60) + 2 days: 400 covers a year of retention
 * with room, and days beyond what is kept would only read empty partitions.
 */
const MAX_REPORT_DAYS = 400;

function parseReportDays(value: string): number {
  const days = parsePositiveInt(value);
  if (days > MAX_REPORT_DAYS) throw new InvalidArgumentError(`expected at most ${MAX_REPORT_DAYS} days`);
  return days;
}

export function abCommand(): Command {
  const ab = new Command('ab').description(
    'A/B experiments: which variant of a use case each customer receives',
  );
  ab.command('set')
    .description(
      'start or change an experiment: customers get the treatment by a deterministic hash, the rest the control',
    )
    .argument('<usecase>')
    .requiredOption('--control <variant>', 'the variant most customers keep')
    .requiredOption('--treatment <variant>', 'the variant being tried')
    .addOption(
      new Option('--percent <n>', 'share of customers (0–100) that receive the treatment')
        .argParser(parsePercent)
        .default(50),
    )
    .option('--salt <text>', 'changes which customers fall in the treatment share', '')
    .action(
      action(async (usecase, options) => {
        await requireUseCase(usecase, [options.control, options.treatment]);
        if (options.control === options.treatment)
          throw new TributaryError(
            'USAGE',
            `--control and --treatment are both ${options.control}: an experiment needs two variants`,
          );
        const { config, logger } = commandContext();
        const pool = createPgPool({ url: config.postgres.url, logger, max: 1 });
        let from: Date | undefined;
        try {
          await setExperiment(pool, {
            usecase,
            control: options.control,
            treatment: options.treatment,
            treatmentPercent: options.percent,
            salt: options.salt,
          });
          from = await untilInEffect(pool);
        } finally {
          await pool.end();
        }
        process.stdout.write(
          `${usecase}: ${options.percent}% of customers receive ${options.treatment}, the rest ${options.control}, ${describeInEffect(from)}\n`,
        );
        return 0;
      }),
    );
  ab.command('assign')
    .description(
      'pin customers to a variant (or --clear: they follow the split again); one change, one wait, however many',
    )
    .argument('<usecase>')
    .argument('<customers>', 'a customer id, or several separated by commas', parseCustomerIds)
    .argument('[variant]')
    .option('--clear', 'remove their overrides')
    .action(
      action(async (usecase, customers, variant, options) => {
        if ((variant === undefined) === (options.clear !== true))
          throw new TributaryError('USAGE', 'give a variant, or --clear');
        // A variant that is not the use case's would leave the customer with none of its feedback.
        await requireUseCase(usecase, variant === undefined ? [] : [variant]);
        const { config, logger } = commandContext();
        const pool = createPgPool({ url: config.postgres.url, logger, max: 1 });
        let from: Date | undefined;
        try {
          await assignVariant(pool, usecase, customers, variant ?? null);
          from = await untilInEffect(pool);
        } finally {
          await pool.end();
        }
        const one = customers.length === 1;
        const who = one ? customers[0] : `${customers.length} customers`;
        const does = (verb: string): string => (one ? `${verb}s` : verb);
        process.stdout.write(
          variant === undefined
            ? `${who} ${does('follow')} the ${usecase} split again ${describeInEffect(from)}\n`
            : `${who} ${does('receive')} ${usecase} variant ${variant} ${describeInEffect(from)}\n`,
        );
        return 0;
      }),
    );
  ab.command('list')
    .description('list experiments')
    .action(
      action(async () => {
        const { config, logger } = commandContext();
        const pool = createPgPool({ url: config.postgres.url, logger, max: 1 });
        try {
          for (const e of await listExperiments(pool)) {
            process.stdout.write(
              `${e.usecase}\tcontrol ${e.control}\ttreatment ${e.treatment} (${e.treatmentPercent}%)\n`,
            );
          }
        } finally {
          await pool.end();
        }
        return 0;
      }),
    );
  ab.command('report')
    .description('per variant: findings per code and delivered; how much the variants agree')
    .argument('<usecase>')
    .addOption(
      new Option(
        '--days <n>',
        `days back from today, at most ${MAX_REPORT_DAYS} (findings are kept RETENTION_DAYS + 2 days)`,
      )
        .argParser(parseReportDays)
        .default(7),
    )
    .option('--json', 'print JSON')
    .action(
      action(async (usecase, options) => {
        await requireUseCase(usecase);
        const { config, logger } = commandContext();
        const client = createCassandraClient({
          contactPoints: config.cassandra.contactPoints,
          localDataCenter: config.cassandra.localDataCenter,
          logger,
        });
        try {
          const report = await abReport(client, config.cassandra.keyspace, usecase, options.days);
          if (options.json === true) {
            process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
            return 0;
          }
          process.stdout.write(`${usecase}, ${report.from} … ${report.to}\n`);
          for (const v of report.variants) {
            const codes = Object.entries(v.byCode)
              .map(([code, n]) => `${code} ${n}`)
              .join(', ');
            process.stdout.write(
              `  variant ${v.variant || '(none)'}: ${v.findings} findings (${v.delivered} delivered): ${codes}\n`,
            );
          }
          process.stdout.write(
            report.agreement === null
              ? '  agreement: needs findings from two variants\n'
              : `  agreement: ${(report.agreement * 100).toFixed(1)}% (${report.flaggedByAll} of ${report.flaggedByAny} flagged records flagged by every variant)\n`,
          );
          return 0;
        } finally {
          await client.shutdown();
        }
      }),
    );
  return ab;
}
