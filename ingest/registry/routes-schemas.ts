/** /schemas: schemas by their global id (cached: an id's schema never changes), and the types. */
import type { FastifyInstance } from 'fastify';
import { SCHEMA_TYPES } from './canonical.js';
import { flag, idParam } from './requests.js';
import type { RouteDeps } from './routes.js';

export function schemaRoutes(app: FastifyInstance, { store }: RouteDeps): void {
  app.get('/', () => ({}));

  app.get('/schemas/types', () => [...SCHEMA_TYPES]);

  app.get('/schemas/ids/:id', async (request) => {
    const { schema } = await store.schemaById(idParam(request.params));
    return { schema };
  });

  app.get('/schemas/ids/:id/schema', async (request) => {
    const { schema } = await store.schemaById(idParam(request.params));
    return schema;
  });

  app.get('/schemas/ids/:id/versions', async (request) =>
    store.usagesOf(idParam(request.params), flag(request.query, 'deleted')),
  );

  app.get('/schemas/ids/:id/subjects', async (request) => {
    const usages = await store.usagesOf(idParam(request.params), flag(request.query, 'deleted'));
    return [...new Set(usages.map((usage) => usage.subject))];
  });
}
