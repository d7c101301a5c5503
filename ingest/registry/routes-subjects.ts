/** /subjects: list, register, look up, read and delete versions. */
import type { FastifyInstance } from 'fastify';
import { decodeSchemaRequest, flag, subjectParam, text, versionParam } from './requests.js';
import { versionBody, type RouteDeps } from './routes.js';

export function subjectRoutes(app: FastifyInstance, { store, admin }: RouteDeps): void {
  app.get('/subjects', async (request) =>
    store.listSubjects(flag(request.query, 'deleted'), text(request.query, 'subjectPrefix', '')),
  );

  app.get('/subjects/:subject/versions', async (request) =>
    store.listVersions(subjectParam(request.params), flag(request.query, 'deleted')),
  );

  // `?normalize=true` is accepted and needs nothing: every schema is stored in canonical form.
  app.post('/subjects/:subject/versions', { onRequest: admin }, async (request) => {
    const subject = subjectParam(request.params);
    const { id } = await store.register(subject, decodeSchemaRequest(request.body));
    return { id };
  });

  app.post('/subjects/:subject', async (request) => {
    const subject = subjectParam(request.params);
    const parsed = decodeSchemaRequest(request.body);
    return versionBody(await store.lookup(subject, parsed, flag(request.query, 'deleted')));
  });

  app.get('/subjects/:subject/versions/:version', async (request) => {
    const found = await store.getVersion(
      subjectParam(request.params),
      versionParam(request.params),
      flag(request.query, 'deleted'),
    );
    return versionBody(found);
  });

  app.get('/subjects/:subject/versions/:version/schema', async (request) => {
    const found = await store.getVersion(
      subjectParam(request.params),
      versionParam(request.params),
      flag(request.query, 'deleted'),
    );
    return found.schema.schema;
  });

  // No schema references are supported, so nothing ever refers to a version.
  app.get('/subjects/:subject/versions/:version/referencedby', async (request) => {
    await store.getVersion(subjectParam(request.params), versionParam(request.params), true);
    return [];
  });

  app.delete('/subjects/:subject', { onRequest: admin }, async (request) =>
    store.deleteSubject(subjectParam(request.params), flag(request.query, 'permanent')),
  );

  app.delete('/subjects/:subject/versions/:version', { onRequest: admin }, async (request) =>
    store.deleteVersion(
      subjectParam(request.params),
      versionParam(request.params),
      flag(request.query, 'permanent'),
    ),
  );
}
