import type { Selectable } from 'kysely';
import type { Candidate, Detection } from '../../domain/incident.js';
import type { CandidatesTable, DetectionsTable } from '../schema.js';
import { chunk, fromJson, type RepositoryContext } from './base.js';

export type CandidateRow = Selectable<CandidatesTable>;
export type DetectionRow = Selectable<DetectionsTable>;

export function candidateFromRow(row: CandidateRow): Candidate {
  return {
    id: row.id,
    ruleId: row.rule_id,
    groupKey: row.group_key,
    groupValues: fromJson(row.group_values, {}),
    status: row.status as Candidate['status'],
    firstAt: row.first_at,
    lastAt: row.last_at,
    detectionCount: row.detection_count,
    incidentId: row.incident_id,
  };
}

export function detectionFromRow(row: DetectionRow): Detection {
  return {
    id: row.id,
    ruleId: row.rule_id,
    ruleVersion: row.rule_version,
    signalId: row.signal_id,
    candidateId: row.candidate_id,
    service: row.service,
    at: row.at,
    createdAt: row.created_at,
  };
}

export function detectionRepository({ db, dialect }: RepositoryContext) {
  return {
    async findOpenCandidates(openKeys: readonly string[]): Promise<CandidateRow[]> {
      if (openKeys.length === 0) return [];
      const out: CandidateRow[] = [];
      for (const part of chunk(openKeys, 500)) {
        let query = db.selectFrom('candidates').selectAll().where('open_key', 'in', part);
        if (dialect === 'postgres') query = query.forUpdate();
        out.push(...(await query.execute()));
      }
      return out;
    },

    /** Releases the candidates feeding an incident that is no longer active, so new signals start afresh. */
    async closeCandidatesOfIncident(incidentId: string): Promise<void> {
      await db
        .updateTable('candidates')
        .set({ open_key: null, status: 'expired' })
        .where('incident_id', '=', incidentId)
        .where('open_key', 'is not', null)
        .execute();
    },

    /** Inserts new candidates and rewrites changed ones; changed ones go first so a freed open key can be reused. */
    async writeCandidates(changed: readonly CandidateRow[], created: readonly CandidateRow[]): Promise<void> {
      for (const part of chunk(changed, 60)) {
        await db
          .insertInto('candidates')
          .values([...part])
          .onConflict((conflict) =>
            conflict.column('id').doUpdateSet((eb) => ({
              status: eb.ref('excluded.status'),
              open_key: eb.ref('excluded.open_key'),
              first_at: eb.ref('excluded.first_at'),
              last_at: eb.ref('excluded.last_at'),
              detection_count: eb.ref('excluded.detection_count'),
              incident_id: eb.ref('excluded.incident_id'),
            })),
          )
          .execute();
      }
      for (const part of chunk(created, 60))
        await db
          .insertInto('candidates')
          .values([...part])
          .execute();
    },

    /** Stored detections of these candidates at or after `since`, for threshold checks. */
    async windowDetections(
      candidateIds: readonly string[],
      since: number,
    ): Promise<{ candidateId: string; signalId: string; service: string; at: number }[]> {
      const out: { candidateId: string; signalId: string; service: string; at: number }[] = [];
      for (const part of chunk([...new Set(candidateIds)], 500)) {
        const rows = await db
          .selectFrom('detections')
          .select(['candidate_id', 'signal_id', 'service', 'at'])
          .where('candidate_id', 'in', part)
          .where('at', '>=', since)
          .execute();
        for (const row of rows)
          out.push({
            candidateId: row.candidate_id,
            signalId: row.signal_id,
            service: row.service,
            at: row.at,
          });
      }
      return out;
    },

    async insertDetections(rows: DetectionRow[]): Promise<void> {
      for (const part of chunk(rows, 100)) await db.insertInto('detections').values(part).execute();
    },

    async setDetectionIncident(candidateId: string, incidentId: string): Promise<void> {
      await db
        .updateTable('detections')
        .set({ incident_id: incidentId })
        .where('candidate_id', '=', candidateId)
        .where('incident_id', 'is', null)
        .execute();
    },

    async forIncident(incidentId: string): Promise<Detection[]> {
      const rows = await db
        .selectFrom('detections')
        .selectAll()
        .where('incident_id', '=', incidentId)
        .orderBy('at')
        .orderBy('id')
        .execute();
      return rows.map(detectionFromRow);
    },

    async forSignal(signalId: string): Promise<Detection[]> {
      const rows = await db
        .selectFrom('detections')
        .selectAll()
        .where('signal_id', '=', signalId)
        .orderBy('id')
        .execute();
      return rows.map(detectionFromRow);
    },
  };
}
export type DetectionRepository = ReturnType<typeof detectionRepository>;
