/**
 * A PostgreSQL session ended by the server while our code holds its connection between two
 * statements (a restart, pg_terminate_backend, a failover) must fail the next statement, never the
 * process: a checked-out pg client has no 'error' listener of its own, so without one the server's
 * FATAL message is an unhandled 'error' event that kills the process (CI saw `tributary migrate` die
 * this way instead of stopping cleanly).
 */
import { describe, expect, it } from 'vitest';
import { createPgPool, inPgTransaction, withPgClient, type PgClient } from '../../core/postgres/index.js';
import { config, logger, pgPool } from '../helpers/context.js';
import { uniqueName } from '../helpers/names.js';

const admin = pgPool();

/** Ends the client's session from another connection, and returns once the client has seen it. */
async function endSession(client: PgClient): Promise<void> {
  const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
  const ended = new Promise((resolve) => client.once('end', resolve));
  await admin.query('SELECT pg_terminate_backend($1)', [pid]);
  await ended;
}

describe('PostgreSQL connections held between statements', () => {
  it('a session ended between two statements fails the next one; the pool replaces the connection', async () => {
    const pool = createPgPool({
      url: config.postgres.url,
      logger,
      max: 1,
      applicationName: uniqueName('pg'),
    });
    try {
      await expect(
        withPgClient(pool, async (client) => {
          await endSession(client);
          await client.query('SELECT 1');
        }),
      ).rejects.toMatchObject({ code: '57P01' }); // admin_shutdown: the session's own error, retriable
      // The only slot of the pool was not given back broken.
      expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one).toBe(1);
    } finally {
      await pool.end();
    }
  });

  it('a transaction whose session ends is not committed, and the error reaches the caller', async () => {
    const pool = createPgPool({ url: config.postgres.url, logger, max: 1 });
    const table = uniqueName('pg_sessions');
    await admin.query(`CREATE TABLE ${table} (id int PRIMARY KEY)`);
    try {
      await expect(
        inPgTransaction(pool, async (client) => {
          await client.query(`INSERT INTO ${table} VALUES (1)`);
          await endSession(client);
        }),
      ).rejects.toMatchObject({ code: '57P01' });
      await inPgTransaction(pool, async (client) => {
        await client.query(`INSERT INTO ${table} VALUES (2)`);
      });
      const rows = await admin.query<{ id: number }>(`SELECT id FROM ${table} ORDER BY id`);
      expect(rows.rows.map((r) => r.id)).toEqual([2]);
    } finally {
      await admin.query(`DROP TABLE ${table}`);
      await pool.end();
    }
  });
});
