/**
 * The running supervisors in the control plane (migrations/postgres/0004_speed_supervisors.sql).
 * `tributary speed --only/--except` splits the jobs between supervisors, on other machines in
 * production; each supervisor refreshes its row every two seconds with its share and its jobs' live
 * status. From these rows `tributary list` shows every job wherever it runs, and a supervisor finds a
 * job that no live supervisor takes (it would run nowhere: nothing consumes its input), that more
 * supervisors take than it has slots (SPEED_SLOTS: the extra instances only wait on standby), or
 * whose supervisors disagree on its slots (the group's members then share no partition assigner, and
 * the broker refuses the later ones).
 */
import type { PgPool } from '../../core/postgres/index.js';

/** Which jobs a supervisor takes: every job, only these, or every job but these. */
export type Share =
  | { readonly only: readonly string[] }
  | { readonly except: readonly string[] }
  | Readonly<Record<string, never>>;

export function takes(share: Share, job: string): boolean {
  if ('only' in share) return share.only.includes(job);
  if ('except' in share) return !share.except.includes(job);
  return true;
}

/** PostgreSQL's "relation does not exist": a control plane from before migration 0004. */
export function missingSupervisorsTable(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === '42P01';
}

/** A supervisor not heard from for this long is gone (killed, or its machine is). */
export const SUPERVISOR_LIVE_MS = 10_000;

/**
 * How long what the supervisors' rows say must last before it is acted on (a placement problem
 * reported, a job that nothing can run paused): a peer may be starting, restarting, or gone and not
 * yet expired.
 */
export const PEER_GRACE_MS = SUPERVISOR_LIVE_MS + 5_000;

export interface SupervisorRow<Job = unknown> {
  readonly supervisorId: string;
  readonly host: string;
  readonly pid: number;
  readonly port: number;
  readonly share: Share;
  /** Its SPEED_SLOTS: how many instances of a job can work at once (core/kafka/slots.ts). */
  readonly slots: number;
  readonly jobs: readonly Job[];
  readonly startedAt: Date;
  readonly heartbeatAt: Date;
}

/** Inserts or refreshes this supervisor's row. */
export async function heartbeat(
  pool: PgPool,
  row: Omit<SupervisorRow, 'startedAt' | 'heartbeatAt'>,
): Promise<void> {
  await pool.query(
    `INSERT INTO speed_supervisors (supervisor_id, host, pid, port, share, slots, jobs)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (supervisor_id) DO UPDATE SET jobs = EXCLUDED.jobs, heartbeat_at = now()`,
    [
      row.supervisorId,
      row.host,
      row.pid,
      row.port,
      JSON.stringify(row.share),
      row.slots,
      JSON.stringify(row.jobs),
    ],
  );
}

/** This supervisor stopped: its row goes, and with it its share. */
export async function leave(pool: PgPool, supervisorId: string): Promise<void> {
  await pool.query('DELETE FROM speed_supervisors WHERE supervisor_id = $1', [supervisorId]);
}

/** Rows of supervisors gone for a day are only history: dropped when a supervisor starts. */
export async function forgetLongGone(pool: PgPool): Promise<void> {
  await pool.query(`DELETE FROM speed_supervisors WHERE heartbeat_at < now() - interval '1 day'`);
}

/** The supervisors heard from within SUPERVISOR_LIVE_MS, oldest first. */
export async function liveSupervisors<Job = unknown>(pool: PgPool): Promise<SupervisorRow<Job>[]> {
  const result = await pool.query<{
    supervisor_id: string;
    host: string;
    pid: number;
    port: number;
    share: Share;
    slots: number;
    jobs: Job[];
    started_at: Date;
    heartbeat_at: Date;
  }>(
    `SELECT supervisor_id, host, pid, port, share, slots, jobs, started_at, heartbeat_at FROM speed_supervisors
     WHERE heartbeat_at > now() - make_interval(secs => $1) ORDER BY started_at, supervisor_id`,
    [SUPERVISOR_LIVE_MS / 1000],
  );
  return result.rows.map((r) => ({
    supervisorId: r.supervisor_id,
    host: r.host,
    pid: r.pid,
    port: r.port,
    share: r.share,
    slots: r.slots,
    jobs: r.jobs,
    startedAt: r.started_at,
    heartbeatAt: r.heartbeat_at,
  }));
}

/** The control plane's clock: rows' heartbeats are compared with it, never with this machine's. */
export async function controlPlaneNow(pool: PgPool): Promise<Date> {
  const result = await pool.query<{ now: Date }>('SELECT now() AS now');
  const now = result.rows[0]?.now;
  if (now === undefined) throw new Error('SELECT now() returned no row');
  return now;
}

/** Where a supervisor runs, for logs and `tributary list`. */
export function supervisorName(s: Pick<SupervisorRow, 'host' | 'port'>): string {
  return `${s.host}:${String(s.port)}`;
}

export interface Placement {
  /** Jobs that should run and that no live supervisor takes. */
  readonly unplaced: readonly string[];
  /** Jobs more live supervisors take than the job has slots: the extra instances wait on standby. */
  readonly standby: readonly {
    readonly job: string;
    readonly supervisors: readonly string[];
    readonly slots: number;
  }[];
  /** Jobs whose supervisors have different SPEED_SLOTS. */
  readonly slotsDiffer: readonly {
    readonly job: string;
    readonly slots: readonly { readonly supervisor: string; readonly slots: number }[];
  }[];
}

/**
 * A job's states in a supervisor's row: what its JobStatus list (heartbeat's `jobs`) says of `job`,
 * at `generation` when given. Rows are other processes' JSON, so nothing in them is trusted.
 */
function statesIn(row: SupervisorRow, job: string, generation?: number): string[] {
  if (!Array.isArray(row.jobs)) return [];
  const states: string[] = [];
  for (const entry of row.jobs as unknown[]) {
    if (typeof entry !== 'object' || entry === null) continue;
    const j = entry as { job?: unknown; generation?: unknown; state?: unknown };
    if (j.job !== job || typeof j.state !== 'string') continue;
    if (generation !== undefined && j.generation !== generation) continue;
    states.push(j.state);
  }
  return states;
}

/**
 * The states of a job whose code the supervisor's release lacks (a use case or variant it does not
 * have, or a USECASE_MODULES module it cannot load), while another supervisor runs the job:
 * `lacking` while its worker looks for one that runs it, `elsewhere` once it found one.
 */
const LACKING_STATES: readonly string[] = ['lacking', 'elsewhere'];

/** The supervisor takes the job but its release lacks the job's code: it leaves it to the others. */
function leavesToOthers(row: SupervisorRow, job: string): boolean {
  return statesIn(row, job).some((state) => LACKING_STATES.includes(state));
}

/**
 * What a worker whose release lacks its job's code (deployed, generation `generation`) should do,
 * from the other supervisors' rows (not its own; LackingWatch blanks the rows not refreshed since it
 * began to look, so that a supervisor killed a moment ago does not still claim to run the job):
 * - `elsewhere`: another supervisor runs the job at this generation: leave it to that one;
 * - `pause`: every other supervisor that takes the job lacks its code too, or paused it: nothing can
 *   run it;
 * - `none`: no other supervisor takes the job: nothing can run it, unless one is restarting (a
 *   supervisor that stops removes its row);
 * - `wait`: another one takes it and has not said yet (it is starting the job, restarting it, or has
 *   not refreshed its row since the deployment).
 */
export function lackedJobVerdict(
  job: string,
  generation: number,
  others: readonly SupervisorRow[],
):
  | { readonly verdict: 'elsewhere'; readonly supervisor: string }
  | { readonly verdict: 'pause' | 'none' | 'wait' } {
  const takers = others.filter((s) => takes(s.share, job));
  if (takers.length === 0) return { verdict: 'none' };
  const running = takers.find((s) => statesIn(s, job, generation).includes('running'));
  if (running !== undefined) return { verdict: 'elsewhere', supervisor: supervisorName(running) };
  const settled = (s: SupervisorRow): boolean => {
    const states = statesIn(s, job, generation);
    return states.length > 0 && states.every((state) => [...LACKING_STATES, 'paused'].includes(state));
  };
  return takers.every(settled) ? { verdict: 'pause' } : { verdict: 'wait' };
}

/**
 * A worker's look, over time, for another supervisor that runs the job its release lacks. Each `step`
 * is given the live rows of the other supervisors (not its own) and the time, and says what to do:
 * - a row not refreshed since the look began (`since`, by the control plane's clock) counts as a
 *   taker that has not said yet: a supervisor killed a moment ago may still claim the job in it,
 *   and one that has not refreshed yet may be running it;
 * - `pause` once nothing could run it (`pause` or `none` from lackedJobVerdict) for `graceMs` on
 *   end: a supervisor that runs it may be restarting (it removes its row when it stops);
 * - `give-up` after `giveUpMs` without an answer: the worker fails, to be retried with backoff.
 */
export class LackingWatch {
  private nothingSince: number | undefined;

  constructor(
    private readonly job: string,
    private readonly generation: number,
    private readonly since: Date,
    private readonly startedAt: number,
    private readonly limits: { readonly graceMs: number; readonly giveUpMs: number },
  ) {}

  step(
    others: readonly SupervisorRow[],
    now: number,
  ):
    | { readonly verdict: 'elsewhere'; readonly supervisor: string }
    | { readonly verdict: 'pause' | 'wait' | 'give-up' } {
    const known = others.map((s) => (s.heartbeatAt > this.since ? s : { ...s, jobs: [] }));
    const found = lackedJobVerdict(this.job, this.generation, known);
    if (found.verdict === 'elsewhere') return found;
    if (found.verdict === 'wait') this.nothingSince = undefined;
    else {
      this.nothingSince ??= now;
      if (now - this.nothingSince >= this.limits.graceMs) return { verdict: 'pause' };
    }
    return now - this.startedAt >= this.limits.giveUpMs ? { verdict: 'give-up' } : { verdict: 'wait' };
  }
}

/**
 * How the live supervisors' shares cover the jobs that should run. A supervisor that takes a job but
 * lacks its code (LACKING_STATES) does not count: it leaves the job to the others.
 */
export function placement(jobs: Iterable<string>, supervisors: readonly SupervisorRow[]): Placement {
  const unplaced: string[] = [];
  const standby: { job: string; supervisors: string[]; slots: number }[] = [];
  const slotsDiffer: { job: string; slots: { supervisor: string; slots: number }[] }[] = [];
  for (const job of [...jobs].sort()) {
    const takers = supervisors.filter((s) => takes(s.share, job) && !leavesToOthers(s, job));
    if (takers.length === 0) {
      unplaced.push(job);
      continue;
    }
    const slots = [...new Set(takers.map((s) => s.slots))];
    if (slots.length > 1)
      slotsDiffer.push({
        job,
        slots: takers.map((s) => ({ supervisor: supervisorName(s), slots: s.slots })),
      });
    else if (takers.length > (slots[0] ?? 1))
      standby.push({ job, supervisors: takers.map(supervisorName), slots: slots[0] ?? 1 });
  }
  return { unplaced, standby, slotsDiffer };
}

/** Each placement problem, keyed (to follow it over time) and told, for logs and `tributary list`. */
export function placementProblems(placed: Placement): { key: string; message: string }[] {
  return [
    ...placed.unplaced.map((job) => ({
      key: `unplaced ${job}`,
      message: `${job} runs nowhere: no live supervisor takes it (--only/--except) with a release that has its code, so its input waits in Kafka until one does`,
    })),
    ...placed.standby.map(({ job, supervisors, slots }) => ({
      key: `standby ${job}`,
      message: `${job} is taken by ${String(supervisors.length)} supervisors (${supervisors.join(', ')}) but has ${String(slots)} slot(s) (SPEED_SLOTS): the extra instances only wait on standby`,
    })),
    ...placed.slotsDiffer.map(({ job, slots }) => ({
      key: `slots ${job}`,
      message: `${job}'s supervisors disagree on SPEED_SLOTS (${slots.map((t) => `${t.supervisor}: ${String(t.slots)}`).join(', ')}): their instances share no partition assigner, so the broker refuses the later ones; set the same on all`,
    })),
  ];
}
