/**
 * kill -9 of `tributary migrate` in the middle of a 1M-row run, then a resume: the second process
 * continues from the checkpoint (it reads only what was not checkpointed), verification passes, and
 * Cassandra holds each legacy row exactly once (row counts per day and per customer-day equal the
 * source's).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { cassandraTypes, createCassandraClient } from '../../core/cassandra/index.js';
import { RECORD_BUCKETS } from '../../ingest/index.js';
import { fillLegacy } from '../../migrations/legacy/index.js';
import { runCli } from '../helpers/cli.js';
import { config } from '../helpers/context.js';
import { checkpointRows, legacyWorlds, migrationRuns, startMigrate } from '../helpers/legacy.js';
import { waitFor } from '../helpers/wait-for.js';

// No logger: counting a partition reads its tombstones (null merchant/channel cells) and Cassandra
// warns about every such count, which would bury the test's output.
const cassandra = createCassandraClient({
  contactPoints: config.cassandra.contactPoints,
  localDataCenter: config.cassandra.localDataCenter,
});
afterAll(() => cassandra.shutdown());
const world = legacyWorlds();
const ROWS = 1_000_000;

const Report = z.object({
  resumed: z.boolean(),
  status: z.string(),
  tables: z.array(
    z.object({ table: z.string(), read: z.number(), written: z.number(), rejected: z.number() }),
  ),
  verification: z.object({ ok: z.boolean() }),
});

async function count(query: string, params: unknown[]): Promise<number> {
  const result = await cassandra.execute(query, params, { prepare: true });
  return Number(result.rows[0]?.get('n') ?? 0);
}

describe('migrate crash', () => {
  it(
    'kill -9 mid-run, then resume: verified, nothing lost, nothing duplicated',
    { timeout: 900_000 },
    async () => {
      const w = await world();
      const endMs = Date.now() - 86_400_000;
      const filled = await fillLegacy(w.pool, { records: ROWS, customers: 40, days: 4, endMs, prefix: 'k9' });

      const first = startMigrate([], w.env);
      await waitFor(async () => (await checkpointRows(w.pool, 'records')) >= 150_000, {
        timeoutMs: 300_000,
        intervalMs: 200,
        description: 'the first run to checkpoint 150,000 records',
      });
      await first.kill();
      const atKill = await checkpointRows(w.pool, 'records');
      expect(atKill).toBeLessThan(ROWS);
      expect((await migrationRuns(w.pool)).map((r) => r.status)).toEqual(['running']);

      const second = await runCli(['migrate', '--json'], w.env, 600_000);
      expect(second.code, second.stderr).toBe(0);
      const report = Report.parse(JSON.parse(second.stdout));
      expect(report.resumed).toBe(true);
      expect(report.status).toBe('succeeded');
      expect(report.verification.ok).toBe(true);
      const records = report.tables.find((t) => t.table === 'records');
      // The resumed process read exactly what the killed one had not checkpointed.
      expect(records?.read).toBe(ROWS - atKill);
      expect((await migrationRuns(w.pool)).map((r) => r.status)).toEqual(['succeeded']);

      // Cassandra row counts per day (and per customer and day) equal the source's.
      const perDay = await w.pool.query<Record<string, unknown>>(
        `SELECT to_char(event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, customer_id, count(*)::int AS n
         FROM legacy_records GROUP BY 1, 2 ORDER BY 1, 2`,
      );
      const sourceByDay = new Map<string, number>();
      for (const row of perDay.rows) {
        const day = String(row.day);
        sourceByDay.set(day, (sourceByDay.get(day) ?? 0) + Number(row.n));
        const stored = await count(
          `SELECT count(*) AS n FROM ${w.keyspace}.records_by_customer WHERE customer_id = ? AND day = ?`,
          [row.customer_id, cassandraTypes.LocalDate.fromString(day)],
        );
        expect(stored, `${String(row.customer_id)} ${day}`).toBe(Number(row.n));
      }
      for (const [day, n] of sourceByDay) {
        let stored = 0;
        for (let bucket = 0; bucket < RECORD_BUCKETS; bucket += 1) {
          stored += await count(
            `SELECT count(*) AS n FROM ${w.keyspace}.records WHERE day = ? AND bucket = ?`,
            [cassandraTypes.LocalDate.fromString(day), bucket],
          );
        }
        expect(stored, day).toBe(n);
      }
      expect([...sourceByDay.values()].reduce((a, b) => a + b, 0)).toBe(ROWS);

      const findings = await w.pool.query<Record<string, unknown>>(
        `SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, customer_id, count(*)::int AS n
         FROM legacy_findings GROUP BY 1, 2`,
      );
      let findingRows = 0;
      for (const row of findings.rows) {
        findingRows += Number(row.n);
        const stored = await count(
          `SELECT count(*) AS n FROM ${w.keyspace}.findings_by_customer WHERE customer_id = ? AND day = ?`,
          [row.customer_id, cassandraTypes.LocalDate.fromString(String(row.day))],
        );
        expect(stored).toBe(Number(row.n));
      }
      expect(findingRows).toBe(filled.findings);
    },
  );
});
