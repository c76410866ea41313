import type { EvidenceBundle, EvidenceGraph } from '../../domain/evidence.js';
import { fromJson, type RepositoryContext, seal, toJson, unseal } from './base.js';

const BUNDLE = 'evidence_bundles.content';
const GRAPH = 'evidence_graphs.content';

/**
 * Frozen evidence and its graph. Both are encrypted at rest like checkpoints: they hold what the
 * investigation saw, signals and changes included, so a copy of the database must not read as them.
 */
export function evidenceRepository(context: RepositoryContext) {
  const { db } = context;
  return {
    async insertBundle(bundle: EvidenceBundle, now: number = Date.now()): Promise<void> {
      await db
        .insertInto('evidence_bundles')
        .values({
          id: bundle.id,
          incident_id: bundle.incidentId,
          as_of: bundle.asOf,
          hash: bundle.hash,
          content: seal(context, toJson(bundle), BUNDLE),
          created_at: now,
        })
        .execute();
    },

    async getBundle(id: string): Promise<EvidenceBundle | undefined> {
      const row = await db
        .selectFrom('evidence_bundles')
        .select('content')
        .where('id', '=', id)
        .executeTakeFirst();
      return row && fromJson<EvidenceBundle>(unseal(context, row.content, BUNDLE), undefined as never);
    },

    async latestBundle(incidentId: string): Promise<EvidenceBundle | undefined> {
      const row = await db
        .selectFrom('evidence_bundles')
        .select('content')
        .where('incident_id', '=', incidentId)
        .orderBy('as_of', 'desc')
        .orderBy('id', 'desc')
        .limit(1)
        .executeTakeFirst();
      return row && fromJson<EvidenceBundle>(unseal(context, row.content, BUNDLE), undefined as never);
    },

    async insertGraph(graph: EvidenceGraph, now: number = Date.now()): Promise<void> {
      await db
        .insertInto('evidence_graphs')
        .values({
          id: graph.id,
          bundle_id: graph.bundleId,
          incident_id: graph.incidentId,
          content: seal(context, toJson(graph), GRAPH),
          created_at: now,
        })
        .execute();
    },

    async graphForBundle(bundleId: string): Promise<EvidenceGraph | undefined> {
      const row = await db
        .selectFrom('evidence_graphs')
        .select('content')
        .where('bundle_id', '=', bundleId)
        .executeTakeFirst();
      return row && fromJson<EvidenceGraph>(unseal(context, row.content, GRAPH), undefined as never);
    },
  };
}
export type EvidenceRepository = ReturnType<typeof evidenceRepository>;
