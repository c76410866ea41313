import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { toIso } from '../../domain/common.js';
import { OpxError } from '../../domain/errors.js';
import type { Runtime } from '../../runtime.js';
import { nameParams, parseInput } from '../http.js';

export const changesQuery = z.strictObject({
  service: z.string().min(1).max(200).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/** The read side of the catalog: the services with their dependencies, and the recorded changes. */
export function registerCatalogRoutes(app: FastifyInstance, runtime: Runtime): void {
  const { store } = runtime;
  const read = { config: { scope: 'read' as const } };

  app.get('/v1/services', read, async () => ({ items: await store.services.list() }));
  app.get('/v1/services/:id', read, async (request) => {
    const { id } = parseInput(nameParams, request.params, 'params');
    const service = await store.services.get(id);
    if (!service) throw new OpxError('not_found', `no service ${id}`, { path: 'name' });
    return service;
  });
  app.get('/v1/changes', read, async (request) => {
    const query = parseInput(changesQuery, request.query, 'query');
    const items = await store.changes.list({
      ...(query.service ? { services: [query.service] } : {}),
      limit: query.limit,
    });
    return {
      items: items.map((change) => ({
        ...change,
        startedAt: toIso(change.startedAt),
        finishedAt: toIso(change.finishedAt),
      })),
    };
  });
}
