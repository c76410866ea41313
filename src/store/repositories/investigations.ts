import type { Selectable } from 'kysely';
import type { Finding, RecommendationDraft } from '../../domain/finding.js';
import type { InvestigationsTable, RecommendationsTable } from '../schema.js';
import { chunk, fromJson, type RepositoryContext, seal, toJson, unseal } from './base.js';

export type InvestigationStatus = 'running' | 'completed' | 'failed';

export interface Investigation {
  id: string;
  incidentId: string;
  bundleId: string | null;
  status: InvestigationStatus;
  attempt: number;
  startedAt: number;
  finishedAt: number | null;
  error: string | null;
  outputHash: string | null;
  findings: Finding[];
}

export interface Recommendation extends RecommendationDraft {
  id: string;
  /** How far to trust it, 0–1 (src/trust/trust.ts); null for recommendations made before trust existed. */
  trust: number | null;
  incidentId: string;
  investigationId: string | null;
  rank: number;
  status: 'proposed' | 'approved' | 'rejected';
  decidedBy: string | null;
  decidedAt: number | null;
  decisionReason: string | null;
  createdAt: number;
}

function investigationFromRow(
  context: RepositoryContext,
  row: Selectable<InvestigationsTable>,
): Investigation {
  return {
    id: row.id,
    incidentId: row.incident_id,
    bundleId: row.bundle_id,
    status: row.status as InvestigationStatus,
    attempt: row.attempt,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    error: row.error,
    outputHash: row.output_hash,
    findings:
      fromJson<{ findings?: Finding[] }>(unseal(context, row.result, 'investigations.result'), {}).findings ??
      [],
  };
}

function recommendationFromRow(
  context: RepositoryContext,
  row: Selectable<RecommendationsTable>,
): Recommendation {
  return {
    id: row.id,
    incidentId: row.incident_id,
    investigationId: row.investigation_id,
    kind: row.kind as Recommendation['kind'],
    title: row.title,
    rationale: unseal(context, row.rationale, 'recommendations.rationale'),
    risk: row.risk as Recommendation['risk'],
    confidence: row.confidence,
    trust: row.trust === null ? null : Number(row.trust),
    citations: fromJson(row.citations, []),
    rank: row.rank,
    status: row.status as Recommendation['status'],
    decidedBy: row.decided_by,
    decidedAt: row.decided_at,
    decisionReason: unseal(context, row.decision_reason, 'recommendations.decision_reason'),
    createdAt: row.created_at,
  };
}

export function investigationRepository(context: RepositoryContext) {
  const { db, dialect } = context;
  return {
    async start(row: {
      id: string;
      incidentId: string;
      bundleId: string;
      attempt: number;
      startedAt: number;
    }): Promise<void> {
      await db
        .insertInto('investigations')
        .values({
          id: row.id,
          incident_id: row.incidentId,
          bundle_id: row.bundleId,
          status: 'running',
          attempt: row.attempt,
          started_at: row.startedAt,
          finished_at: null,
          error: null,
          output_hash: null,
          result: null,
        })
        .execute();
    },

    /** Finishes a running investigation; false when it was not running (already finished elsewhere). */
    async finish(
      id: string,
      outcome: {
        status: 'completed' | 'failed';
        finishedAt: number;
        error?: string;
        outputHash?: string;
        findings?: Finding[];
      },
    ): Promise<boolean> {
      const result = await db
        .updateTable('investigations')
        .set({
          status: outcome.status,
          finished_at: outcome.finishedAt,
          error: outcome.error ?? null,
          output_hash: outcome.outputHash ?? null,
          result: outcome.findings
            ? seal(context, toJson({ findings: outcome.findings }), 'investigations.result')
            : null,
        })
        .where('id', '=', id)
        .where('status', '=', 'running')
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },

    async get(id: string): Promise<Investigation | undefined> {
      const row = await db.selectFrom('investigations').selectAll().where('id', '=', id).executeTakeFirst();
      return row && investigationFromRow(context, row);
    },

    /** The id of the incident's newest completed investigation, without reading any findings. */
    async currentId(incidentId: string): Promise<string | null> {
      const row = await db
        .selectFrom('investigations')
        .select('id')
        .where('incident_id', '=', incidentId)
        .where('status', '=', 'completed')
        .orderBy('started_at', 'desc')
        .orderBy('id', 'desc')
        .limit(1)
        .executeTakeFirst();
      return row?.id ?? null;
    },

    async forIncident(incidentId: string): Promise<Investigation[]> {
      const rows = await db
        .selectFrom('investigations')
        .selectAll()
        .where('incident_id', '=', incidentId)
        .orderBy('started_at', 'desc')
        .orderBy('id', 'desc')
        .execute();
      return rows.map((row) => investigationFromRow(context, row));
    },

    async addRecommendations(rows: readonly Recommendation[]): Promise<void> {
      for (const part of chunk(rows, 50)) {
        await db
          .insertInto('recommendations')
          .values(
            part.map((item) => ({
              id: item.id,
              incident_id: item.incidentId,
              investigation_id: item.investigationId,
              kind: item.kind,
              title: item.title,
              rationale: seal(context, item.rationale, 'recommendations.rationale'),
              risk: item.risk,
              confidence: item.confidence,
              trust: item.trust ?? null,
              citations: toJson(item.citations),
              rank: item.rank,
              status: item.status,
              decided_by: null,
              decided_at: null,
              decision_reason: null,
              created_at: item.createdAt,
            })),
          )
          .execute();
      }
    },

    async recommendation(
      id: string,
      options: { forUpdate?: boolean } = {},
    ): Promise<Recommendation | undefined> {
      let query = db.selectFrom('recommendations').selectAll().where('id', '=', id);
      if (options.forUpdate && dialect === 'postgres') query = query.forUpdate();
      const row = await query.executeTakeFirst();
      return row && recommendationFromRow(context, row);
    },

    async recommendations(incidentId: string, investigationId?: string): Promise<Recommendation[]> {
      let query = db.selectFrom('recommendations').selectAll().where('incident_id', '=', incidentId);
      if (investigationId) query = query.where('investigation_id', '=', investigationId);
      const rows = await query.orderBy('created_at', 'desc').orderBy('rank').execute();
      return rows.map((row) => recommendationFromRow(context, row));
    },

    async decide(
      id: string,
      decision: { status: 'approved' | 'rejected'; by: string; at: number; reason: string },
    ): Promise<void> {
      await db
        .updateTable('recommendations')
        .set({
          status: decision.status,
          decided_by: decision.by,
          decided_at: decision.at,
          decision_reason: seal(context, decision.reason, 'recommendations.decision_reason'),
        })
        .where('id', '=', id)
        .execute();
    },
  };
}
export type InvestigationRepository = ReturnType<typeof investigationRepository>;
