import type { EvidenceBundle, EvidenceGraph } from '../../domain/evidence.js';
import { compressText, expandText } from '../compressed.js';
import { fromJson, type RepositoryContext, seal, toJson, unseal } from './base.js';

const BUNDLE = 'evidence_bundles.content';
const GRAPH = 'evidence_graphs.content';

/**
 * Frozen evidence and its graph. Both are encrypted at rest like checkpoints: they hold what the
 * investigation saw, signals and changes included, so a copy of the database must not read as them.
 * A bundle is compressed before it is sealed (src/store/compressed.ts); it is the largest row OPX
 * writes, one per investigation.
 */
export function evidenceRepository(context: RepositoryContext) {
  const { db } = context;
  const readBundle = (content: string) =>
    fromJson<EvidenceBundle>(expandText(unseal(context, content, BUNDLE), BUNDLE), undefined as never);
  return {
    async insertBundle(bundle: EvidenceBundle, now: number = Date.now()): Promise<void> {
      await db
        .insertInto('evidence_bundles')
        .values({
          id: bundle.id,
          incident_id: bundle.incidentId,
          as_of: bundle.asOf,
          hash: bundle.hash,
          content: seal(context, compressText(toJson(bundle)), BUNDLE),
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
      return row && readBundle(row.content);
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
      return row && readBundle(row.content);
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
