/**
 * API keys: `trb_<key id>_<secret>`, shown once at creation; only a SHA-256 of the whole key is
 * stored (keys carry 256 random bits, so a fast hash is safe). Verification is cached in memory for
 * a short time; a revoked key stops working within that time.
 */
import { createHash, randomBytes } from 'node:crypto';
import { TributaryError } from '../errors.js';
import type { PgPool } from '../postgres/index.js';

export interface ApiKeyInfo {
  readonly keyId: string;
  readonly customerId: string;
  readonly prefix: string;
  readonly createdAt: Date;
  readonly revokedAt: Date | null;
  readonly lastUsedAt: Date | null;
}

export interface Principal {
  readonly customerId: string;
  readonly keyId: string;
}

const KEY_FORMAT = /^trb_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

/** The key id a whole API key carries; undefined when `key` is not one. */
export function keyIdOf(key: string): string | undefined {
  return KEY_FORMAT.exec(key)?.[1];
}

export function hashKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

export async function createApiKey(
  pool: PgPool,
  customerId: string,
): Promise<{ keyId: string; key: string }> {
  const keyId = randomBytes(6).toString('hex');
  const key = `trb_${keyId}_${randomBytes(32).toString('base64url')}`;
  try {
    await pool.query('INSERT INTO api_keys (key_id, customer_id, key_hash, prefix) VALUES ($1, $2, $3, $4)', [
      keyId,
      customerId,
      hashKey(key),
      key.slice(0, 17),
    ]);
  } catch (error) {
    if ((error as { code?: string }).code === '23503') {
      throw new TributaryError('NOT_FOUND', `customer ${customerId} does not exist`, { cause: error });
    }
    throw error;
  }
  return { keyId, key };
}

export async function revokeApiKey(pool: PgPool, keyId: string): Promise<void> {
  const result = await pool.query(
    'UPDATE api_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL',
    [keyId],
  );
  if (result.rowCount === 0) {
    const exists = await pool.query('SELECT 1 FROM api_keys WHERE key_id = $1', [keyId]);
    throw new TributaryError(
      exists.rowCount === 0 ? 'NOT_FOUND' : 'CONFLICT',
      `key ${keyId} ${exists.rowCount === 0 ? 'does not exist' : 'is already revoked'}`,
    );
  }
}

export async function listApiKeys(pool: PgPool, customerId?: string): Promise<ApiKeyInfo[]> {
  const result = await pool.query<{
    key_id: string;
    customer_id: string;
    prefix: string;
    created_at: Date;
    revoked_at: Date | null;
    last_used_at: Date | null;
  }>(
    `SELECT key_id, customer_id, prefix, created_at, revoked_at, last_used_at FROM api_keys
      WHERE $1::text IS NULL OR customer_id = $1 ORDER BY customer_id, created_at`,
    [customerId ?? null],
  );
  return result.rows.map((r) => ({
    keyId: r.key_id,
    customerId: r.customer_id,
    prefix: r.prefix,
    createdAt: r.created_at,
    revokedAt: r.revoked_at,
    lastUsedAt: r.last_used_at,
  }));
}

/** Verifies `Authorization: Bearer` keys against the control plane, with a short in-memory cache. */
export class ApiKeyAuthenticator {
  private readonly cache = new Map<string, { principal: Principal | undefined; expires: number }>();

  constructor(
    private readonly pool: PgPool,
    private readonly ttlMs = 30_000,
  ) {}

  /** The key's customer, or undefined when the key is unknown, revoked, or its customer disabled. */
  async verify(key: string): Promise<Principal | undefined> {
    if (!KEY_FORMAT.test(key)) return undefined;
    const hash = hashKey(key).toString('hex');
    const now = Date.now();
    const cached = this.cache.get(hash);
    if (cached !== undefined && cached.expires > now) return cached.principal;
    const result = await this.pool.query<{ key_id: string; customer_id: string }>(
      `UPDATE api_keys k SET last_used_at = now()
         FROM customers c
        WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND c.customer_id = k.customer_id AND c.disabled_at IS NULL
        RETURNING k.key_id, k.customer_id`,
      [Buffer.from(hash, 'hex')],
    );
    const row = result.rows[0];
    const principal = row === undefined ? undefined : { customerId: row.customer_id, keyId: row.key_id };
    if (this.ttlMs > 0) {
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(hash, { principal, expires: now + this.ttlMs });
    }
    return principal;
  }
}
