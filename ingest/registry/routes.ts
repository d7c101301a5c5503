/** What every route file gets, and the response shapes they share. */
import type { onRequestHookHandler } from 'fastify';
import type { RegistryStore, SubjectVersion } from './store.js';

export interface RouteDeps {
  readonly store: RegistryStore;
  /** onRequest hook of every write: checks the admin token. */
  readonly admin: onRequestHookHandler;
}

export interface VersionBody {
  readonly subject: string;
  readonly version: number;
  readonly id: number;
  readonly schema: string;
}

/**
 * `{"subject","version","id","schema"}`. Confluent adds `schemaType` only for non-AVRO schemas; AVRO is
 * the only type here, so it is never added.
 */
export function versionBody(found: SubjectVersion): VersionBody {
  return { subject: found.subject, version: found.version, id: found.id, schema: found.schema.schema };
}
