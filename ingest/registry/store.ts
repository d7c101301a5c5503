/**
 * The registry's state in PostgreSQL, with Confluent's semantics: global ids, per-subject versions,
 * soft and hard deletes, compatibility levels. Writers of a subject are serialised by a transaction
 * holding that subject's advisory lock (version numbers and the compatibility check), and schema ids
 * are created with INSERT … ON CONFLICT DO NOTHING, so any number of processes can share one database.
 *
 * Schemas by id are cached in memory: an id's schema never changes. Subject and version lists are
 * read from the database on every request.
 */
import type { Logger } from '../../core/logger.js';
import { inPgTransaction, type PgPool } from '../../core/postgres/index.js';
import { parseStoredSchema, type AvroType, type ParsedSchema } from './canonical.js';
import {
  checkCompatibility,
  DEFAULT_COMPATIBILITY,
  type CompatibilityLevel,
  type PreviousSchema,
} from './compatibility.js';
import { registryErrors } from './errors.js';
import { LruCache } from './lru-cache.js';
import * as sql from './sql.js';

export type VersionRef = number | 'latest';

export interface SubjectVersion {
  readonly subject: string;
  readonly version: number;
  readonly id: number;
  readonly schema: sql.SchemaRow;
}

export interface RegisterResult {
  readonly id: number;
  readonly version: number;
  /** False when the schema was already live in the subject (nothing written). */
  readonly created: boolean;
}

interface CachedSchema {
  readonly row: sql.SchemaRow;
  type?: AvroType;
}

export class RegistryStore {
  readonly #pool: PgPool;
  readonly #log: Logger;
  readonly #byId: LruCache<number, CachedSchema>;

  constructor(pool: PgPool, log: Logger, cacheSize = 10_000) {
    this.#pool = pool;
    this.#log = log;
    this.#byId = new LruCache(cacheSize);
  }

  // ---- reads -------------------------------------------------------------------------------------

  async schemaById(id: number, q: sql.Queryable = this.#pool): Promise<sql.SchemaRow> {
    return (await this.#cached(id, q)).row;
  }

  async listSubjects(includeDeleted: boolean, prefix = ''): Promise<string[]> {
    return sql.selectSubjects(this.#pool, includeDeleted, prefix);
  }

  /** Version numbers of a subject; 40401 when it has none visible. */
  async listVersions(subject: string, includeDeleted: boolean): Promise<number[]> {
    const rows = visible(await sql.selectVersions(this.#pool, subject), includeDeleted);
    if (rows.length === 0) throw registryErrors.subjectNotFound(subject);
    return rows.map((r) => r.version);
  }

  /** One version of a subject; 40401 when the subject has none visible, 40402 when that one is not. */
  async getVersion(subject: string, ref: VersionRef, includeDeleted: boolean): Promise<SubjectVersion> {
    const rows = visible(await sql.selectVersions(this.#pool, subject), includeDeleted);
    if (rows.length === 0) throw registryErrors.subjectNotFound(subject);
    const row = ref === 'latest' ? rows.at(-1) : rows.find((r) => r.version === ref);
    if (row === undefined) throw registryErrors.versionNotFound(ref === 'latest' ? -1 : ref);
    return this.#subjectVersion(subject, row);
  }

  /** Where a schema is registered; 40403 when the id does not exist. */
  async usagesOf(id: number, includeDeleted: boolean): Promise<{ subject: string; version: number }[]> {
    await this.schemaById(id);
    return sql.selectUsages(this.#pool, id, includeDeleted);
  }

  /** The subject's version holding this schema; 40401 subject not found, 40403 schema not found. */
  async lookup(subject: string, parsed: ParsedSchema, includeDeleted: boolean): Promise<SubjectVersion> {
    const rows = visible(await sql.selectVersions(this.#pool, subject), includeDeleted);
    if (rows.length === 0) throw registryErrors.subjectNotFound(subject);
    const id = await sql.selectSchemaId(this.#pool, parsed.schemaType, parsed.fingerprint);
    const row = rows.findLast((r) => r.schemaId === id);
    if (row === undefined) throw registryErrors.schemaNotFound();
    return this.#subjectVersion(subject, row);
  }

  /**
   * Reasons `parsed` is incompatible with the subject under its level: against one version, or (ref
   * undefined) against what registering would check. Latest of an empty subject: compatible.
   */
  async incompatibilities(subject: string, parsed: ParsedSchema, ref?: VersionRef): Promise<string[]> {
    const live = visible(await sql.selectVersions(this.#pool, subject), false);
    let against = live;
    if (typeof ref === 'number') {
      if (live.length === 0) throw registryErrors.subjectNotFound(subject);
      against = live.filter((r) => r.version === ref);
      if (against.length === 0) throw registryErrors.versionNotFound(ref);
    } else if (ref === 'latest') {
      against = live.slice(-1);
    }
    const level = await this.compatibilityOf(subject);
    return checkCompatibility(parsed.type, await this.#previous(against, this.#pool), level);
  }

  // ---- configuration -----------------------------------------------------------------------------

  async globalCompatibility(q: sql.Queryable = this.#pool): Promise<CompatibilityLevel> {
    return (await sql.selectConfig(q, [sql.GLOBAL])).get(sql.GLOBAL) ?? DEFAULT_COMPATIBILITY;
  }

  async subjectCompatibility(subject: string): Promise<CompatibilityLevel | undefined> {
    return (await sql.selectConfig(this.#pool, [subject])).get(subject);
  }

  /** The level that applies to the subject: its own, else the global one. */
  async compatibilityOf(subject: string, q: sql.Queryable = this.#pool): Promise<CompatibilityLevel> {
    const levels = await sql.selectConfig(q, [subject, sql.GLOBAL]);
    return levels.get(subject) ?? levels.get(sql.GLOBAL) ?? DEFAULT_COMPATIBILITY;
  }

  async setCompatibility(subject: string | undefined, level: CompatibilityLevel): Promise<void> {
    if (subject === undefined) {
      await sql.upsertConfig(this.#pool, sql.GLOBAL, level);
      return;
    }
    await this.#inSubjectTransaction(subject, (client) => sql.upsertConfig(client, subject, level));
  }

  /** Removes the subject's own level (it falls back to the global one); 40408 when it had none. */
  async deleteCompatibility(subject: string): Promise<CompatibilityLevel> {
    const previous = await this.#inSubjectTransaction(subject, (client) => sql.deleteConfig(client, subject));
    if (previous === undefined) throw registryErrors.subjectConfigNotFound(subject);
    return previous;
  }

  // ---- writes ------------------------------------------------------------------------------------

  /** Registers a schema under a subject: the existing id if it is live there, else a new version. */
  async register(subject: string, parsed: ParsedSchema): Promise<RegisterResult> {
    const existing = await this.#liveVersionOf(this.#pool, subject, parsed);
    if (existing !== undefined) return { ...existing, created: false };
    const result = await this.#inSubjectTransaction(subject, async (client) => {
      const again = await this.#liveVersionOf(client, subject, parsed);
      if (again !== undefined) return { ...again, created: false };
      const rows = await sql.selectVersions(client, subject);
      const level = await this.compatibilityOf(subject, client);
      const previous = await this.#previous(visible(rows, false), client);
      const reasons = checkCompatibility(parsed.type, previous, level);
      if (reasons.length > 0) throw registryErrors.incompatible(subject, reasons);
      const id = await sql.ensureSchemaId(client, parsed.schemaType, parsed.fingerprint, parsed.canonical);
      const version = (rows.at(-1)?.version ?? 0) + 1;
      await sql.insertVersion(client, subject, version, id);
      return { id, version, created: true };
    });
    if (result.created) this.#log.info({ subject, id: result.id, version: result.version }, 'registered');
    return result;
  }

  /** Soft delete (or, after one, permanent delete) of a subject: the versions it deleted. */
  async deleteSubject(subject: string, permanent: boolean): Promise<number[]> {
    const deleted = await this.#inSubjectTransaction(subject, async (client) => {
      const rows = await sql.selectVersions(client, subject);
      if (rows.length === 0) throw registryErrors.subjectNotFound(subject);
      const live = visible(rows, false).map((r) => r.version);
      if (!permanent) {
        if (live.length === 0) throw registryErrors.subjectSoftDeleted(subject);
        await sql.softDeleteVersions(client, subject, live);
        return live;
      }
      if (live.length > 0) throw registryErrors.subjectNotSoftDeleted(subject);
      const all = rows.map((r) => r.version);
      await sql.hardDeleteVersions(client, subject, all);
      await sql.deleteConfig(client, subject);
      return all;
    });
    this.#log.info({ subject, permanent, versions: deleted }, 'deleted subject');
    return deleted;
  }

  /** Soft delete (or, after one, permanent delete) of one version: its number. */
  async deleteVersion(subject: string, ref: VersionRef, permanent: boolean): Promise<number> {
    const deleted = await this.#inSubjectTransaction(subject, async (client) => {
      const all = await sql.selectVersions(client, subject);
      // A soft delete sees the live versions (latest = latest live), a permanent one all of them.
      const rows = visible(all, permanent);
      if (rows.length === 0) throw registryErrors.subjectNotFound(subject);
      const row = ref === 'latest' ? rows.at(-1) : all.find((r) => r.version === ref);
      if (row === undefined) throw registryErrors.versionNotFound(ref === 'latest' ? -1 : ref);
      if (!permanent) {
        if (row.deleted) throw registryErrors.versionSoftDeleted(subject, row.version);
        await sql.softDeleteVersions(client, subject, [row.version]);
      } else {
        if (!row.deleted) throw registryErrors.versionNotSoftDeleted(subject, row.version);
        await sql.hardDeleteVersions(client, subject, [row.version]);
      }
      return row.version;
    });
    this.#log.info({ subject, permanent, version: deleted }, 'deleted version');
    return deleted;
  }

  // ---- internals ---------------------------------------------------------------------------------

  async #cached(id: number, q: sql.Queryable): Promise<CachedSchema> {
    const hit = this.#byId.get(id);
    if (hit !== undefined) return hit;
    const row = await sql.selectSchema(q, id);
    if (row === undefined) throw registryErrors.schemaNotFound(id);
    const entry: CachedSchema = { row };
    this.#byId.set(id, entry);
    return entry;
  }

  async #previous(rows: readonly sql.VersionRow[], q: sql.Queryable): Promise<PreviousSchema[]> {
    const previous: PreviousSchema[] = [];
    for (const row of rows) {
      const entry = await this.#cached(row.schemaId, q);
      entry.type ??= parseStoredSchema(entry.row.schema);
      previous.push({ version: row.version, type: entry.type });
    }
    return previous;
  }

  async #subjectVersion(subject: string, row: sql.VersionRow): Promise<SubjectVersion> {
    const schema = await this.schemaById(row.schemaId);
    return { subject, version: row.version, id: row.schemaId, schema };
  }

  async #liveVersionOf(
    q: sql.Queryable,
    subject: string,
    parsed: ParsedSchema,
  ): Promise<{ id: number; version: number } | undefined> {
    const id = await sql.selectSchemaId(q, parsed.schemaType, parsed.fingerprint);
    if (id === undefined) return undefined;
    const row = visible(await sql.selectVersions(q, subject), false).find((r) => r.schemaId === id);
    return row === undefined ? undefined : { id, version: row.version };
  }

  /** Runs `work` in a transaction holding the subject's advisory lock. */
  async #inSubjectTransaction<T>(subject: string, work: (client: sql.Queryable) => Promise<T>): Promise<T> {
    return inPgTransaction(this.#pool, async (client) => {
      await sql.lockSubject(client, subject);
      return work(client);
    });
  }
}

function visible(rows: readonly sql.VersionRow[], includeDeleted: boolean): sql.VersionRow[] {
  return includeDeleted ? [...rows] : rows.filter((r) => !r.deleted);
}
