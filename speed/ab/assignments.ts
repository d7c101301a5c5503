/**
 * A/B assignments: which variant of a use case each customer receives. An experiment names a control
 * and a treatment variant and the share of customers (0–100 %) that receive the treatment, chosen by a
 * deterministic hash of the customer id (so a slow roll-out only ever adds customers as the share
 * grows); explicit per-customer overrides win.
 *
 * Delivery only ever gives a customer a variant that is deployed (active or paused, not undeployed),
 * so that no customer is left without feedback and none receives two variants' findings:
 * - no experiment, one variant deployed (or a use case without variants): it is delivered;
 * - no experiment, several deployed: split by the same hash, 50/50 between two, as `ab set` with the
 *   first as control and the second as treatment would split them (so setting that moves no one);
 * - an experiment whose chosen variant (override or hash) is not deployed: the control, else the
 *   treatment, else the split of whatever is deployed.
 *
 * A finding is decided by the assignments in effect when its record was ingested (the snapshots of
 * migrations/postgres/0005_ab_snapshots.sql, their overrides kept as changes by 0006; a change
 * applies to records ingested from 3 s after it),
 * not by those in effect when the delivery job handles it: a finding handled again after a crash is
 * decided the same way even if `ab set`, `ab assign`, `deploy` or `undeploy` ran in between, so no
 * customer receives two variants' findings of one record. A variant deployed later with `--from`
 * in the past runs on older records too, but its findings of records ingested before it was
 * deployed are kept, not delivered: those customers had their feedback on them from the variant
 * then deployed.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { inPgTransaction, type PgPool } from '../../core/postgres/index.js';
import { describeError, TributaryError } from '../../core/errors.js';
import { fnv1a32 } from '../../core/hash.js';

export interface Experiment {
  readonly usecase: string;
  readonly control: string;
  readonly treatment: string;
  readonly treatmentPercent: number;
  readonly salt: string;
}

export function hashBucket(salt: string, customerId: string): number {
  return fnv1a32(`${salt}|${customerId}`) % 100;
}

export function chooseVariant(
  experiment: Experiment,
  customerId: string,
  override: string | undefined,
): string {
  if (override !== undefined) return override;
  return hashBucket(experiment.salt, customerId) < experiment.treatmentPercent
    ? experiment.treatment
    : experiment.control;
}

/**
 * The variant a customer receives, given the use case's deployed variants (sorted); undefined when
 * nothing restricts delivery (no variant deployed and no experiment: a use case deployed after the
 * record was ingested).
 */
export function deliveredVariant(
  experiment: Experiment | undefined,
  deployed: readonly string[],
  customerId: string,
  override: string | undefined,
): string | undefined {
  const split = (): string | undefined => {
    if (deployed.length < 2) return deployed[0];
    // Two variants: bucket < 50 gets the second (the treatment of an implied 50 % experiment).
    return deployed[deployed.length - 1 - Math.floor((hashBucket('', customerId) * deployed.length) / 100)];
  };
  if (experiment === undefined) return deployed.length === 0 ? undefined : split();
  const chosen = chooseVariant(experiment, customerId, override);
  if (deployed.length === 0 || deployed.includes(chosen)) return chosen;
  if (deployed.includes(experiment.control)) return experiment.control;
  if (deployed.includes(experiment.treatment)) return experiment.treatment;
  return split();
}

export async function listExperiments(pool: PgPool): Promise<Experiment[]> {
  const result = await pool.query<{
    usecase: string;
    control_variant: string;
    treatment_variant: string;
    treatment_percent: number;
    salt: string;
  }>(
    'SELECT usecase, control_variant, treatment_variant, treatment_percent, salt FROM ab_experiments ORDER BY usecase',
  );
  return result.rows.map((r) => ({
    usecase: r.usecase,
    control: r.control_variant,
    treatment: r.treatment_variant,
    treatmentPercent: r.treatment_percent,
    salt: r.salt,
  }));
}

export async function setExperiment(pool: PgPool, experiment: Experiment): Promise<void> {
  await pool.query(
    `INSERT INTO ab_experiments (usecase, control_variant, treatment_variant, treatment_percent, salt)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (usecase) DO UPDATE SET control_variant = $2, treatment_variant = $3, treatment_percent = $4,
       salt = $5, updated_at = now()`,
    [
      experiment.usecase,
      experiment.control,
      experiment.treatment,
      experiment.treatmentPercent,
      experiment.salt,
    ],
  );
}

/**
 * Pins `customerIds` to `variant` of `usecase` (null: they follow the split again), in one statement:
 * one snapshot and one wait however many customers, instead of a copy of every override per customer.
 * Nothing changes unless every customer exists and the use case has an experiment.
 */
export async function assignVariant(
  pool: PgPool,
  usecase: string,
  customerIds: readonly string[],
  variant: string | null,
): Promise<void> {
  const customers = [...new Set(customerIds)];
  if (variant === null) {
    await pool.query('DELETE FROM ab_assignments WHERE usecase = $1 AND customer_id = ANY($2::text[])', [
      usecase,
      customers,
    ]);
    return;
  }
  try {
    await pool.query(
      `INSERT INTO ab_assignments (usecase, customer_id, variant) SELECT $1, c, $3 FROM unnest($2::text[]) AS c
       ON CONFLICT (usecase, customer_id) DO UPDATE SET variant = EXCLUDED.variant, updated_at = now()`,
      [usecase, customers, variant],
    );
  } catch (error) {
    if ((error as { code?: string }).code !== '23503') throw error;
    const missing = await pool.query<{ experiment: boolean; customers: string[] | null }>(
      `SELECT EXISTS (SELECT 1 FROM ab_experiments WHERE usecase = $1) AS experiment,
              (SELECT array_agg(c ORDER BY c) FROM unnest($2::text[]) AS c
               WHERE NOT EXISTS (SELECT 1 FROM customers WHERE customer_id = c)) AS customers`,
      [usecase, customers],
    );
    const row = missing.rows[0];
    const reasons = [
      ...(row?.experiment === false ? [`no experiment for ${usecase} (ab set it first)`] : []),
      ...(row?.customers == null ? [] : [`no customer ${listed(row.customers)} (customers add first)`]),
    ];
    throw new TributaryError('NOT_FOUND', reasons.length > 0 ? reasons.join('; ') : describeError(error), {
      cause: error,
    });
  }
}

/** Up to 10 names, and how many more. */
function listed(names: readonly string[]): string {
  const shown = names.slice(0, 10).join(', ');
  return names.length > 10 ? `${shown} and ${names.length - 10} more` : shown;
}

/**
 * Waits until the latest A/B change is in effect (it applies to records ingested from then on) and
 * returns when that was.
 */
export async function untilInEffect(pool: PgPool): Promise<Date | undefined> {
  // The snapshot the migration took of what was in place before it applies to every record
  // (effective_at -infinity): while it is the latest, nothing changed since and there is no wait.
  const result = await pool.query<{ at: string | null; wait_ms: string }>(
    `SELECT CASE WHEN isfinite(effective_at) THEN (extract(epoch FROM effective_at) * 1000)::text END AS at,
            CASE WHEN isfinite(effective_at)
              THEN greatest(0, extract(epoch FROM effective_at - clock_timestamp()) * 1000)::text
              ELSE '0' END AS wait_ms
     FROM ab_snapshots ORDER BY snapshot_id DESC LIMIT 1`,
  );
  const row = result.rows[0];
  if (row?.at == null) return undefined;
  await delay(Math.ceil(Number(row.wait_ms)));
  return new Date(Math.ceil(Number(row.at))); // PostgreSQL keeps microseconds: not before it
}

/** How `ab set` and `ab assign` say which records a change applies to. */
export function describeInEffect(from: Date | undefined): string {
  return from === undefined ? 'for all records' : `for records ingested from ${from.toISOString()}`;
}

/** How long after a change its snapshot takes effect (0005_ab_snapshots.sql). */
export const AB_APPLY_AFTER_MS = 3_000;
/**
 * The advisory lock a change's trigger holds from computing its snapshot to its commit
 * (0005_ab_snapshots.sql). A probe that takes it shared reads PostgreSQL's clock R once no change is
 * between its trigger and its commit, so every later change takes effect after R + AB_APPLY_AFTER_MS.
 */
const SNAPSHOT_LOCK = 7_346_519;
/**
 * A record ingested later than what a probe covers (the brokers' clock ahead of PostgreSQL's by
 * more than AB_APPLY_AFTER_MS) waits for a later probe, this long at most; then it is decided by the
 * snapshots loaded, as a change made in the meantime cannot be known to be in effect for it yet.
 */
const MAX_SKEW_WAIT_MS = 10_000;
/** How long a probe waits for a change to commit (one takes milliseconds). */
const PROBE_LOCK_TIMEOUT_MS = 10_000;
/** Snapshots superseded longer ago than this are dropped (the table keeps 8 days). */
const KEEP_MS = 8 * 86_400_000;

interface Snapshot {
  readonly id: number;
  readonly effectiveMs: number;
  readonly experiments: Map<string, Experiment>;
  readonly deployed: Map<string, string[]>;
}

interface SnapshotJson {
  readonly experiments: Experiment[];
  readonly deployed: Record<string, string[]>;
}

/** One change of a customer's override: from snapshot `id` on, `variant` (null: none). */
interface OverrideChange {
  readonly id: number;
  readonly variant: string | null;
}

function overrideKey(usecase: string, customerId: string): string {
  return `${usecase}|${customerId}`;
}

/**
 * The assignment snapshots for the delivery job. Before a batch, at most once per `checkEveryMs` —
 * or at once when the batch holds a record ingested after what the loaded snapshots are known to
 * cover, or a finding of a use case none of them deploys — a one-row query tells whether a snapshot
 * was added; only the new ones are loaded. Batches
 * of several partitions prepare at once: while one reloads, the others wait for that reload.
 */
export class AssignmentCache {
  private snapshots: Snapshot[] = [];
  /**
   * Per use case and customer, the changes of its override, oldest first (0006_ab_override_changes):
   * one entry per change, however many snapshots there are.
   */
  private overrides = new Map<string, OverrideChange[]>();
  /** Records ingested up to this time (PostgreSQL's clock) are decided by the loaded snapshots. */
  private coveredUntilMs = Number.NEGATIVE_INFINITY;
  private checkedAt = Number.NEGATIVE_INFINITY;
  private checking: Promise<void> | undefined;
  /** The use cases some loaded snapshot deploys. */
  private known = new Set<string>();

  constructor(
    private readonly pool: PgPool,
    private readonly checkEveryMs = 1_000,
  ) {}

  /**
   * Loads what changed. `throughMs`: the latest ingest time about to be decided; `usecases`: the use
   * cases whose findings are about to be decided — one no loaded snapshot deploys was deployed after
   * the last check (its job made the finding), so that deployment is loaded first.
   */
  async refresh(throughMs?: number, usecases: Iterable<string> = []): Promise<void> {
    const deadline = performance.now() + MAX_SKEW_WAIT_MS;
    const behindMs = (): number => (throughMs === undefined ? 0 : throughMs - this.coveredUntilMs);
    // A check already running may have begun before the deployment it must see: awaited, not reused.
    if (this.checking !== undefined) await this.checking;
    let forced = false;
    for (const usecase of usecases) forced ||= !this.known.has(usecase);
    while (forced || behindMs() > 0 || performance.now() - this.checkedAt >= this.checkEveryMs) {
      this.checking ??= this.check().finally(() => {
        this.checking = undefined;
      });
      await this.checking;
      forced = false;
      if (behindMs() <= 0 || performance.now() >= deadline) return;
      await delay(Math.min(1_000, Math.ceil(behindMs())));
    }
  }

  private async check(): Promise<void> {
    const now = performance.now();
    const row = await this.probe();
    const latest = Number(row?.id ?? 0);
    const last = this.snapshots.at(-1)?.id ?? 0;
    if (latest !== last) {
      // One view of the tables (repeatable read), so that no fold of old snapshots falls between
      // the reads. When the oldest snapshot left is past the last one loaded, a fold moved or removed
      // changes this cache holds: it loads everything again, as a process that starts now would.
      const { reload, added, changes } = await inPgTransaction(this.pool, async (client) => {
        await client.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
        const oldest = await client.query<{ id: string | null }>(
          'SELECT min(snapshot_id)::text AS id FROM ab_snapshots',
        );
        const reload = Number(oldest.rows[0]?.id ?? 0) > last;
        const from = reload ? 0 : last;
        const snapshots = await client.query<{ id: string; at: string; snapshot: SnapshotJson }>(
          `SELECT snapshot_id::text AS id, (extract(epoch FROM effective_at) * 1000)::text AS at, snapshot
           FROM ab_snapshots WHERE snapshot_id > $1 ORDER BY snapshot_id`,
          [from],
        );
        const overrides = await client.query<{
          id: string;
          usecase: string;
          customer_id: string;
          variant: string | null;
        }>(
          `SELECT snapshot_id::text AS id, usecase, customer_id, variant FROM ab_override_changes
           WHERE snapshot_id > $1 ORDER BY snapshot_id`,
          [from],
        );
        return { reload, added: snapshots, changes: overrides };
      });
      if (reload) this.overrides = new Map();
      const loaded = reload ? [] : [...this.snapshots];
      for (const r of added.rows)
        loaded.push({
          id: Number(r.id),
          effectiveMs: Number(r.at),
          experiments: new Map(r.snapshot.experiments.map((e) => [e.usecase, e])),
          deployed: new Map(Object.entries(r.snapshot.deployed)),
        });
      for (const c of changes.rows) {
        const key = overrideKey(c.usecase, c.customer_id);
        const history = this.overrides.get(key) ?? [];
        history.push({ id: Number(c.id), variant: c.variant });
        this.overrides.set(key, history);
      }
      // Drop what was superseded long ago: keep the newest snapshot older than the window.
      const cutoff = Date.now() - KEEP_MS;
      let first = 0;
      while (first + 1 < loaded.length && (loaded[first + 1]?.effectiveMs ?? 0) < cutoff) first += 1;
      this.snapshots = loaded.slice(first);
      if (first > 0) this.foldOverrides(this.snapshots[0]?.id ?? 0);
      this.known = new Set(this.snapshots.flatMap((sn) => [...sn.deployed.keys()]));
    }
    this.coveredUntilMs = Number(row?.now ?? 0) + AB_APPLY_AFTER_MS;
    this.checkedAt = now;
  }

  /** Changes before snapshot `base` (the oldest kept) collapse into the one in effect at it, if any. */
  private foldOverrides(base: number): void {
    for (const [key, history] of this.overrides) {
      let atBase = -1;
      while (atBase + 1 < history.length && (history[atBase + 1]?.id ?? Infinity) <= base) atBase += 1;
      if (atBase < 0) continue; // every change is after the base
      const [inEffect, ...later] = history.slice(atBase);
      const kept = inEffect === undefined || inEffect.variant === null ? later : [inEffect, ...later];
      if (kept.length === history.length) continue;
      if (kept.length === 0) this.overrides.delete(key);
      else this.overrides.set(key, kept);
    }
  }

  /** The override of this customer in effect at snapshot `id`. */
  private overrideAt(usecase: string, customerId: string, id: number): string | undefined {
    const history = this.overrides.get(overrideKey(usecase, customerId));
    if (history === undefined) return undefined;
    for (let i = history.length - 1; i >= 0; i -= 1) {
      const change = history[i];
      if (change !== undefined && change.id <= id) return change.variant ?? undefined;
    }
    return undefined;
  }

  /**
   * The latest snapshot id and PostgreSQL's clock, read once no change is about to commit. A change
   * left uncommitted (an open transaction) holds it; after PROBE_LOCK_TIMEOUT the probe fails, and
   * the batch is retried, rather than wait without bound.
   */
  private async probe(): Promise<{ id: string | null; now: string } | undefined> {
    return inPgTransaction(this.pool, async (client) => {
      await client.query(`SET LOCAL lock_timeout = '${String(PROBE_LOCK_TIMEOUT_MS)}ms'`);
      await client.query('SELECT pg_advisory_xact_lock_shared($1)', [SNAPSHOT_LOCK]);
      // A statement of its own: its snapshot sees the change that held the lock, now committed.
      const probe = await client.query<{ id: string | null; now: string }>(
        `SELECT (SELECT max(snapshot_id) FROM ab_snapshots)::text AS id,
                (extract(epoch FROM clock_timestamp()) * 1000)::text AS now`,
      );
      return probe.rows[0];
    });
  }

  /**
   * The variant this customer receives (see deliveredVariant) for a record ingested at `atMs` (by
   * default, now and from now on), or undefined when all are delivered.
   */
  variantFor(usecase: string, customerId: string, atMs = Number.POSITIVE_INFINITY): string | undefined {
    let at = 0;
    for (let i = this.snapshots.length - 1; i > 0; i -= 1) {
      if ((this.snapshots[i]?.effectiveMs ?? Number.POSITIVE_INFINITY) <= atMs) {
        at = i;
        break;
      }
    }
    const deploys = (i: number): boolean => (this.snapshots[i]?.deployed.get(usecase)?.length ?? 0) > 0;
    // In effect, no variant of the use case was deployed. After an undeploy of them all, decide by
    // the last deployment before (whose variant a lagging job's findings may be); before the first
    // deployment (a backlog it was deployed onto), by the first deployment, so that deploying one
    // variant and then another gives each customer one of them, not both. Neither changes when
    // more snapshots load: those come after every loaded one, and a finding of a use case that no
    // loaded snapshot deploys makes `refresh` load its first deployment before it is decided.
    let decisive = at;
    if (!deploys(at)) {
      let earlier = at - 1;
      while (earlier >= 0 && !deploys(earlier)) earlier -= 1;
      let later = at + 1;
      while (later < this.snapshots.length && !deploys(later)) later += 1;
      if (earlier >= 0) decisive = earlier;
      else if (later < this.snapshots.length) decisive = later;
    }
    const snapshot = this.snapshots[decisive];
    if (snapshot === undefined) return undefined;
    return deliveredVariant(
      snapshot.experiments.get(usecase),
      snapshot.deployed.get(usecase) ?? [],
      customerId,
      this.overrideAt(usecase, customerId, snapshot.id),
    );
  }
}
