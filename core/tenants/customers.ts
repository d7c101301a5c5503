/** Customers (tenants) and their settings, in the PostgreSQL control plane. */
import { TributaryError } from '../errors.js';
import { inPgTransaction, type PgPool } from '../postgres/index.js';
import { CUSTOMER_ID_PATTERN } from '../record.js';

export interface Customer {
  readonly customerId: string;
  readonly name: string;
  readonly createdAt: Date;
  readonly disabledAt: Date | null;
  readonly settings: Readonly<Record<string, unknown>>;
}

interface CustomerRow {
  customer_id: string;
  name: string;
  created_at: Date;
  disabled_at: Date | null;
  settings: Record<string, unknown> | null;
}

function toCustomer(row: CustomerRow): Customer {
  return {
    customerId: row.customer_id,
    name: row.name,
    createdAt: row.created_at,
    disabledAt: row.disabled_at,
    settings: row.settings ?? {},
  };
}

export async function addCustomer(
  pool: PgPool,
  customerId: string,
  name: string,
  settings: Readonly<Record<string, unknown>> = {},
): Promise<Customer> {
  if (!CUSTOMER_ID_PATTERN.test(customerId)) {
    throw new TributaryError(
      'BAD_REQUEST',
      `customer id ${JSON.stringify(customerId)}: 1-64 letters, digits, "_", "." or "-"`,
    );
  }
  return inPgTransaction(pool, async (client) => {
    const inserted = await client.query<CustomerRow>(
      `INSERT INTO customers (customer_id, name) VALUES ($1, $2) ON CONFLICT (customer_id) DO NOTHING
       RETURNING customer_id, name, created_at, disabled_at, NULL::jsonb AS settings`,
      [customerId, name],
    );
    if (inserted.rowCount === 0) {
      throw new TributaryError('CONFLICT', `customer ${customerId} already exists`);
    }
    await client.query('INSERT INTO customer_settings (customer_id, settings) VALUES ($1, $2)', [
      customerId,
      settings,
    ]);
    const row = inserted.rows[0];
    if (row === undefined) throw new TributaryError('INTERNAL', 'customer insert returned nothing');
    return toCustomer({ ...row, settings: { ...settings } });
  });
}

export async function listCustomers(pool: PgPool): Promise<Customer[]> {
  const result = await pool.query<CustomerRow>(
    `SELECT c.customer_id, c.name, c.created_at, c.disabled_at, s.settings
       FROM customers c LEFT JOIN customer_settings s USING (customer_id) ORDER BY c.customer_id`,
  );
  return result.rows.map(toCustomer);
}

export async function getCustomer(pool: PgPool, customerId: string): Promise<Customer | undefined> {
  const result = await pool.query<CustomerRow>(
    `SELECT c.customer_id, c.name, c.created_at, c.disabled_at, s.settings
       FROM customers c LEFT JOIN customer_settings s USING (customer_id) WHERE c.customer_id = $1`,
    [customerId],
  );
  const row = result.rows[0];
  return row === undefined ? undefined : toCustomer(row);
}
