/**
 * A/B assignments: which variant of a use case each customer receives. An experiment names a control
 * and a treatment variant and the share of customers (0–100 %) that receive the treatment, chosen by a
 * deterministic hash of the customer id (so a slow roll-out only ever adds customers as the share
 * grows); explicit per-customer overrides win. Use cases without an experiment deliver everything.
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
 * Experiments and overrides for the delivery job. Before a batch, at most once per `checkEveryMs`, a
 * one-row query tells whether anything changed (latest update, number of overrides); only then is
 * everything reloaded. So a change applies within that time, from the next batch on. Batches of
 * several partitions prepare at once: while one reloads, the others wait for that reload (they used
 * to go on with the old assignments, so a customer could get the variant it had just been moved off).
 */
export class AssignmentCache {
  private experiments = new Map<string, Experiment>();
  private overrides = new Map<string, string>();
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
              (SELECT max(updated_at) FROM ab_assignments), (SELECT count(*) FROM ab_assignments)) AS v`,
    );
    this.checkedAt = now;
    const version = probe.rows[0]?.v ?? '';
    if (version === this.version) return;
    const experiments = await listExperiments(this.pool);
    const overrides = await this.pool.query<{ usecase: string; customer_id: string; variant: string }>(
      'SELECT usecase, customer_id, variant FROM ab_assignments',
    );
    this.experiments = new Map(experiments.map((e) => [e.usecase, e]));
    this.overrides = new Map(overrides.rows.map((r) => [`${r.usecase}|${r.customer_id}`, r.variant]));
    this.version = version;
  }

  /** The variant this customer receives, or undefined when the use case has no experiment. */
  variantFor(usecase: string, customerId: string): string | undefined {
    const experiment = this.experiments.get(usecase);
    if (experiment === undefined) return undefined;
    return chooseVariant(experiment, customerId, this.overrides.get(`${usecase}|${customerId}`));
  }
}
