import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { toIso } from '../../domain/common.js';
import { OpxError } from '../../domain/errors.js';
import type { Runtime } from '../../runtime.js';
import { idParams, parseInput } from '../http.js';
import type { KnowledgeDocument, KnowledgeSearch } from '../schemas.js';

export const searchQuery = z.strictObject({
  q: z.string().trim().max(2000).optional(),
  service: z.string().trim().min(1).max(200).optional(),
  alert: z.string().trim().min(1).max(200).optional(),
  kind: z.enum(['runbook', 'postmortem']).optional(),
  limit: z.coerce.number().int().min(1).max(50).default(10),
  perDocument: z.coerce.number().int().min(1).max(50).default(2),
});

export function registerKnowledgeRoutes(app: FastifyInstance, runtime: Runtime): void {
  const read = { config: { scope: 'read' as const } };

  app.get('/v1/kb/search', read, async (request): Promise<KnowledgeSearch> => {
    const query = parseInput(searchQuery, request.query, 'query');
    if (!query.q && !query.service && !query.alert) {
      throw new OpxError('invalid_request', 'give at least one of q (symptoms), service or alert', {
        path: 'query.q',
      });
    }
    const hits = await runtime.knowledge.search({
      text: query.q,
      service: query.service,
      alert: query.alert,
      kind: query.kind,
      limit: query.limit,
      perDocument: query.perDocument,
    });
    return { items: hits };
  });

  app.get('/v1/kb/documents', read, async () => {
    const documents = await runtime.store.knowledge.list();
    return {
      items: documents.map(({ body: _body, ...document }) => ({
        ...document,
        importedAt: toIso(document.importedAt),
      })),
    };
  });

  app.get('/v1/kb/documents/:id', read, async (request): Promise<KnowledgeDocument> => {
    const { id } = parseInput(idParams, request.params, 'params');
    const document = await runtime.store.knowledge.find(id);
    // A re-import replaces a changed file under a new id: an old citation's document is gone.
    if (!document) throw new OpxError('not_found', `no knowledge document ${id}`, { path: 'id' });
    const chunks = await runtime.store.knowledge.chunksOf(id);
    return {
      id: document.id,
      path: document.path,
      title: document.title,
      kind: document.kind,
      services: document.services,
      alerts: document.alerts,
      importedAt: toIso(document.importedAt),
      body: document.body,
      chunks: chunks.map(({ id: chunkId, ordinal, heading, text }) => ({
        id: chunkId,
        ordinal,
        heading,
        text,
      })),
    };
  });
}
