/** /config (compatibility levels, global and per subject) and /compatibility (checks, a read). */
import type { FastifyInstance } from 'fastify';
import type { ParsedSchema } from './canonical.js';
import { isRegistryError, registryErrors } from './errors.js';
import { decodeConfigRequest, decodeSchemaRequest, flag, subjectParam, versionParam } from './requests.js';
import type { RouteDeps } from './routes.js';
import type { VersionRef } from './store.js';

export function configRoutes(app: FastifyInstance, { store, admin }: RouteDeps): void {
  app.get('/config', async () => ({ compatibilityLevel: await store.globalCompatibility() }));

  app.put('/config', { onRequest: admin }, async (request) => {
    const level = decodeConfigRequest(request.body);
    await store.setCompatibility(undefined, level);
    return { compatibility: level };
  });

  app.get('/config/:subject', async (request) => {
    const subject = subjectParam(request.params);
    const level = await store.subjectCompatibility(subject);
    if (level !== undefined) return { compatibilityLevel: level };
    if (flag(request.query, 'defaultToGlobal')) {
      return { compatibilityLevel: await store.globalCompatibility() };
    }
    throw registryErrors.subjectConfigNotFound(subject);
  });

  app.put('/config/:subject', { onRequest: admin }, async (request) => {
    const subject = subjectParam(request.params);
    const level = decodeConfigRequest(request.body);
    await store.setCompatibility(subject, level);
    return { compatibility: level };
  });

  app.delete('/config/:subject', { onRequest: admin }, async (request) => ({
    compatibilityLevel: await store.deleteCompatibility(subjectParam(request.params)),
  }));

  // Against one version (`latest`: the latest only; an empty subject is compatible), as Confluent.
  app.post('/compatibility/subjects/:subject/versions/:version', async (request) =>
    check(request.params, request.query, request.body, versionParam(request.params)),
  );

  // Against what registering would check: the latest, or every version for transitive levels.
  app.post('/compatibility/subjects/:subject/versions', async (request) =>
    check(request.params, request.query, request.body, undefined),
  );

  async function check(
    params: unknown,
    query: unknown,
    body: unknown,
    ref: VersionRef | undefined,
  ): Promise<{ is_compatible: boolean; messages?: string[] }> {
    const subject = subjectParam(params);
    const verbose = flag(query, 'verbose');
    let parsed: ParsedSchema;
    try {
      parsed = decodeSchemaRequest(body);
    } catch (error) {
      // Confluent answers an invalid schema with is_compatible false when verbose, else 42201.
      if (verbose && isRegistryError(error) && error.errorCode === 42201) {
        return { is_compatible: false, messages: [error.message] };
      }
      throw error;
    }
    const reasons = await store.incompatibilities(subject, parsed, ref);
    const result = { is_compatible: reasons.length === 0 };
    return verbose ? { ...result, messages: reasons } : result;
  }
}
