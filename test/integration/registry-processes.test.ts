/**
 * The registry as `tributary serve` runs it, in real processes on a database of this file's own:
 * registrations survive a kill -9, and two processes registering the same schemas at the same moment
 * agree on one id per schema and one version per schema in a subject.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { uniqueName } from '../helpers/names.js';
import {
  httpCaller,
  recordSchema,
  startServe,
  useRegistryDatabase,
  type RegistryCall,
} from '../helpers/registry.js';

const db = useRegistryDatabase();
const token = randomBytes(24).toString('hex');

const idBody = z.object({ id: z.number().int().positive() });
const versionBody = z.object({
  subject: z.string(),
  version: z.number().int(),
  id: z.number().int(),
  schema: z.string(),
});

async function register(call: RegistryCall, subject: string, schema: string): Promise<number> {
  const response = await call('POST', `/subjects/${subject}/versions`, { body: { schema }, token });
  expect(response.status, response.text).toBe(200);
  return idBody.parse(response.body).id;
}

describe('tributary serve', () => {
  it('keeps ids, versions and config across a kill -9 and a restart on the same database', async () => {
    const env = { ...db().env, REGISTRY_ADMIN_TOKEN: token };
    const subject = uniqueName('orders');
    const other = uniqueName('payments');
    const record = uniqueName('Order');
    const schemas = [
      recordSchema(record, [['id', 'long']]),
      recordSchema(record, [
        ['id', 'long'],
        ['note', 'string', ''],
      ]),
      recordSchema(record, [
        ['id', 'long'],
        ['note', 'string', ''],
        ['amount', 'double', 0],
      ]),
    ];

    const first = await startServe(env);
    const before = httpCaller(first.url);
    // The token from REGISTRY_ADMIN_TOKEN is enforced by the process.
    const anonymous = await before('POST', `/subjects/${subject}/versions`, { body: { schema: schemas[0] } });
    expect(anonymous.status).toBe(401);
    const ids: number[] = [];
    for (const schema of schemas) ids.push(await register(before, subject, schema));
    expect(await register(before, other, schemas[1] ?? '')).toBe(ids[1]);
    expect(
      (await before('PUT', `/config/${subject}`, { body: { compatibility: 'FULL' }, token })).status,
    ).toBe(200);
    expect(await first.stop('SIGKILL')).toBe('SIGKILL');

    const second = await startServe(env);
    const after = httpCaller(second.url);
    expect((await after('GET', `/subjects/${subject}/versions`)).body).toEqual([1, 2, 3]);
    for (const [index, schema] of schemas.entries()) {
      const read = versionBody.parse((await after('GET', `/subjects/${subject}/versions/${index + 1}`)).body);
      expect(read).toEqual({ subject, version: index + 1, id: ids[index], schema });
      expect((await after('GET', `/schemas/ids/${ids[index] ?? 0}`)).body).toEqual({ schema });
    }
    expect((await after('GET', `/subjects/${other}/versions/latest`)).body).toMatchObject({ id: ids[1] });
    expect((await after('GET', `/config/${subject}`)).body).toEqual({ compatibilityLevel: 'FULL' });
    // Registering again after the restart is recognised: the same id, no new version.
    expect(await register(after, subject, schemas[0] ?? '')).toBe(ids[0]);
    expect((await after('GET', `/subjects/${subject}/versions`)).body).toEqual([1, 2, 3]);
    expect(await second.stop('SIGTERM')).toBe('0');
  });

  it('two processes registering the same schemas at once agree on ids and assign no duplicate versions', async () => {
    const env = { ...db().env, REGISTRY_ADMIN_TOKEN: token };
    const [a, b] = await Promise.all([startServe(env), startServe(env)]);
    const callers = [httpCaller(a.url), httpCaller(b.url)];
    const shared = uniqueName('shared');
    const record = uniqueName('Event');
    // 20 schemas, each adding a field with a default: all BACKWARD compatible with each other, so
    // every ordering of the concurrent registrations is accepted and the checks really run.
    const schemas = Array.from({ length: 20 }, (_, i) => recordSchema(record, [[`f${i}`, 'int', i]]));
    const own = schemas.map(() => uniqueName('own'));
    const registrations = schemas.flatMap((schema, i) => [
      { schema, subject: shared, index: i },
      { schema, subject: own[i] ?? '', index: i },
    ]);

    // Every registration sent to both processes, all at the same moment.
    const results = await Promise.all(
      callers.flatMap((call) =>
        registrations.map(async (r) => ({ ...r, id: await register(call, r.subject, r.schema) })),
      ),
    );

    const idsBySchema = new Map<number, Set<number>>();
    for (const r of results) idsBySchema.set(r.index, (idsBySchema.get(r.index) ?? new Set()).add(r.id));
    for (const [index, ids] of idsBySchema) expect([...ids], `schema ${index}`).toHaveLength(1);
    const ids = [...idsBySchema.values()].map((set) => [...set][0]);
    expect(new Set(ids).size).toBe(schemas.length);

    const pool = db().pool;
    const stored = await pool.query(
      'SELECT count(*)::int AS n FROM registry_schemas WHERE id = ANY($1::int[])',
      [ids],
    );
    expect(z.object({ n: z.number() }).parse(stored.rows[0]).n).toBe(schemas.length);
    const sharedRows = z
      .array(z.object({ version: z.number(), schema_id: z.number() }))
      .parse(
        (
          await pool.query(
            'SELECT version, schema_id FROM registry_versions WHERE subject = $1 ORDER BY version',
            [shared],
          )
        ).rows,
      );
    expect(sharedRows.map((row) => row.version)).toEqual(schemas.map((_, i) => i + 1));
    expect(new Set(sharedRows.map((row) => row.schema_id))).toEqual(new Set(ids));
    for (const [i, subject] of own.entries()) {
      const versions = await callers[i % 2]?.('GET', `/subjects/${subject}/versions`);
      expect(versions?.body, subject).toEqual([1]);
    }
    expect((await callers[1]?.('GET', `/subjects/${shared}/versions`))?.body).toEqual(
      schemas.map((_, i) => i + 1),
    );
  });
});
