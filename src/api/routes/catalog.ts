import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { OpxError } from '../../domain/errors.js';
import type { Runtime } from '../../runtime.js';
import { nameParams, parseInput } from '../http.js';
import { presentChange, presentService } from '../present.js';
import type { ChangeList, ServiceList, ServiceView } from '../schemas.js';

export const changesQuery = z.strictObject({
  service: z.string().min(1).max(200).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/** The read side of the catalog: the services with their dependencies, and the recorded changes; times as ISO-8601. */
export function registerCatalogRoutes(app: FastifyInstance, runtime: Runtime): void {
  const { store } = runtime;
  const read = { config: { scope: 'read' as const } };

  app.get('/v1/services', read, async (): Promise<ServiceList> => {
    const services = await store.services.list();
    return { items: services.map(presentService) };
  });
  app.get('/v1/services/:id', read, async (request): Promise<ServiceView> => {
    const { id } = parseInput(nameParams, request.params, 'params');
    const service = await store.services.get(id);
    if (!service) throw new OpxError('not_found', `no service ${id}`, { path: 'name' });
    return presentService(service);
  });
  app.get('/v1/changes', read, async (request): Promise<ChangeList> => {
    const query = parseInput(changesQuery, request.query, 'query');
    const items = await store.changes.list({
      ...(query.service ? { services: [query.service] } : {}),
      limit: query.limit,
    });
    return { items: items.map(presentChange) };
  });
}
