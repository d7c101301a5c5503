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
 */
import type { PgPool } from '../../core/postgres/index.js';
import { TributaryError } from '../../core/errors.js';
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
 * nothing restricts delivery (at most one variant deployed and no experiment).
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
  if (experiment === undefined) return deployed.length < 2 ? undefined : split();
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

export async function assignVariant(
  pool: PgPool,
  usecase: string,
  customerId: string,
  variant: string | null,
): Promise<void> {
  if (variant === null) {
    await pool.query('DELETE FROM ab_assignments WHERE usecase = $1 AND customer_id = $2', [
      usecase,
      customerId,
    ]);
    return;
  }
  try {
    await pool.query(
      `INSERT INTO ab_assignments (usecase, customer_id, variant) VALUES ($1, $2, $3)
       ON CONFLICT (usecase, customer_id) DO UPDATE SET variant = $3, updated_at = now()`,
      [usecase, customerId, variant],
    );
  } catch (error) {
    if ((error as { code?: string }).code === '23503') {
      throw new TributaryError(
        'NOT_FOUND',
        `no experiment for ${usecase} (ab set it first) or no customer ${customerId} (customers add it first)`,
        { cause: error },
      );
    }
    throw error;
  }
}

/**
 * Experiments, overrides and deployed variants for the delivery job. Before a batch, at most once
 * per `checkEveryMs`, a one-row query tells whether anything changed (latest update and number of
 * rows of each table); only then is everything reloaded. So a change applies within that time, from the next batch on. Batches of
 * several partitions prepare at once: while one reloads, the others wait for that reload (they used
 * to go on with the old assignments, so a customer could get the variant it had just been moved off).
 */
export class AssignmentCache {
  private experiments = new Map<string, Experiment>();
  private overrides = new Map<string, string>();
  private deployed = new Map<string, string[]>();
  private version = '';
  private checkedAt = Number.NEGATIVE_INFINITY;
  private checking: Promise<void> | undefined;

  constructor(
    private readonly pool: PgPool,
    private readonly checkEveryMs = 1_000,
  ) {}

  refresh(): Promise<void> {
    if (this.checking !== undefined) return this.checking;
    if (performance.now() - this.checkedAt < this.checkEveryMs) return Promise.resolve();
    this.checking = this.check().finally(() => {
      this.checking = undefined;
    });
    return this.checking;
  }

  private async check(): Promise<void> {
    const now = performance.now();
    const probe = await this.pool.query<{ v: string }>(
      `SELECT concat_ws('|', (SELECT max(updated_at) FROM ab_experiments), (SELECT count(*) FROM ab_experiments),
              (SELECT max(updated_at) FROM ab_assignments), (SELECT count(*) FROM ab_assignments),
              (SELECT max(updated_at) FROM deployments), (SELECT count(*) FROM deployments)) AS v`,
    );
    this.checkedAt = now;
    const version = probe.rows[0]?.v ?? '';
    if (version === this.version) return;
    const experiments = await listExperiments(this.pool);
    const overrides = await this.pool.query<{ usecase: string; customer_id: string; variant: string }>(
      'SELECT usecase, customer_id, variant FROM ab_assignments',
    );
    const deployments = await this.pool.query<{ usecase: string; variants: string[] }>(
      `SELECT usecase, array_agg(variant ORDER BY variant COLLATE "C") AS variants FROM deployments
       WHERE status <> 'undeployed' GROUP BY usecase`,
    );
    this.experiments = new Map(experiments.map((e) => [e.usecase, e]));
    this.deployed = new Map(deployments.rows.map((r) => [r.usecase, r.variants]));
    this.overrides = new Map(overrides.rows.map((r) => [`${r.usecase}|${r.customer_id}`, r.variant]));
    this.version = version;
  }

  /** The variant this customer receives (see deliveredVariant), or undefined when all are delivered. */
  variantFor(usecase: string, customerId: string): string | undefined {
    return deliveredVariant(
      this.experiments.get(usecase),
      this.deployed.get(usecase) ?? [],
      customerId,
      this.overrides.get(`${usecase}|${customerId}`),
    );
  }
}
