/**
 * Use-case deployments in the control plane. One row per (use case, variant); `generation` grows on
 * every update. The job's consumer group depends only on (use case, variant), so an updated job
 * continues from its predecessor's committed offsets; a new one starts where `start_from` says.
 */
import { TributaryError } from '../../core/errors.js';
import type { PgPool } from '../../core/postgres/index.js';
import type { StartFrom } from '../runtime/topics.js';
import { findUseCase } from '../usecases/index.js';

export const DEPLOYMENT_STATUSES = ['active', 'paused', 'undeployed'] as const;
export type DeploymentStatus = (typeof DEPLOYMENT_STATUSES)[number];

export interface Deployment {
  readonly usecase: string;
  readonly variant: string;
  readonly generation: number;
  readonly settings: Readonly<Record<string, unknown>>;
  readonly startFrom: StartFrom;
  readonly status: DeploymentStatus;
  readonly statusReason: string | null;
  readonly updatedAt: Date;
}

/** The job name of a deployment: `usecase.<name>` or `usecase.<name>.<variant>`. */
export function jobName(usecase: string, variant: string): string {
  return variant === '' ? `usecase.${usecase}` : `usecase.${usecase}.${variant}`;
}

function parseStartFrom(value: string): StartFrom {
  return value === 'earliest' || value === 'latest' ? value : Number(value);
}

function isStatus(value: string): value is DeploymentStatus {
  return (DEPLOYMENT_STATUSES as readonly string[]).includes(value);
}

export async function listDeployments(pool: PgPool): Promise<Deployment[]> {
  const result = await pool.query<{
    usecase: string;
    variant: string;
    generation: number;
    settings: Record<string, unknown> | null;
    start_from: string;
    status: string;
    status_reason: string | null;
    updated_at: Date;
  }>(
    'SELECT usecase, variant, generation, settings, start_from, status, status_reason, updated_at FROM deployments ORDER BY usecase, variant',
  );
  return result.rows.map((r) => ({
    usecase: r.usecase,
    variant: r.variant,
    generation: r.generation,
    settings: r.settings ?? {},
    startFrom: parseStartFrom(r.start_from),
    status: isStatus(r.status) ? r.status : 'paused',
    statusReason: r.status_reason,
    updatedAt: r.updated_at,
  }));
}

export interface DeployRequest {
  readonly usecase: string;
  readonly variant: string;
  /**
   * The deployment's settings; unset: none for a new deployment, unchanged for an update (so that
   * deploying a paused use case again resumes it as it was; `{}` clears them).
   */
  readonly settings?: Readonly<Record<string, unknown>> | undefined;
  /**
   * Where its consumer group starts if it has no committed offsets (a new deployment, or one whose
   * group was deleted to start over); unset: earliest for a new deployment, unchanged for an update.
   */
  readonly startFrom?: StartFrom | undefined;
}

/** Adds a deployment, or updates it (generation + 1, active again). Returns the new generation. */
export async function deploy(pool: PgPool, request: DeployRequest): Promise<number> {
  const useCase = findUseCase(request.usecase);
  if (useCase === undefined) throw new TributaryError('NOT_FOUND', `no use case named ${request.usecase}`);
  if (!useCase.variants.includes(request.variant)) {
    const known = useCase.variants.map((v) => (v === '' ? '(none)' : v)).join(', ');
    throw new TributaryError(
      'BAD_REQUEST',
      `${request.usecase} has no variant ${JSON.stringify(request.variant)}; its variants: ${known}`,
    );
  }
  const startFrom =
    typeof request.startFrom === 'number'
      ? String(Math.trunc(request.startFrom))
      : (request.startFrom ?? null);
  const result = await pool.query<{ generation: number }>(
    `INSERT INTO deployments (usecase, variant, settings, start_from, status)
       VALUES ($1, $2, COALESCE($3, '{}'::jsonb), COALESCE($4, 'earliest'), 'active')
     ON CONFLICT (usecase, variant) DO UPDATE SET generation = deployments.generation + 1,
       settings = COALESCE($3, deployments.settings), start_from = COALESCE($4, deployments.start_from),
       status = 'active', status_reason = NULL, updated_at = now()
     RETURNING generation`,
    [request.usecase, request.variant, request.settings ?? null, startFrom],
  );
  return result.rows[0]?.generation ?? 1;
}

/** Pauses one generation of a deployment, if it is still that generation and active. */
export async function pauseGeneration(
  pool: PgPool,
  usecase: string,
  variant: string,
  generation: number,
  reason: string,
): Promise<boolean> {
  const result = await pool.query(
    `UPDATE deployments SET status = 'paused', status_reason = $4, updated_at = now()
     WHERE usecase = $1 AND variant = $2 AND generation = $3 AND status = 'active'`,
    [usecase, variant, generation, reason],
  );
  return (result.rowCount ?? 0) > 0;
}

export async function setStatus(
  pool: PgPool,
  usecase: string,
  variant: string,
  status: DeploymentStatus,
  reason: string | null,
): Promise<boolean> {
  const result = await pool.query(
    'UPDATE deployments SET status = $3, status_reason = $4, updated_at = now() WHERE usecase = $1 AND variant = $2',
    [usecase, variant, status, reason],
  );
  return (result.rowCount ?? 0) > 0;
}
