/**
 * A lease in Cassandra taken with a lightweight transaction (Paxos), so that only one process applies
 * schema changes at a time. The lease expires by TTL if its holder dies; the holder renews it.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { CassandraClient } from '../../core/cassandra/index.js';
import { TributaryError } from '../../core/errors.js';

const LEASE_SECONDS = 30;
const RENEW_EVERY_MS = 10_000;

function wasApplied(result: { first(): { get(name: string): unknown } | null }): boolean {
  return result.first()?.get('[applied]') === true;
}

export async function withCassandraLease<T>(
  client: CassandraClient,
  table: string,
  timeoutMs: number,
  work: () => Promise<T>,
): Promise<T> {
  const owner = randomUUID();
  const deadline = Date.now() + timeoutMs;
  while (
    !wasApplied(
      await client.execute(
        `INSERT INTO ${table} (id, owner, acquired_at) VALUES ('schema', ?, toTimestamp(now())) IF NOT EXISTS USING TTL ${LEASE_SECONDS}`,
        [owner],
      ),
    )
  ) {
    if (Date.now() >= deadline) {
      throw new TributaryError(
        'MIGRATION_LOCKED',
        `another process holds the Cassandra schema lease (${table})`,
        {
          retriable: true,
        },
      );
    }
    await delay(500);
  }
  let renewal: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    renewal = client
      .execute(`UPDATE ${table} USING TTL ${LEASE_SECONDS} SET owner = ? WHERE id = 'schema' IF owner = ?`, [
        owner,
        owner,
      ])
      .catch(() => undefined); // a missed renewal is retried on the next tick; the lease outlives two misses
  }, RENEW_EVERY_MS);
  try {
    return await work();
  } finally {
    clearInterval(timer);
    await renewal;
    await client.execute(`DELETE FROM ${table} WHERE id = 'schema' IF owner = ?`, [owner]);
  }
}
