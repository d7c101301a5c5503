import { Command, InvalidArgumentError, Option } from '@commander-js/extra-typings';
import {
  deploy,
  jobName,
  jobsToRun,
  listDeployments,
  liveSupervisors,
  missingSupervisorsTable,
  placement,
  placementProblems,
  setStatus,
  supervisorName,
  USE_CASES,
  type JobStatus,
  type Share,
} from '../../speed/index.js';
import { action, requireUseCase, withPool } from '../context.js';
import { parseJsonObject } from '../options.js';

/** YYYY-MM-DD, then optionally [T ]hh:mm[:ss[.fff]] and Z or ±hh:mm. */
const ISO_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})?)?$/;

/**
 * True when the date and time of day are ones a calendar has: Date.parse rolls 2024-02-30 over to
 * March 1 and 24:00 over to the next day instead of refusing them.
 */
function isRealIsoTime(value: string): boolean {
  const parts = ISO_TIME.exec(value);
  if (parts === null) return false;
  const [, y = '', mo = '', d = '', h = '00', mi = '00', s = '00'] = parts;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  return new Date(ms).toISOString().slice(0, 19) === `${y}-${mo}-${d}T${h}:${mi}:${s}`;
}

export function parseFrom(value: string): 'earliest' | 'latest' | number {
  if (value === 'earliest' || value === 'latest') return value;
  const ms = /^\d+$/.test(value) ? Number(value) : isRealIsoTime(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms))
    throw new InvalidArgumentError('expected earliest, latest, an ISO timestamp or epoch milliseconds');
  // The control plane keeps 13-digit epoch milliseconds: 2001-09-09 to 2286-11-20.
  if (ms < 1e12 || ms >= 1e13)
    throw new InvalidArgumentError('expected a time between 2001-09-09 and 2286-11-20');
  return ms;
}

export function deployCommand() {
  return new Command('deploy')
    .description('add or update a use case (or one variant) while every other job keeps running')
    .argument('<usecase>', `one of: ${USE_CASES.map((u) => u.name).join(', ')}`)
    .option('--variant <v>', 'the variant to deploy (amount-anomaly: A or B)', '')
    .addOption(
      new Option(
        '--settings <json>',
        "settings for this deployment (defaults under each customer’s own); an update without it keeps the deployment’s, '{}' clears them",
      ).argParser(parseJsonObject),
    )
    .addOption(
      new Option(
        '--from <position>',
        'where the job starts when its consumer group has no committed offsets: earliest (default), latest, or a timestamp; an update continues from its predecessor',
      ).argParser(parseFrom),
    )
    .action(
      action(async (usecase, options) => {
        await requireUseCase(usecase, [options.variant]);
        return withPool(async (pool) => {
          const generation = await deploy(pool, {
            usecase,
            variant: options.variant,
            settings: options.settings,
            startFrom: options.from,
          });
          const job = jobName(usecase, options.variant);
          process.stdout.write(
            generation === 1
              ? `deployed ${job} (generation 1)\n`
              : `updated ${job} to generation ${generation} (it continues from its consumer group’s committed offsets)\n`,
          );
          return 0;
        });
      }),
    );
}

export function undeployCommand() {
  return new Command('undeploy')
    .description('stop and remove a use case (or one variant); the others keep running')
    .argument('<usecase>')
    .option('--variant <v>', 'the variant', '')
    .action(
      action((usecase, options) =>
        withPool(async (pool) => {
          const found = await setStatus(pool, usecase, options.variant, 'undeployed', null);
          if (!found) {
            // Checked only now: a deployment whose module is gone, or no longer has the variant, can
            // still be undeployed. A name or variant nobody knows is a usage error (exit 2).
            await requireUseCase(usecase, [options.variant]);
            process.stderr.write(`tributary: ${jobName(usecase, options.variant)} is not deployed\n`);
            return 1;
          }
          process.stdout.write(`undeployed ${jobName(usecase, options.variant)}\n`);
          return 0;
        }),
      ),
    );
}

/** How a supervisor's share reads in `tributary list`. */
function describeShare(share: Share): string {
  if ('only' in share) return `only ${share.only.join(',')}`;
  if ('except' in share) return `every job but ${share.except.join(',')}`;
  return 'every job';
}

export function listCommand(): Command {
  return new Command('list')
    .description(
      'deployments and, for every running `tributary speed` supervisor (any machine), its jobs’ live measurements',
    )
    .option('--json', 'print JSON')
    .action(
      action((options) =>
        withPool(async (pool) => {
          const deployments = await listDeployments(pool);
          const supervisors = await liveSupervisors<JobStatus>(pool).catch((error: unknown) => {
            if (!missingSupervisorsTable(error)) throw error;
            process.stderr.write(
              'tributary: the control plane has no speed_supervisors table yet (run `tributary db apply`): no job is shown running\n',
            );
            return [];
          });
          const speedRuns = supervisors.length > 0;
          const placed = placement(jobsToRun(deployments).keys(), supervisors);
          // With no supervisor at all every job "runs nowhere": that is said once, as "speed not running".
          const { unplaced, standby, slotsDiffer } = speedRuns ? placed : { ...placed, unplaced: [] };
          const live = supervisors.flatMap((s) =>
            s.jobs.map((j) => ({ ...j, supervisor: supervisorName(s) })),
          );
          if (options.json === true) {
            const summary = {
              deployments,
              supervisors: supervisors.map(({ jobs: _, ...s }) => s),
              jobs: speedRuns ? live : null,
              unplaced,
              standby,
              slotsDiffer,
            };
            process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
            return 0;
          }
          const rows = [
            [
              'JOB',
              'GEN',
              'DEPLOYMENT',
              'PROCESS',
              'SUPERVISOR',
              'PID',
              'IN',
              'OUT',
              'FINDINGS',
              'DLQ',
              'LAG',
              'CPU s',
              'RSS MB',
              'LATENCY ms',
            ],
          ];
          const names = new Set([
            ...live.map((j) => j.job),
            ...deployments.map((d) => jobName(d.usecase, d.variant)),
            ...unplaced,
          ]);
          const n = (v: number | undefined): string => (v === undefined ? '-' : String(Math.round(v)));
          for (const name of names) {
            const d = deployments.find((x) => jobName(x.usecase, x.variant) === name);
            const deployment =
              d === undefined
                ? 'platform'
                : d.status + (d.statusReason === null ? '' : ` (${d.statusReason})`);
            const generation = d === undefined ? '-' : String(d.generation);
            const running = live.filter((x) => x.job === name);
            if (running.length === 0) {
              const process_ = !speedRuns
                ? 'speed not running'
                : unplaced.includes(name)
                  ? 'runs nowhere: no supervisor takes it'
                  : '-';
              rows.push([name, generation, deployment, process_, ...Array<string>(10).fill('-')]);
            }
            for (const j of running) {
              const m = j.metrics;
              rows.push([
                name,
                generation,
                deployment,
                j.state,
                j.supervisor,
                j.pid === undefined ? '-' : String(j.pid),
                n(m.in),
                n(m.out),
                n(m.findings),
                n(m.deadLetters),
                n(m.lag),
                m.cpuSeconds === undefined ? '-' : m.cpuSeconds.toFixed(1),
                m.rssBytes === undefined ? '-' : String(Math.round(m.rssBytes / 1048576)),
                n(m.meanLatencyMs),
              ]);
            }
          }
          const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
          for (const r of rows)
            process.stdout.write(
              `${r
                .map((c, i) => c.padEnd(widths[i] ?? 0))
                .join('  ')
                .trimEnd()}\n`,
            );
          if (!speedRuns) process.stdout.write('no `tributary speed` supervisor is running\n');
          for (const s of supervisors)
            process.stdout.write(
              `supervisor ${supervisorName(s)} (pid ${String(s.pid)}, since ${s.startedAt.toISOString()}): ${describeShare(s.share)}\n`,
            );
          for (const { message } of placementProblems({ unplaced, standby, slotsDiffer }))
            process.stdout.write(`warning: ${message}\n`);
          return 0;
        }),
      ),
    );
}
