import { describe, expect, it } from 'vitest';
import type { Candidate, Detection } from '../../domain/incident.js';
import { type CandidateRow, candidateFromRow, type DetectionRow } from '../repositories/detections.js';
import { candidateRow, detectionRow, T0 } from './fixtures.js';
import { expectUniqueViolation, type StoreFactory, unique, useStore } from './harness.js';

const byId = (x: { id: string }, y: { id: string }) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0);

export function detectionSpecs(init: StoreFactory): void {
  describe('detections', () => {
    const store = useStore(init);

    /** The stored row, open key and creation time included: the domain candidate has neither. */
    const storedCandidate = (id: string) =>
      store().db.selectFrom('candidates').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

    /** Stores new candidates the way detection does: as the created half of writeCandidates. */
    const insertCandidates = (...rows: CandidateRow[]) => store().detections.writeCandidates([], rows);

    it('writeCandidates stores created candidates as given, and candidateFromRow maps them', async () => {
      const row = candidateRow({
        group_values: JSON.stringify({ service: 'checkout', environment: 'production' }),
        first_at: T0,
        last_at: T0 + 5000,
        detection_count: 4,
      });
      await insertCandidates(row);

      const stored = await storedCandidate(row.id);
      expect(stored).toEqual(row);
      expect(candidateFromRow(stored)).toEqual({
        id: row.id,
        ruleId: row.rule_id,
        groupKey: row.group_key,
        groupValues: { service: 'checkout', environment: 'production' },
        status: 'open',
        firstAt: T0,
        lastAt: T0 + 5000,
        detectionCount: 4,
        incidentId: null,
      } satisfies Candidate);
    });

    it('findOpenCandidates returns open rows by open key, as stored', async () => {
      const open = candidateRow();
      const other = candidateRow();
      const closed = candidateRow({ status: 'expired', open_key: null });
      await insertCandidates(open, other, closed);

      const found = await store().detections.findOpenCandidates([open.open_key!, unique('none')]);
      expect(found).toEqual([open]);
      expect(await store().detections.findOpenCandidates([])).toEqual([]);
      // PostgreSQL locks the rows here (FOR UPDATE); that must work inside a transaction too.
      const inTransaction = await store().transaction((scope) =>
        scope.detections.findOpenCandidates([open.open_key!, other.open_key!]),
      );
      expect(inTransaction.map((row) => row.id).sort()).toEqual([open.id, other.id].sort());
    });

    it('closeCandidatesOfIncident expires the incident’s open candidates only', async () => {
      const incidentId = unique('inc');
      const feeding = candidateRow({ status: 'promoted', incident_id: incidentId });
      const alsoOpen = candidateRow({ status: 'open', incident_id: incidentId });
      const alreadyClosed = candidateRow({ status: 'promoted', incident_id: incidentId, open_key: null });
      const otherIncident = candidateRow({ status: 'promoted', incident_id: unique('inc') });
      await insertCandidates(feeding, alsoOpen, alreadyClosed, otherIncident);

      await store().detections.closeCandidatesOfIncident(incidentId);

      expect(await storedCandidate(feeding.id)).toEqual({ ...feeding, status: 'expired', open_key: null });
      expect(await storedCandidate(alsoOpen.id)).toEqual({ ...alsoOpen, status: 'expired', open_key: null });
      expect(await storedCandidate(alreadyClosed.id)).toEqual(alreadyClosed);
      expect(await storedCandidate(otherIncident.id)).toEqual(otherIncident);
      const stillOpen = await store().detections.findOpenCandidates([
        feeding.open_key!,
        alsoOpen.open_key!,
        otherIncident.open_key!,
      ]);
      expect(stillOpen.map((row) => row.id)).toEqual([otherIncident.id]);

      // The released key can start a new candidate straight away.
      const fresh = candidateRow({ rule_id: feeding.rule_id, group_key: feeding.group_key });
      await insertCandidates(fresh);
      expect(await store().detections.findOpenCandidates([feeding.open_key!])).toEqual([fresh]);
    });

    it('writeCandidates rewrites the mutable columns of changed candidates and inserts created ones', async () => {
      const existing = candidateRow({ detection_count: 2, last_at: T0 + 100 });
      const bystander = candidateRow();
      await insertCandidates(existing, bystander);
      const created = candidateRow({ first_at: T0 + 50, detection_count: 3 });
      // Promotion keeps the open key: the candidate goes on feeding its incident.
      const mutable = {
        status: 'promoted',
        first_at: T0 - 10,
        last_at: T0 + 500,
        detection_count: 5,
        incident_id: unique('inc'),
      } satisfies Partial<CandidateRow>;

      await store().detections.writeCandidates(
        [
          {
            ...existing,
            ...mutable,
            // Fixed when the candidate is created: writeCandidates must keep the stored values.
            rule_id: unique('rule'),
            group_key: unique('group'),
            group_values: '{"service":"elsewhere"}',
            created_at: T0 + 999,
          },
        ],
        [created],
      );
      await store().detections.writeCandidates([], []);

      expect(await storedCandidate(existing.id)).toEqual({ ...existing, ...mutable });
      expect(await storedCandidate(created.id)).toEqual(created);
      expect(await storedCandidate(bystander.id)).toEqual(bystander);
    });

    it('writeCandidates releases changed open keys before inserting, so a created candidate can take one', async () => {
      const expiring = candidateRow();
      await insertCandidates(expiring);
      const released = { ...expiring, status: 'expired', open_key: null };
      const successor = candidateRow({
        rule_id: expiring.rule_id,
        group_key: expiring.group_key,
        first_at: T0 + 1000,
      });
      expect(successor.open_key).toBe(expiring.open_key);

      await store().transaction((scope) => scope.detections.writeCandidates([released], [successor]));

      expect(await store().detections.findOpenCandidates([expiring.open_key!])).toEqual([successor]);
      expect(await storedCandidate(expiring.id)).toEqual(released);
    });

    it('writeCandidates inserts created candidates plainly: a key still held is a unique violation', async () => {
      const holder = candidateRow();
      await insertCandidates(holder);
      await expectUniqueViolation(
        store().detections.writeCandidates(
          [],
          [candidateRow({ rule_id: holder.rule_id, group_key: holder.group_key })],
        ),
      );
      expect(await store().detections.findOpenCandidates([holder.open_key!])).toEqual([holder]);
    });

    it('writeCandidates writes batches larger than one statement chunk', async () => {
      // 65 changed and 65 created rows each cross the 60-row chunk.
      const stored = Array.from({ length: 65 }, () => candidateRow());
      await insertCandidates(...stored);
      const changed = stored.map((row, index) => ({
        ...row,
        detection_count: index + 2,
        last_at: T0 + index,
      }));
      const created = Array.from({ length: 65 }, () => candidateRow());

      await store().detections.writeCandidates(changed, created);

      const found = await store()
        .db.selectFrom('candidates')
        .selectAll()
        .where(
          'id',
          'in',
          [...changed, ...created].map((row) => row.id),
        )
        .execute();
      expect(found.sort(byId)).toEqual([...changed, ...created].sort(byId));
    });

    it('windowDetections lists the stored detections of the given candidates at or after `since`', async () => {
      const candidate = candidateRow();
      const other = candidateRow();
      const notAsked = candidateRow();
      await insertCandidates(candidate, other, notAsked);
      const before = detectionRow({ candidate_id: candidate.id, at: T0 - 1 });
      const atEdge = detectionRow({ candidate_id: candidate.id, at: T0, service: 'payments' });
      const later = detectionRow({ candidate_id: candidate.id, at: T0 + 10 });
      const otherLater = detectionRow({ candidate_id: other.id, at: T0 + 5, service: 'search' });
      const notAskedLater = detectionRow({ candidate_id: notAsked.id, at: T0 + 5 });
      await store().detections.insertDetections([before, atEdge, later, otherLater, notAskedLater]);

      const window = (row: DetectionRow) => ({
        candidateId: row.candidate_id,
        signalId: row.signal_id,
        service: row.service,
        at: row.at,
      });
      const bySignal = (x: { signalId: string }, y: { signalId: string }) =>
        x.signalId.localeCompare(y.signalId);
      // A candidate named twice must not double its detections.
      const found = await store().detections.windowDetections([candidate.id, other.id, candidate.id], T0);
      expect(found.sort(bySignal)).toEqual([atEdge, later, otherLater].map(window).sort(bySignal));
      expect(await store().detections.windowDetections([candidate.id], T0 + 11)).toEqual([]);
      expect(await store().detections.windowDetections([], T0)).toEqual([]);
    });

    it('insertDetections writes batches larger than one insert chunk', async () => {
      const candidate = candidateRow();
      await insertCandidates(candidate);
      const rows = Array.from({ length: 105 }, (_, index) =>
        detectionRow({ candidate_id: candidate.id, at: T0 + index }),
      );
      await store().detections.insertDetections(rows);
      await store().detections.insertDetections([]);

      const found = await store().detections.windowDetections([candidate.id], T0);
      expect(found.map((detection) => detection.signalId).sort()).toEqual(
        rows.map((row) => row.signal_id).sort(),
      );
    });

    it('insertDetections rejects a second detection of one signal by one rule', async () => {
      const candidate = candidateRow();
      await insertCandidates(candidate);
      const first = detectionRow({ candidate_id: candidate.id, rule_id: unique('rule') });
      await store().detections.insertDetections([first]);

      await expectUniqueViolation(
        store().detections.insertDetections([
          detectionRow({ candidate_id: candidate.id, rule_id: first.rule_id, signal_id: first.signal_id }),
        ]),
      );
      // Another rule may detect the same signal.
      await store().detections.insertDetections([
        detectionRow({ candidate_id: candidate.id, rule_id: unique('rule'), signal_id: first.signal_id }),
      ]);
      expect(await store().detections.forSignal(first.signal_id)).toHaveLength(2);
    });

    it('setDetectionIncident assigns the candidate’s unassigned detections only', async () => {
      const candidate = candidateRow();
      await insertCandidates(candidate);
      const incidentA = unique('inc');
      const incidentB = unique('inc');
      const assigned = detectionRow({ candidate_id: candidate.id, incident_id: incidentA, at: T0 });
      const unassigned = detectionRow({ candidate_id: candidate.id, at: T0 + 1 });
      const otherCandidate = detectionRow({ candidate_id: unique('cand'), at: T0 + 2 });
      await store().detections.insertDetections([assigned, unassigned, otherCandidate]);

      await store().detections.setDetectionIncident(candidate.id, incidentB);

      const ids = async (incidentId: string) =>
        (await store().detections.forIncident(incidentId)).map((detection) => detection.id);
      expect(await ids(incidentA)).toEqual([assigned.id]);
      expect(await ids(incidentB)).toEqual([unassigned.id]);
    });

    it('forIncident orders by time then id and maps every field', async () => {
      const candidate = candidateRow();
      await insertCandidates(candidate);
      const incidentId = unique('inc');
      const late = detectionRow({ candidate_id: candidate.id, incident_id: incidentId, at: T0 + 50 });
      const tieA = detectionRow({ candidate_id: candidate.id, incident_id: incidentId, at: T0 + 10 });
      const tieB = detectionRow({ candidate_id: candidate.id, incident_id: incidentId, at: T0 + 10 });
      await store().detections.insertDetections([late, tieB, tieA]);

      const found = await store().detections.forIncident(incidentId);
      expect(found.map((detection) => detection.id)).toEqual([...[tieA.id, tieB.id].sort(), late.id]);
      expect(found.at(-1)).toEqual({
        id: late.id,
        ruleId: late.rule_id,
        ruleVersion: 1,
        signalId: late.signal_id,
        candidateId: candidate.id,
        service: 'checkout',
        at: T0 + 50,
        createdAt: T0 + 50,
      } satisfies Detection);
      expect(await store().detections.forIncident(unique('inc'))).toEqual([]);
    });

    it('forSignal returns the signal’s detections ordered by id', async () => {
      const candidate = candidateRow();
      await insertCandidates(candidate);
      const signalId = unique('sig');
      const rows = [
        detectionRow({
          candidate_id: candidate.id,
          signal_id: signalId,
          rule_id: unique('rule'),
          at: T0 + 9,
        }),
        detectionRow({ candidate_id: candidate.id, signal_id: signalId, rule_id: unique('rule'), at: T0 }),
      ];
      await store().detections.insertDetections(rows);
      const found = await store().detections.forSignal(signalId);
      expect(found.map((detection) => detection.id)).toEqual(rows.map((row) => row.id).sort());
      expect(await store().detections.forSignal(unique('sig'))).toEqual([]);
    });
  });
}
