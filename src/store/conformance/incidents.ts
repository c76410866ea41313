import { beforeAll, describe, expect, it } from 'vitest';
import type { Incident } from '../../domain/incident.js';
import { type EventDraft, eventHash, GENESIS_HASH, type IncidentListFilter } from '../index.js';
import type { IncidentRow } from '../repositories/incidents.js';
import { incidentRow, signalRow, T0 } from './fixtures.js';
import { expectUniqueViolation, type StoreFactory, unique, useStore } from './harness.js';

export function incidentSpecs(init: StoreFactory): void {
  describe('incidents', () => {
    const store = useStore(init);

    it('insert and getRow round-trip the stored row', async () => {
      const row = incidentRow({
        services: '["checkout","payments"]',
        rule_id: 'rule_1',
        started_at: T0 - 5000,
        acknowledged_at: T0 + 1,
        mitigated_at: T0 + 2,
        root_cause: 'bad deploy',
        resolution: 'rolled back',
        signal_count: 2,
        updated_at: T0 + 3,
      });
      await store().incidents.insert(row);
      expect(await store().incidents.getRow(row.id)).toEqual(row);
      expect(await store().incidents.getRow('inc_unknown')).toBeUndefined();
    });

    it('getRow with forUpdate reads the row inside a transaction', async () => {
      const row = incidentRow();
      await store().incidents.insert(row);
      const locked = await store().transaction((scope) =>
        scope.incidents.getRow(row.id, { forUpdate: true }),
      );
      expect(locked).toEqual(row);
    });

    it('get maps the row to an incident', async () => {
      const row = incidentRow({ services: '["checkout","payments"]', environment: null, signal_count: 4 });
      await store().incidents.insert(row);
      expect(await store().incidents.get(row.id)).toEqual({
        id: row.id,
        title: 'checkout is failing',
        severity: 'SEV2',
        status: 'OPEN',
        services: ['checkout', 'payments'],
        environment: null,
        correlationKey: row.correlation_key,
        ruleId: null,
        startedAt: T0,
        detectedAt: T0,
        acknowledgedAt: null,
        mitigatedAt: null,
        resolvedAt: null,
        closedAt: null,
        signalsResolvedAt: null,
        rootCause: null,
        resolution: null,
        signalCount: 4,
        updatedAt: T0,
      } satisfies Incident);
      expect(await store().incidents.get('inc_unknown')).toBeUndefined();
    });

    it('findActive returns active incidents by key and skips inactive ones', async () => {
      const active = incidentRow();
      const otherActive = incidentRow();
      const resolved = incidentRow({ status: 'RESOLVED', resolved_at: T0 + 1 });
      for (const row of [active, otherActive, resolved]) await store().incidents.insert(row);

      const found = await store().incidents.findActive([
        active.correlation_key,
        otherActive.correlation_key,
        resolved.correlation_key,
        unique('none'),
      ]);
      expect(found.map((row) => row.id).sort()).toEqual([active.id, otherActive.id].sort());
      expect(found.find((row) => row.id === active.id)).toEqual(active);
      expect(await store().incidents.findActive([])).toEqual([]);
    });

    it('a second active incident with the same key is a unique violation until the first lets go', async () => {
      const first = incidentRow();
      await store().incidents.insert(first);
      await expectUniqueViolation(
        store().incidents.insert(incidentRow({ correlation_key: first.correlation_key })),
      );

      await store().incidents.update(first.id, { status: 'RESOLVED', active_key: null, resolved_at: T0 + 1 });
      const second = incidentRow({ correlation_key: first.correlation_key, detected_at: T0 + 2 });
      await store().incidents.insert(second);
      const found = await store().incidents.findActive([first.correlation_key]);
      expect(found.map((row) => row.id)).toEqual([second.id]);
    });

    it('findRecentlyResolved returns the latest RESOLVED incident for the key within the grace window', async () => {
      const key = unique('correlation');
      const older = incidentRow({ correlation_key: key, status: 'RESOLVED', resolved_at: T0 + 10 });
      const newer = incidentRow({ correlation_key: key, status: 'RESOLVED', resolved_at: T0 + 20 });
      // Closed is final: it must never be picked for a re-open, however recent.
      const closed = incidentRow({
        correlation_key: key,
        status: 'CLOSED',
        resolved_at: T0 + 30,
        closed_at: T0 + 31,
      });
      const otherKey = incidentRow({ status: 'RESOLVED', resolved_at: T0 + 40 });
      for (const row of [older, newer, closed, otherKey]) await store().incidents.insert(row);

      expect((await store().incidents.findRecentlyResolved(key, T0))?.id).toBe(newer.id);
      expect(await store().incidents.findRecentlyResolved(key, T0 + 20)).toEqual(newer);
      expect(await store().incidents.findRecentlyResolved(key, T0 + 21)).toBeUndefined();
      expect(await store().incidents.findRecentlyResolved(unique('none'), 0)).toBeUndefined();
    });

    it('update changes only the given columns', async () => {
      const row = incidentRow();
      await store().incidents.insert(row);
      await store().incidents.update(row.id, {
        status: 'ACKNOWLEDGED',
        acknowledged_at: T0 + 100,
        severity: 'SEV1',
        services: '["checkout","db"]',
        updated_at: T0 + 100,
      });
      expect(await store().incidents.getRow(row.id)).toEqual({
        ...row,
        status: 'ACKNOWLEDGED',
        acknowledged_at: T0 + 100,
        severity: 'SEV1',
        services: '["checkout","db"]',
        updated_at: T0 + 100,
      });
    });

    it('attachSignals returns only newly attached ids and is idempotent', async () => {
      const row = incidentRow();
      await store().incidents.insert(row);
      const [a, b, c] = [unique('sig'), unique('sig'), unique('sig')];

      expect(await store().incidents.attachSignals(row.id, [a, b, a], T0 + 10)).toEqual([a, b]);
      expect(await store().incidents.attachSignals(row.id, [b, c], T0 + 5)).toEqual([c]);
      expect(await store().incidents.attachSignals(row.id, [a, b, c], T0 + 20)).toEqual([]);
      expect(await store().incidents.attachSignals(row.id, [], T0 + 20)).toEqual([]);
      // Ordered by attach time, then id.
      expect(await store().incidents.signalIds(row.id)).toEqual([c, ...[a, b].sort()]);
      expect(await store().incidents.signalIds(unique('inc'))).toEqual([]);
    });

    it('a signal may belong to several incidents', async () => {
      const first = incidentRow();
      const second = incidentRow();
      await store().incidents.insert(first);
      await store().incidents.insert(second);
      const signalId = unique('sig');
      expect(await store().incidents.attachSignals(first.id, [signalId], T0)).toEqual([signalId]);
      expect(await store().incidents.attachSignals(second.id, [signalId], T0)).toEqual([signalId]);
    });

    it('addServices is idempotent and feeds the service filter of list', async () => {
      const row = incidentRow();
      await store().incidents.insert(row);
      const service = unique('svc');
      await store().incidents.addServices(row.id, [service, service, 'checkout']);
      await store().incidents.addServices(row.id, [service]);
      await store().incidents.addServices(row.id, []);

      const listed = await store().incidents.list({ service, limit: 10 });
      expect(listed.map((incident) => incident.id)).toEqual([row.id]);
    });

    it('activeIncidentsForSignals pairs signals with the active incidents holding them', async () => {
      const active = incidentRow();
      const resolved = incidentRow({ status: 'RESOLVED', resolved_at: T0 + 1 });
      await store().incidents.insert(active);
      await store().incidents.insert(resolved);
      const [shared, onlyActive, onlyResolved] = [unique('sig'), unique('sig'), unique('sig')];
      await store().incidents.attachSignals(active.id, [shared, onlyActive], T0);
      await store().incidents.attachSignals(resolved.id, [shared, onlyResolved], T0);

      const pairs = await store().incidents.activeIncidentsForSignals([shared, onlyActive, onlyResolved]);
      expect(pairs.sort((x, y) => x.signalId.localeCompare(y.signalId))).toEqual(
        [
          { incidentId: active.id, signalId: shared },
          { incidentId: active.id, signalId: onlyActive },
        ].sort((x, y) => x.signalId.localeCompare(y.signalId)),
      );
      expect(await store().incidents.activeIncidentsForSignals([])).toEqual([]);
    });

    it('firingSignalCount counts the attached signals still firing', async () => {
      const row = incidentRow();
      await store().incidents.insert(row);
      const firing = [signalRow(), signalRow()];
      const resolved = signalRow({ status: 'resolved' });
      const unattached = signalRow();
      await store().signals.insertMany([...firing, resolved, unattached]);
      await store().incidents.attachSignals(
        row.id,
        [...firing, resolved].map((signal) => signal.id),
        T0,
      );

      expect(await store().incidents.firingSignalCount(row.id)).toBe(2);
      await store().signals.markResolved(firing[0]!.id, T0 + 1, T0 + 1);
      expect(await store().incidents.firingSignalCount(row.id)).toBe(1);
      expect(await store().incidents.firingSignalCount(unique('inc'))).toBe(0);
    });

    it('appendEvents builds one hash chain across calls, and events reads it back', async () => {
      const row = incidentRow();
      await store().incidents.insert(row);
      const drafts: EventDraft[] = [
        {
          type: 'created',
          principal: 'system',
          at: T0,
          data: { severity: 'SEV2', nested: { list: [1, 2] } },
        },
        { type: 'note_added', principal: 'alice', at: T0 + 1 },
      ];
      const first = await store().incidents.appendEvents(row, drafts);

      expect(first.events.map((event) => event.seq)).toEqual([1, 2]);
      expect(first.events.map((event) => event.prevHash)).toEqual([GENESIS_HASH, first.events[0]!.hash]);
      expect(first.events[1]!.data).toEqual({});
      for (const { hash, ...rest } of first.events) expect(hash).toBe(eventHash(rest));
      expect(first.lastSeq).toBe(2);
      expect(first.lastHash).toBe(first.events[1]!.hash);

      const second = await store().incidents.appendEvents(
        { id: row.id, last_event_seq: first.lastSeq, last_event_hash: first.lastHash },
        [
          {
            type: 'status_changed',
            principal: 'bob',
            at: T0 + 2,
            data: { from: 'OPEN', to: 'ACKNOWLEDGED' },
          },
        ],
      );
      expect(second.events).toEqual([
        {
          id: expect.stringMatching(/^evt_/),
          incidentId: row.id,
          seq: 3,
          type: 'status_changed',
          principal: 'bob',
          at: T0 + 2,
          data: { from: 'OPEN', to: 'ACKNOWLEDGED' },
          prevHash: first.lastHash,
          hash: second.lastHash,
        },
      ]);
      for (const { hash, ...rest } of second.events) expect(hash).toBe(eventHash(rest));

      expect(await store().incidents.events(row.id)).toEqual([...first.events, ...second.events]);
    });

    it('appendEvents of nothing keeps the chain position', async () => {
      const row = incidentRow();
      await store().incidents.insert(row);
      expect(await store().incidents.appendEvents(row, [])).toEqual({
        lastSeq: 0,
        lastHash: GENESIS_HASH,
        events: [],
      });
      expect(await store().incidents.events(row.id)).toEqual([]);
    });

    it('appendEvents writes batches larger than one insert chunk', async () => {
      const row = incidentRow();
      await store().incidents.insert(row);
      const drafts = Array.from(
        { length: 120 },
        (_, index): EventDraft => ({
          type: 'note_added',
          principal: 'alice',
          at: T0 + index,
          data: { index },
        }),
      );
      const appended = await store().incidents.appendEvents(row, drafts);
      const stored = await store().incidents.events(row.id);
      expect(stored).toEqual(appended.events);
      expect(stored.map((event) => event.seq)).toEqual(drafts.map((_, index) => index + 1));
      stored.forEach((event, index) => {
        expect(event.prevHash).toBe(index === 0 ? GENESIS_HASH : stored[index - 1]!.hash);
      });
    });

    it('appending from a stale position is a unique violation on (incident, seq)', async () => {
      const row = incidentRow();
      await store().incidents.insert(row);
      await store().incidents.appendEvents(row, [{ type: 'created', principal: 'system', at: T0 }]);
      // `row` still says last_event_seq 0: a writer that skipped the row lock would do exactly this.
      await expectUniqueViolation(
        store().incidents.appendEvents(row, [{ type: 'note_added', principal: 'mallory', at: T0 + 1 }]),
      );
      expect(await store().incidents.events(row.id)).toHaveLength(1);
    });

    it('events pages with afterSeq and limit and keeps incidents apart', async () => {
      const row = incidentRow();
      const other = incidentRow();
      await store().incidents.insert(row);
      await store().incidents.insert(other);
      await store().incidents.appendEvents(other, [{ type: 'created', principal: 'system', at: T0 }]);
      const drafts = Array.from(
        { length: 5 },
        (_, index): EventDraft => ({ type: 'note_added', principal: 'alice', at: T0 + index }),
      );
      await store().incidents.appendEvents(row, drafts);
      const seqs = async (options?: { afterSeq?: number; limit?: number }) =>
        (await store().incidents.events(row.id, options)).map((event) => event.seq);

      expect(await seqs()).toEqual([1, 2, 3, 4, 5]);
      expect(await seqs({ afterSeq: 3 })).toEqual([4, 5]);
      expect(await seqs({ limit: 2 })).toEqual([1, 2]);
      expect(await seqs({ afterSeq: 1, limit: 2 })).toEqual([2, 3]);
      expect(await seqs({ afterSeq: 5 })).toEqual([]);
      expect(await store().incidents.events(unique('inc'))).toEqual([]);
    });

    it('count counts every incident, whatever its status', async () => {
      const before = await store().incidents.count();
      await store().incidents.insert(incidentRow());
      await store().incidents.insert(incidentRow({ status: 'CLOSED', closed_at: T0 }));
      expect(await store().incidents.count()).toBe(before + 2);
    });

    describe('list', () => {
      const listStore = useStore(init);
      let rows: IncidentRow[] = [];

      const ids = async (filter: IncidentListFilter) =>
        (await listStore().incidents.list(filter)).map((incident) => incident.id);

      /** Newest first, ties broken by id descending: the order every page must follow. */
      const expectedOrder = (subset: IncidentRow[]) =>
        [...subset]
          .sort((x, y) => y.detected_at - x.detected_at || (x.id < y.id ? 1 : x.id > y.id ? -1 : 0))
          .map((row) => row.id);

      beforeAll(async () => {
        // Three share a detected_at so that a page boundary falls inside the tie.
        rows = [
          incidentRow({ detected_at: T0 + 1000, status: 'OPEN', severity: 'SEV1' }),
          incidentRow({ detected_at: T0 + 2000, status: 'RESOLVED', severity: 'SEV2', resolved_at: T0 + 5 }),
          incidentRow({ detected_at: T0 + 2000, status: 'ACKNOWLEDGED', severity: 'SEV3' }),
          incidentRow({ detected_at: T0 + 2000, status: 'CLOSED', severity: 'SEV2', closed_at: T0 + 6 }),
          incidentRow({ detected_at: T0 + 3000, status: 'OPEN', severity: 'SEV4' }),
        ];
        const services = [['api'], ['db'], ['api', 'db'], ['web'], ['api']];
        for (const [index, row] of rows.entries()) {
          await listStore().incidents.insert(row);
          await listStore().incidents.addServices(row.id, services[index]!);
        }
      });

      it('walks cursor pages newest first without duplicates or gaps', async () => {
        const walked: string[] = [];
        const pages: number[] = [];
        let cursor: IncidentListFilter['cursor'];
        for (let guard = 0; guard < 10; guard += 1) {
          const page = await listStore().incidents.list({ limit: 2, ...(cursor ? { cursor } : {}) });
          if (page.length === 0) break;
          pages.push(page.length);
          walked.push(...page.map((incident) => incident.id));
          const last = page.at(-1)!;
          cursor = { detectedAt: last.detectedAt, id: last.id };
        }
        expect(pages).toEqual([2, 2, 1]);
        expect(new Set(walked).size).toBe(walked.length);
        expect(walked).toEqual(expectedOrder(rows));
      });

      it('filters by status and severity lists', async () => {
        expect(await ids({ status: ['OPEN'], limit: 10 })).toEqual(expectedOrder([rows[0]!, rows[4]!]));
        expect(await ids({ status: ['RESOLVED', 'CLOSED'], limit: 10 })).toEqual(
          expectedOrder([rows[1]!, rows[3]!]),
        );
        expect(await ids({ severity: ['SEV2'], limit: 10 })).toEqual(expectedOrder([rows[1]!, rows[3]!]));
        expect(await ids({ status: ['OPEN'], severity: ['SEV1', 'SEV2'], limit: 10 })).toEqual([rows[0]!.id]);
        expect(await ids({ status: ['MITIGATED'], limit: 10 })).toEqual([]);
      });

      it('filters by service without repeating an incident', async () => {
        expect(await ids({ service: 'api', limit: 10 })).toEqual(
          expectedOrder([rows[0]!, rows[2]!, rows[4]!]),
        );
        expect(await ids({ service: 'db', limit: 10 })).toEqual(expectedOrder([rows[1]!, rows[2]!]));
        expect(await ids({ service: 'nowhere', limit: 10 })).toEqual([]);
      });

      it('filters by a detected-at window, since inclusive and until exclusive', async () => {
        expect(await ids({ since: T0 + 2000, limit: 10 })).toEqual(expectedOrder(rows.slice(1)));
        expect(await ids({ until: T0 + 2000, limit: 10 })).toEqual([rows[0]!.id]);
        expect(await ids({ since: T0 + 2000, until: T0 + 3000, limit: 10 })).toEqual(
          expectedOrder(rows.slice(1, 4)),
        );
      });

      it('combines a filter with the cursor', async () => {
        const walked: string[] = [];
        let cursor: IncidentListFilter['cursor'];
        for (let guard = 0; guard < 10; guard += 1) {
          const page = await listStore().incidents.list({
            service: 'api',
            limit: 1,
            ...(cursor ? { cursor } : {}),
          });
          if (page.length === 0) break;
          walked.push(page[0]!.id);
          cursor = { detectedAt: page[0]!.detectedAt, id: page[0]!.id };
        }
        expect(walked).toEqual(expectedOrder([rows[0]!, rows[2]!, rows[4]!]));
      });
    });
  });
}
