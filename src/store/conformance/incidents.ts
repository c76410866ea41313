import { beforeAll, describe, expect, it } from 'vitest';
import type { Incident } from '../../domain/incident.js';
import {
  chainEvents,
  type EventDraft,
  eventHash,
  GENESIS_HASH,
  type IncidentListFilter,
  type IncidentRow,
} from '../repositories/incidents.js';
import type { SignalRow } from '../repositories/signals.js';
import { incidentRow, signalRow, T0 } from './fixtures.js';
import { expectUniqueViolation, type StoreFactory, unique, useStore } from './harness.js';

type Link = { incidentId: string; signalId: string };

const byId = (x: { id: string }, y: { id: string }) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0);

/** Links in one order, so that lists from RETURNING (whose order is unspecified) can be compared. */
const sortLinks = (links: readonly Link[]) =>
  [...links].sort((x, y) => x.incidentId.localeCompare(y.incidentId) || x.signalId.localeCompare(y.signalId));

export function incidentSpecs(init: StoreFactory): void {
  describe('incidents', () => {
    const store = useStore(init);

    /** Resolves signals the way ingest does: findFiring, change the state, upsertState. */
    const resolveSignals = async (signals: readonly SignalRow[]) => {
      const found = await store().signals.findFiring(signals.map((signal) => signal.dedup_key));
      await store().signals.upsertState(
        found.map((row) => ({ ...row, status: 'resolved', open_key: null, ends_at: T0 + 1 })),
      );
    };

    /** Links signals to one incident through attachSignalsMany. */
    const attach = (incidentId: string, signalIds: readonly string[], at = T0) =>
      store().incidents.attachSignalsMany(
        signalIds.map((signalId) => ({ incidentId, signalId })),
        at,
      );

    it('alertNames lists each incident’s distinct alert names (label alertname, else title) in onset order', async () => {
      const first = incidentRow();
      const second = incidentRow();
      await store().incidents.insert(first);
      await store().incidents.insert(second);
      const late = signalRow({ starts_at: T0 + 20, labels: JSON.stringify({ alertname: 'HighErrorRate' }) });
      const early = signalRow({
        starts_at: T0 + 10,
        labels: JSON.stringify({ alertname: 'DBConnectionsExhausted' }),
      });
      const repeat = signalRow({
        starts_at: T0 + 30,
        labels: JSON.stringify({ alertname: 'HighErrorRate' }),
      });
      const untitled = signalRow({ starts_at: T0, labels: '{}', title: 'disk nearly full' });
      await store().signals.insertMany([late, early, repeat, untitled]);
      await attach(first.id, [late.id, early.id, repeat.id]);
      await attach(second.id, [untitled.id]);
      const names = await store().incidents.alertNames([first.id, second.id, unique('inc')]);
      expect(names.get(first.id)).toEqual(['DBConnectionsExhausted', 'HighErrorRate']);
      expect(names.get(second.id)).toEqual(['disk nearly full']);
      expect(names.size).toBe(2);
      expect(await store().incidents.alertNames([])).toEqual(new Map());
    });

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

    it('getRows returns each stored row once, ordered by id, and skips unknown ids', async () => {
      const rows = [incidentRow(), incidentRow(), incidentRow()];
      for (const row of rows) await store().incidents.insert(row);
      const [first, , third] = rows;

      const found = await store().incidents.getRows([third!.id, 'inc_unknown', first!.id, third!.id]);
      // Ordered by id so that writers locking several incidents always take the locks in one order.
      expect(found).toEqual([first!, third!].sort(byId));
      expect(await store().incidents.getRows([])).toEqual([]);
    });

    it('getRows with forUpdate reads the rows inside a transaction', async () => {
      const rows = [incidentRow(), incidentRow()];
      for (const row of rows) await store().incidents.insert(row);
      const locked = await store().transaction((scope) =>
        scope.incidents.getRows(
          rows.map((row) => row.id),
          { forUpdate: true },
        ),
      );
      expect(locked).toEqual([...rows].sort(byId));
    });

    it('upsertRows inserts new incidents and rewrites the mutable columns of existing ones in one call', async () => {
      const existing = incidentRow({ rule_id: 'rule_first', started_at: T0 - 1000 });
      await store().incidents.insert(existing);
      const created = incidentRow({ rule_id: 'rule_new', signal_count: 1 });
      const mutable = {
        title: 'checkout and payments are failing',
        severity: 'SEV1',
        status: 'CLOSED',
        services: '["checkout","payments"]',
        active_key: null,
        started_at: T0 - 2000,
        acknowledged_at: T0 + 1,
        mitigated_at: T0 + 2,
        resolved_at: T0 + 3,
        closed_at: T0 + 4,
        signals_resolved_at: T0 + 5,
        root_cause: 'bad deploy',
        resolution: 'rolled back',
        signal_count: 7,
        last_event_seq: 3,
        last_event_hash: 'a'.repeat(64),
        updated_at: T0 + 6,
      } satisfies Partial<IncidentRow>;

      await store().incidents.upsertRows([
        {
          ...existing,
          ...mutable,
          // Fixed when the incident is created: upsertRows must keep the stored values.
          correlation_key: unique('correlation'),
          environment: 'staging',
          rule_id: 'rule_other',
          detected_at: T0 + 999,
          created_at: T0 + 999,
        },
        created,
      ]);
      await store().incidents.upsertRows([]);

      expect(await store().incidents.getRow(existing.id)).toEqual({ ...existing, ...mutable });
      expect(await store().incidents.getRow(created.id)).toEqual(created);
      // Clearing active_key lets go of the correlation key, as update does.
      expect(await store().incidents.findActive([existing.correlation_key])).toEqual([]);
    });

    it('upsertRows writes batches larger than one statement chunk', async () => {
      // 20 stored and 15 new rows, interleaved: 35 cross the 30-row chunk.
      const stored = Array.from({ length: 20 }, () => incidentRow());
      for (const row of stored) await store().incidents.insert(row);
      const fresh = Array.from({ length: 15 }, () => incidentRow());
      const rewritten = stored.map((row, index) => ({
        ...row,
        signal_count: index + 1,
        updated_at: T0 + index,
      }));
      const batch = rewritten.flatMap((row, index) => (fresh[index] ? [row, fresh[index]] : [row]));
      expect(batch).toHaveLength(35);

      await store().incidents.upsertRows(batch);

      const found = await store().incidents.getRows(batch.map((row) => row.id));
      expect(found).toEqual([...rewritten, ...fresh].sort(byId));
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
        rootService: null,
        mergedInto: null,
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

    it('attachSignalsMany creates each new link once and returns only the links it created', async () => {
      const first = incidentRow();
      const second = incidentRow();
      await store().incidents.insert(first);
      await store().incidents.insert(second);
      const [a, b, c] = [unique('sig'), unique('sig'), unique('sig')];
      await attach(first.id, [a], T0 + 20);

      const links = [
        // Stored already: skipped, and its attach time kept.
        { incidentId: first.id, signalId: a },
        { incidentId: first.id, signalId: b },
        // Repeated within the input: one link.
        { incidentId: first.id, signalId: b },
        // The same signal in another incident is a link of its own.
        { incidentId: second.id, signalId: a },
        { incidentId: second.id, signalId: c },
      ];
      const created = await store().incidents.attachSignalsMany(links, T0 + 10);
      expect(sortLinks(created)).toEqual(
        sortLinks([
          { incidentId: first.id, signalId: b },
          { incidentId: second.id, signalId: a },
          { incidentId: second.id, signalId: c },
        ]),
      );

      // Ordered by attach time: b got this call's T0 + 10, a kept the T0 + 20 of its first attach.
      expect(await store().incidents.signalIds(first.id)).toEqual([b, a]);
      expect(await store().incidents.signalIds(second.id)).toEqual([a, c].sort());
      expect(await store().incidents.attachSignalsMany(links, T0 + 30)).toEqual([]);
      expect(await store().incidents.attachSignalsMany([], T0)).toEqual([]);
      expect(await store().incidents.signalIds(unique('inc'))).toEqual([]);
    });

    it('withDependencyJoins names the incidents holding a topology join from a dependency, and no others', async () => {
      const [withDependency, callersOnly, unexplained, split] = [
        incidentRow(),
        incidentRow(),
        incidentRow(),
        incidentRow(),
      ];
      for (const row of [withDependency, callersOnly, unexplained, split])
        await store().incidents.insert(row);
      const topology = (relation: 'caller' | 'dependency' | 'sibling') => ({
        kind: 'topology' as const,
        rule: 'topology',
        relation,
        path: ['"relation":"dependency"', 'db'],
      });
      await store().incidents.attachSignalsMany(
        [
          {
            incidentId: withDependency.id,
            signalId: unique('sig'),
            reason: { kind: 'rule', rule: 'critical' },
          },
          { incidentId: withDependency.id, signalId: unique('sig'), reason: topology('dependency') },
          { incidentId: callersOnly.id, signalId: unique('sig'), reason: topology('caller') },
          { incidentId: callersOnly.id, signalId: unique('sig'), reason: topology('sibling') },
          { incidentId: unexplained.id, signalId: unique('sig') },
          // The words inside a string value are escaped: they do not count.
          {
            incidentId: split.id,
            signalId: unique('sig'),
            reason: {
              kind: 'split',
              from: unique('inc'),
              principal: 'opx',
              reason: '"relation":"dependency"',
            },
          },
        ],
        T0,
      );
      const ids = [withDependency.id, callersOnly.id, unexplained.id, split.id, unique('inc')];
      expect([...(await store().incidents.withDependencyJoins(ids))]).toEqual([withDependency.id]);
      expect(await store().incidents.withDependencyJoins([])).toEqual(new Set());
    });

    it('attachSignalsMany writes batches larger than one statement chunk', async () => {
      const row = incidentRow();
      await store().incidents.insert(row);
      const signalIds = Array.from({ length: 215 }, () => unique('sig'));
      await attach(row.id, signalIds.slice(0, 10));

      // 215 links cross the 200-row chunk; the first 10 are stored already and must not come back.
      const created = await store().incidents.attachSignalsMany(
        signalIds.map((signalId) => ({ incidentId: row.id, signalId })),
        T0 + 1,
      );
      expect(created.map((link) => link.signalId).sort()).toEqual(signalIds.slice(10).sort());
      expect((await store().incidents.signalIds(row.id)).sort()).toEqual([...signalIds].sort());
    });

    it('addServicesMany is idempotent and feeds the service filter of list', async () => {
      const first = incidentRow();
      const second = incidentRow();
      await store().incidents.insert(first);
      await store().incidents.insert(second);
      const [shared, onlySecond] = [unique('svc'), unique('svc')];
      await store().incidents.addServicesMany([{ incidentId: first.id, service: shared }]);

      await store().incidents.addServicesMany([
        // Stored already: no conflict error.
        { incidentId: first.id, service: shared },
        { incidentId: second.id, service: shared },
        { incidentId: second.id, service: shared },
        { incidentId: second.id, service: onlySecond },
      ]);
      await store().incidents.addServicesMany([{ incidentId: second.id, service: onlySecond }]);
      await store().incidents.addServicesMany([]);

      const ids = async (service: string) =>
        (await store().incidents.list({ service, limit: 10 })).map((incident) => incident.id);
      // Both detected at T0: list breaks the tie by id, descending.
      expect(await ids(shared)).toEqual([first.id, second.id].sort().reverse());
      expect(await ids(onlySecond)).toEqual([second.id]);
    });

    it('pastIncidents lists the newest incidents on the services that were over by the time, once each', async () => {
      const [service, other] = [unique('svc'), unique('svc')];
      const asOf = T0 + 100_000;
      const row = (detected: number, status: string, resolved: number | null, title: string) =>
        incidentRow({
          detected_at: detected,
          status,
          resolved_at: resolved,
          title,
          root_cause: `${title} cause`,
          resolution: `${title} fix`,
          severity: 'SEV3',
          services: JSON.stringify([service, other]),
          signal_count: 4,
        });
      const older = row(T0, 'CLOSED', T0 + 10_000, 'older');
      const newer = row(T0 + 20_000, 'RESOLVED', T0 + 30_000, 'newer');
      const excluded = row(T0 + 25_000, 'RESOLVED', T0 + 26_000, 'excluded');
      const stillOpen = row(T0 + 30_000, 'OPEN', null, 'open');
      const resolvedLater = row(T0 + 40_000, 'RESOLVED', asOf + 1, 'resolved later');
      const detectedLater = row(asOf, 'RESOLVED', asOf, 'detected at asOf');
      const elsewhere = row(T0 + 50_000, 'RESOLVED', T0 + 60_000, 'elsewhere');
      const all = [older, newer, excluded, stillOpen, resolvedLater, detectedLater, elsewhere];
      for (const item of all) await store().incidents.insert(item);
      await store().incidents.addServicesMany(
        all
          .filter((item) => item !== elsewhere)
          .flatMap((item) => [
            { incidentId: item.id, service },
            { incidentId: item.id, service: other },
          ]),
      );
      await store().incidents.addServicesMany([{ incidentId: elsewhere.id, service: unique('svc') }]);

      const past = await store().incidents.pastIncidents({
        services: [service, other],
        asOf,
        excludeId: excluded.id,
        limit: 10,
      });
      expect(past).toEqual([
        {
          id: newer.id,
          title: 'newer',
          severity: 'SEV3',
          services: [service, other],
          detectedAt: T0 + 20_000,
          resolvedAt: T0 + 30_000,
          rootCause: 'newer cause',
          resolution: 'newer fix',
          signalCount: 4,
        },
        expect.objectContaining({ id: older.id, resolvedAt: T0 + 10_000 }),
      ]);
      const limited = await store().incidents.pastIncidents({
        services: [other],
        asOf,
        excludeId: unique('inc'),
        limit: 2,
      });
      expect(limited.map((incident) => incident.id)).toEqual([excluded.id, newer.id]);
      expect(await store().incidents.pastIncidents({ services: [], asOf, excludeId: '', limit: 5 })).toEqual(
        [],
      );
    });

    it('addServicesMany writes batches larger than one statement chunk', async () => {
      const row = incidentRow();
      await store().incidents.insert(row);
      // 305 links cross the 300-row chunk.
      const services = Array.from({ length: 305 }, () => unique('svc'));
      await store().incidents.addServicesMany(services.map((service) => ({ incidentId: row.id, service })));

      const stored = await store()
        .db.selectFrom('incident_services')
        .select('service')
        .where('incident_id', '=', row.id)
        .execute();
      expect(stored.map((link) => link.service).sort()).toEqual([...services].sort());
    });

    it('activeIncidentsForSignals pairs signals with the active incidents holding them', async () => {
      const open = incidentRow();
      // Every status before RESOLVED is active, not only OPEN.
      const mitigated = incidentRow({ status: 'MITIGATED', mitigated_at: T0 + 1 });
      const resolved = incidentRow({ status: 'RESOLVED', resolved_at: T0 + 1 });
      const closed = incidentRow({ status: 'CLOSED', resolved_at: T0 + 1, closed_at: T0 + 2 });
      for (const row of [open, mitigated, resolved, closed]) await store().incidents.insert(row);
      const [shared, onlyOpen, onlyInactive, unattached] = [
        unique('sig'),
        unique('sig'),
        unique('sig'),
        unique('sig'),
      ];
      await attach(open.id, [shared, onlyOpen]);
      await attach(mitigated.id, [shared]);
      await attach(resolved.id, [shared, onlyInactive]);
      await attach(closed.id, [onlyInactive]);

      const pairs = await store().incidents.activeIncidentsForSignals([
        shared,
        onlyOpen,
        onlyInactive,
        unattached,
      ]);
      expect(sortLinks(pairs)).toEqual(
        sortLinks([
          { incidentId: open.id, signalId: shared },
          { incidentId: mitigated.id, signalId: shared },
          { incidentId: open.id, signalId: onlyOpen },
        ]),
      );
      expect(await store().incidents.activeIncidentsForSignals([])).toEqual([]);
    });

    it('withFiringSignals names the given incidents that still hold a firing signal', async () => {
      const mixed = incidentRow();
      const allResolved = incidentRow();
      const empty = incidentRow();
      for (const row of [mixed, allResolved, empty]) await store().incidents.insert(row);
      const firing = signalRow();
      const resolved = signalRow({ status: 'resolved' });
      const resolvedElsewhere = signalRow({ status: 'resolved' });
      // Firing but attached to no incident: it must not count for anyone.
      const unattached = signalRow();
      await store().signals.insertMany([firing, resolved, resolvedElsewhere, unattached]);
      await attach(mixed.id, [firing.id, resolved.id]);
      await attach(allResolved.id, [resolvedElsewhere.id]);

      const ids = [mixed.id, allResolved.id, empty.id, mixed.id, unique('inc')];
      expect(await store().incidents.withFiringSignals(ids)).toEqual(new Set([mixed.id]));
      await resolveSignals([firing]);
      expect(await store().incidents.withFiringSignals(ids)).toEqual(new Set());
      expect(await store().incidents.withFiringSignals([])).toEqual(new Set());
    });

    it('withFiringSignals keeps an incident while any of its signals still fires', async () => {
      const row = incidentRow();
      await store().incidents.insert(row);
      const firing = [signalRow(), signalRow()];
      await store().signals.insertMany(firing);
      await attach(
        row.id,
        firing.map((signal) => signal.id),
      );

      await resolveSignals([firing[0]!]);
      expect(await store().incidents.withFiringSignals([row.id])).toEqual(new Set([row.id]));
      await resolveSignals([firing[1]!]);
      expect(await store().incidents.withFiringSignals([row.id])).toEqual(new Set());
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

    it('insertEvents stores the chains of several incidents in one call', async () => {
      const first = incidentRow();
      const second = incidentRow();
      await store().incidents.insert(first);
      await store().incidents.insert(second);
      const firstChain = chainEvents(first, [
        { type: 'created', principal: 'system', at: T0, data: { severity: 'SEV2' } },
        { type: 'note_added', principal: 'alice', at: T0 + 1 },
      ]);
      const secondChain = chainEvents(second, [{ type: 'created', principal: 'system', at: T0 + 2 }]);

      await store().incidents.insertEvents([...firstChain.events, ...secondChain.events]);
      await store().incidents.insertEvents([]);

      expect(await store().incidents.events(first.id)).toEqual(firstChain.events);
      expect(await store().incidents.events(second.id)).toEqual(secondChain.events);
      // The same chain position twice is a unique violation, whichever call writes it.
      await expectUniqueViolation(
        store().incidents.insertEvents(
          chainEvents(first, [{ type: 'note_added', principal: 'mallory', at: T0 + 3 }]).events,
        ),
      );
      expect(await store().incidents.events(first.id)).toHaveLength(2);
    });

    it('chainEvents continues the chain from the incident’s last event without writing anything', async () => {
      const incident = { id: unique('inc'), last_event_seq: 7, last_event_hash: 'f'.repeat(64) };
      const chain = chainEvents(incident, [
        { type: 'status_changed', principal: 'bob', at: T0, data: { from: 'OPEN', to: 'ACKNOWLEDGED' } },
        { type: 'note_added', principal: 'alice', at: T0 + 1 },
      ]);

      expect(chain.events).toEqual([
        {
          id: expect.stringMatching(/^evt_/),
          incidentId: incident.id,
          seq: 8,
          type: 'status_changed',
          principal: 'bob',
          at: T0,
          data: { from: 'OPEN', to: 'ACKNOWLEDGED' },
          prevHash: 'f'.repeat(64),
          hash: chain.events[0]!.hash,
        },
        {
          id: expect.stringMatching(/^evt_/),
          incidentId: incident.id,
          seq: 9,
          type: 'note_added',
          principal: 'alice',
          at: T0 + 1,
          data: {},
          prevHash: chain.events[0]!.hash,
          hash: chain.lastHash,
        },
      ]);
      for (const { hash, ...rest } of chain.events) expect(hash).toBe(eventHash(rest));
      expect(chain.lastSeq).toBe(9);
      expect(new Set(chain.events.map((event) => event.id)).size).toBe(2);
      // Pure: the caller writes the new position back itself, so the input must stay as it was.
      expect(incident).toEqual({ id: incident.id, last_event_seq: 7, last_event_hash: 'f'.repeat(64) });
      expect(await store().incidents.events(incident.id)).toEqual([]);
      expect(chainEvents(incident, [])).toEqual({ lastSeq: 7, lastHash: 'f'.repeat(64), events: [] });
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
          await listStore().incidents.addServicesMany(
            services[index]!.map((service) => ({ incidentId: row.id, service })),
          );
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

      it('filters by text in a note as well, read as the note was written', async () => {
        const noted = rows[2]!;
        const current = (await listStore().incidents.getRow(noted.id))!;
        await listStore().incidents.appendEvents(current, [
          { type: 'note_added', principal: 'alice', at: T0 + 10, data: { text: 'Paged the Pool owner' } },
        ]);
        expect(await ids({ text: 'pool OWNER', limit: 10 })).toEqual([noted.id]);
        // A note's words, the other filters still apply; and a word in no note matches nothing.
        expect(await ids({ text: 'pool', status: ['OPEN'], limit: 10 })).toEqual([]);
        expect(await ids({ text: 'pool', service: 'db', limit: 10 })).toEqual([noted.id]);
        expect(await ids({ text: 'paged the pilot', limit: 10 })).toEqual([]);
        // The title still matches every row, the note's incident among them once.
        expect(await ids({ text: 'checkout', limit: 10 })).toEqual(expectedOrder(rows));
      });

      it('filters by text in the title or a service, ignoring case, with LIKE wildcards taken literally', async () => {
        // Every row is titled "checkout is failing"; the services differ.
        expect(await ids({ text: 'CHECKOUT Is', limit: 10 })).toEqual(expectedOrder(rows));
        expect(await ids({ text: 'DB', limit: 10 })).toEqual(expectedOrder([rows[1]!, rows[2]!]));
        expect(await ids({ text: 'we', limit: 10 })).toEqual([rows[3]!.id]);
        expect(await ids({ text: 'is fail', status: ['OPEN'], limit: 10 })).toEqual(
          expectedOrder([rows[0]!, rows[4]!]),
        );
        expect(await ids({ text: 'is fail', service: 'web', limit: 10 })).toEqual([rows[3]!.id]);
        for (const literal of ['check_ut', 'check%failing', 'checkout\\', '%', '_'])
          expect(await ids({ text: literal, limit: 10 }), literal).toEqual([]);
        expect(await ids({ text: '   ', limit: 10 })).toEqual(expectedOrder(rows));
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
