import { describe, expect, it } from 'vitest';
import type { Candidate, Detection } from '../../domain/incident.js';
import type { CandidateRow, DetectionRow } from '../repositories/detections.js';
import { candidateRow, detectionRow, T0 } from './fixtures.js';
import { expectUniqueViolation, type StoreFactory, unique, useStore, withFreshStore } from './harness.js';

const byId = (x: { id: string }, y: { id: string }) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0);

export function detectionSpecs(init: StoreFactory): void {
  describe('detections', () => {
    const store = useStore(init);

    /** The stored row, open key and creation time included: the domain candidate has neither. */
    const storedCandidate = (id: string) =>
      store().db.selectFrom('candidates').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

    it('insertCandidate and getCandidate round-trip a candidate, group values included', async () => {
      const row = candidateRow({
        group_values: JSON.stringify({ service: 'checkout', environment: 'production' }),
        first_at: T0,
        last_at: T0 + 5000,
        detection_count: 4,
      });
      await store().detections.insertCandidate(row);

      expect(await store().detections.getCandidate(row.id)).toEqual({
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
      expect(await store().detections.getCandidate('cand_unknown')).toBeUndefined();
    });

    it('findOpenCandidates returns open rows by open key, as stored', async () => {
      const open = candidateRow();
      const other = candidateRow();
      const closed = candidateRow({ status: 'expired', open_key: null });
      await store().detections.insertCandidate(open);
      await store().detections.insertCandidate(other);
      await store().detections.insertCandidate(closed);

      const found = await store().detections.findOpenCandidates([open.open_key!, unique('none')]);
      expect(found).toEqual([open]);
      expect(await store().detections.findOpenCandidates([])).toEqual([]);
      // PostgreSQL locks the rows here (FOR UPDATE); that must work inside a transaction too.
      const inTransaction = await store().transaction((scope) =>
        scope.detections.findOpenCandidates([open.open_key!, other.open_key!]),
      );
      expect(inTransaction.map((row) => row.id).sort()).toEqual([open.id, other.id].sort());
    });

    it('a second candidate with the same open key is a unique violation', async () => {
      const open = candidateRow();
      await store().detections.insertCandidate(open);
      await expectUniqueViolation(
        store().detections.insertCandidate(
          candidateRow({ rule_id: open.rule_id, group_key: open.group_key }),
        ),
      );
    });

    it('updateCandidate changes only the given columns', async () => {
      const row = candidateRow();
      await store().detections.insertCandidate(row);
      await store().detections.updateCandidate(row.id, {
        last_at: T0 + 9000,
        detection_count: 7,
        status: 'promoted',
        incident_id: 'inc_1',
      });

      expect(await store().detections.getCandidate(row.id)).toMatchObject({
        lastAt: T0 + 9000,
        detectionCount: 7,
        status: 'promoted',
        incidentId: 'inc_1',
        firstAt: T0,
        groupKey: row.group_key,
      });
      // Promoted candidates keep feeding the incident, so the open key must survive the update.
      expect(await store().detections.findOpenCandidates([row.open_key!])).toHaveLength(1);
    });

    it('closeCandidatesOfIncident expires the incident’s open candidates only', async () => {
      const incidentId = unique('inc');
      const feeding = candidateRow({ status: 'promoted', incident_id: incidentId });
      const alsoOpen = candidateRow({ status: 'open', incident_id: incidentId });
      const alreadyClosed = candidateRow({ status: 'promoted', incident_id: incidentId, open_key: null });
      const otherIncident = candidateRow({ status: 'promoted', incident_id: unique('inc') });
      for (const row of [feeding, alsoOpen, alreadyClosed, otherIncident])
        await store().detections.insertCandidate(row);

      await store().detections.closeCandidatesOfIncident(incidentId);

      expect((await store().detections.getCandidate(feeding.id))?.status).toBe('expired');
      expect((await store().detections.getCandidate(alsoOpen.id))?.status).toBe('expired');
      expect((await store().detections.getCandidate(alreadyClosed.id))?.status).toBe('promoted');
      expect((await store().detections.getCandidate(otherIncident.id))?.status).toBe('promoted');
      const stillOpen = await store().detections.findOpenCandidates([
        feeding.open_key!,
        alsoOpen.open_key!,
        otherIncident.open_key!,
      ]);
      expect(stillOpen.map((row) => row.id)).toEqual([otherIncident.id]);

      // The released key can start a new candidate straight away.
      const fresh = candidateRow({ rule_id: feeding.rule_id, group_key: feeding.group_key });
      await store().detections.insertCandidate(fresh);
      expect(await store().detections.findOpenCandidates([feeding.open_key!])).toEqual([fresh]);
    });

    it('writeCandidates rewrites the mutable columns of changed candidates and inserts created ones', async () => {
      const existing = candidateRow({ detection_count: 2, last_at: T0 + 100 });
      const bystander = candidateRow();
      await store().detections.insertCandidate(existing);
      await store().detections.insertCandidate(bystander);
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
      await store().detections.insertCandidate(expiring);
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
      await store().detections.insertCandidate(holder);
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
      for (const row of stored) await store().detections.insertCandidate(row);
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
      for (const row of [candidate, other, notAsked]) await store().detections.insertCandidate(row);
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
      await store().detections.insertCandidate(candidate);
      const rows = Array.from({ length: 105 }, (_, index) =>
        detectionRow({ candidate_id: candidate.id, at: T0 + index }),
      );
      await store().detections.insertDetections(rows);
      await store().detections.insertDetections([]);

      const signalIds = await store().detections.candidateSignalIds(candidate.id);
      expect(signalIds.sort()).toEqual(rows.map((row) => row.signal_id).sort());
    });

    it('insertDetections rejects a second detection of one signal by one rule', async () => {
      const candidate = candidateRow();
      await store().detections.insertCandidate(candidate);
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
      await store().detections.insertCandidate(candidate);
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

    it('windowStats counts detections at or after `since` and their distinct services', async () => {
      const candidate = candidateRow();
      await store().detections.insertCandidate(candidate);
      const before = detectionRow({ candidate_id: candidate.id, at: T0 - 1, service: 'zeta' });
      const atEdge = detectionRow({ candidate_id: candidate.id, at: T0, service: 'payments' });
      const later = detectionRow({ candidate_id: candidate.id, at: T0 + 10, service: 'checkout' });
      const sameService = detectionRow({ candidate_id: candidate.id, at: T0 + 20, service: 'payments' });
      await store().detections.insertDetections([before, atEdge, later, sameService]);

      const stats = await store().detections.windowStats(candidate.id, T0);
      expect(stats).toEqual({
        count: 3,
        services: 2,
        signalIds: expect.arrayContaining([atEdge.signal_id, later.signal_id, sameService.signal_id]),
        serviceNames: ['checkout', 'payments'],
      });
      expect(stats.signalIds).toHaveLength(3);
      expect(await store().detections.windowStats(candidate.id, T0 + 1000)).toEqual({
        count: 0,
        services: 0,
        signalIds: [],
        serviceNames: [],
      });
    });

    it('candidateSignalIds lists every signal the candidate saw, regardless of time', async () => {
      const candidate = candidateRow();
      await store().detections.insertCandidate(candidate);
      const rows = [
        detectionRow({ candidate_id: candidate.id, at: T0 - 1_000_000 }),
        detectionRow({ candidate_id: candidate.id, at: T0 }),
      ];
      await store().detections.insertDetections(rows);
      expect((await store().detections.candidateSignalIds(candidate.id)).sort()).toEqual(
        rows.map((row) => row.signal_id).sort(),
      );
      expect(await store().detections.candidateSignalIds(unique('cand'))).toEqual([]);
    });

    it('forIncident orders by time then id and maps every field', async () => {
      const candidate = candidateRow();
      await store().detections.insertCandidate(candidate);
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
      await store().detections.insertCandidate(candidate);
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

    it('listCandidates filters by status, orders by last activity and limits', async () => {
      await withFreshStore(init, async (fresh) => {
        const rows = [
          candidateRow({ last_at: T0 + 1, status: 'open' }),
          candidateRow({ last_at: T0 + 4, status: 'promoted', incident_id: 'inc_1' }),
          candidateRow({ last_at: T0 + 3, status: 'expired', open_key: null }),
          candidateRow({ last_at: T0 + 2, status: 'open' }),
        ];
        for (const row of rows) await fresh.detections.insertCandidate(row);
        const ids = async (options?: Parameters<typeof fresh.detections.listCandidates>[0]) =>
          (await fresh.detections.listCandidates(options)).map((candidate) => candidate.id);

        expect(await ids()).toEqual([rows[1]!.id, rows[2]!.id, rows[3]!.id, rows[0]!.id]);
        expect(await ids({ status: 'open' })).toEqual([rows[3]!.id, rows[0]!.id]);
        expect(await ids({ status: 'expired' })).toEqual([rows[2]!.id]);
        expect(await ids({ limit: 2 })).toEqual([rows[1]!.id, rows[2]!.id]);
        expect((await fresh.detections.listCandidates({ status: 'promoted' }))[0]).toMatchObject({
          incidentId: 'inc_1',
          groupValues: { service: 'checkout' },
        });
      });
    });
  });
}
