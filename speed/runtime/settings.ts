/**
 * Customers' settings for the jobs, loaded from the control plane for the customers of each batch and
 * kept for a minute (a settings change reaches running jobs within that time).
 */
import type { PgPool } from '../../core/postgres/index.js';

const NO_SETTINGS: Readonly<Record<string, unknown>> = Object.freeze({});

export class SettingsCache {
  private readonly entries = new Map<
    string,
    { settings: Readonly<Record<string, unknown>>; loaded: number }
  >();

  constructor(
    private readonly pool: PgPool,
    private readonly ttlMs = 60_000,
  ) {}

  async load(customerIds: Iterable<string>): Promise<void> {
    const now = Date.now();
    const wanted = [...new Set(customerIds)].filter(
      (id) => (this.entries.get(id)?.loaded ?? 0) + this.ttlMs < now,
    );
    if (wanted.length === 0) return;
    const result = await this.pool.query<{ customer_id: string; settings: unknown }>(
      'SELECT customer_id, settings FROM customer_settings WHERE customer_id = ANY($1)',
      [wanted],
    );
    const found = new Map(result.rows.map((r) => [r.customer_id, r.settings]));
    for (const id of wanted) {
      const settings = found.get(id);
      this.entries.set(id, {
        settings:
          typeof settings === 'object' && settings !== null ? (settings as Record<string, unknown>) : {},
        loaded: now,
      });
    }
  }

  get(customerId: string): Readonly<Record<string, unknown>> {
    return this.entries.get(customerId)?.settings ?? NO_SETTINGS;
  }
}
