import { describe, expect, it } from 'vitest';
import type { Signal } from '../../domain/signal.js';
import type { SignalFilter, SignalRow } from '../repositories/signals.js';
import { signalRow, T0 } from './fixtures.js';
import { expectUniqueViolation, type StoreFactory, unique, useStore } from './harness.js';

export function signalSpecs(init: StoreFactory): void {
  describe('signals', () => {
    const store = useStore(init);

    /** The stored row, raw included: `get` maps to the domain signal, which has no raw. */
    const storedRow = (id: string) =>
      store().db.selectFrom('signals').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

    it('insertMany writes every row when the batch spans several insert chunks', async () => {
      const service = unique('svc');
      const before = await store().signals.count();
      // 45 rows cross the 40-row chunk; later rows start earlier so getMany has to sort.
      const rows = Array.from({ length: 45 }, (_, index) =>
        signalRow({ service, starts_at: T0 + (45 - index) * 1000, received_at: T0 + index }),
      );
      await store().signals.insertMany(rows);

      expect(await store().signals.count()).toBe(before + 45);
      const fetched = await store().signals.getMany(rows.map((row) => row.id));
      expect(fetched.map((signal) => signal.id)).toEqual([...rows].reverse().map((row) => row.id));
      expect(await store().signals.list({ service })).toHaveLength(45);
    });

    it('insertMany of nothing writes nothing', async () => {
      const before = await store().signals.count();
      await store().signals.insertMany([]);
      expect(await store().signals.count()).toBe(before);
    });

    it('get round-trips every field, JSON columns and nullable columns included', async () => {
      const row = signalRow({
        source: 'cloudwatch',
        fingerprint: 'fp-1',
        severity: 'critical',
        region: 'eu-west-1',
        description: 'latency "quoted" and unicode ✓',
        labels: JSON.stringify({ route: '/pay', team: 'payments' }),
        annotations: JSON.stringify({ runbook: 'https://runbooks/pay' }),
        metric: JSON.stringify({
          name: 'Latency',
          namespace: 'AWS/ELB',
          value: 2.5,
          threshold: 2,
          datapoints: [{ at: T0, value: 2.5 }],
        }),
        links: JSON.stringify([{ href: 'https://grafana/d/1', text: 'dashboard' }]),
        ends_at: T0 + 60_000,
        received_at: T0 + 1,
        last_seen_at: T0 + 2,
        occurrences: 3,
        acknowledged_at: T0 + 3,
        suppressed_by: 'sil_1',
        raw: '{"original":true}',
      });
      await store().signals.insertMany([row]);

      expect(await store().signals.get(row.id)).toEqual({
        id: row.id,
        source: 'cloudwatch',
        fingerprint: 'fp-1',
        status: 'firing',
        severity: 'critical',
        service: 'checkout',
        environment: 'production',
        region: 'eu-west-1',
        title: 'p99 latency above 2s',
        description: 'latency "quoted" and unicode ✓',
        labels: { route: '/pay', team: 'payments' },
        annotations: { runbook: 'https://runbooks/pay' },
        metric: {
          name: 'Latency',
          namespace: 'AWS/ELB',
          value: 2.5,
          threshold: 2,
          datapoints: [{ at: T0, value: 2.5 }],
        },
        links: [{ href: 'https://grafana/d/1', text: 'dashboard' }],
        startsAt: T0,
        endsAt: T0 + 60_000,
        receivedAt: T0 + 1,
        lastSeenAt: T0 + 2,
        occurrences: 3,
        acknowledgedAt: T0 + 3,
        suppressedBy: 'sil_1',
      } satisfies Signal);
    });

    it('get maps NULL columns to null and empty JSON to empty values', async () => {
      const row = signalRow();
      await store().signals.insertMany([row]);
      expect(await store().signals.get(row.id)).toMatchObject({
        region: null,
        description: null,
        metric: null,
        labels: {},
        annotations: {},
        links: [],
        endsAt: null,
        acknowledgedAt: null,
        suppressedBy: null,
      });
    });

    it('get and getMany ignore unknown ids', async () => {
      const row = signalRow();
      await store().signals.insertMany([row]);
      expect(await store().signals.get('sig_unknown')).toBeUndefined();
      expect(await store().signals.getMany([])).toEqual([]);
      const fetched = await store().signals.getMany(['sig_unknown', row.id]);
      expect(fetched.map((signal) => signal.id)).toEqual([row.id]);
    });

    it('getMany sorts by startsAt, then id', async () => {
      const late = signalRow({ starts_at: T0 + 2000 });
      const tieA = signalRow({ starts_at: T0 + 1000 });
      const tieB = signalRow({ starts_at: T0 + 1000 });
      const early = signalRow({ starts_at: T0 });
      await store().signals.insertMany([late, tieB, early, tieA]);
      const ties = [tieA.id, tieB.id].sort();
      const fetched = await store().signals.getMany([tieB.id, late.id, tieA.id, early.id]);
      expect(fetched.map((signal) => signal.id)).toEqual([early.id, ...ties, late.id]);
    });

    it('findFiring returns only firing rows whose open key matches, without raw', async () => {
      const firing = signalRow({ raw: '{"original":true}' });
      // An earlier firing of the same alert, since resolved: same dedup key, no open key.
      const resolvedEarlier = signalRow({
        dedup_key: firing.dedup_key,
        status: 'resolved',
        starts_at: T0 - 60_000,
        ends_at: T0 - 30_000,
      });
      const otherFiring = signalRow({ raw: '{"other":true}' });
      const resolvedOnly = signalRow({ status: 'resolved' });
      await store().signals.insertMany([firing, resolvedEarlier, otherFiring, resolvedOnly]);

      const found = await store().signals.findFiring([
        firing.dedup_key,
        otherFiring.dedup_key,
        resolvedOnly.dedup_key,
        unique('never-seen'),
      ]);
      expect(found.map((row) => row.id).sort()).toEqual([firing.id, otherFiring.id].sort());
      // Every other column comes back as stored: callers copy them into upsertState. `raw` is left out
      // because it is the largest column and no update needs it.
      expect(found.find((row) => row.id === firing.id)).toEqual({ ...firing, raw: null });
      expect(found.find((row) => row.id === otherFiring.id)).toEqual({ ...otherFiring, raw: null });
      // Leaving raw out of the read must not lose it from the table.
      expect((await storedRow(firing.id)).raw).toBe('{"original":true}');
      expect(await store().signals.findFiring([])).toEqual([]);
    });

    it('findResolved matches resolved rows on dedup key and start time together, without raw', async () => {
      const key = unique('dedup');
      const otherKey = unique('dedup');
      const wanted = signalRow({
        dedup_key: key,
        status: 'resolved',
        starts_at: T0,
        ends_at: T0 + 10,
        raw: '{"resolved":true}',
      });
      const otherWanted = signalRow({ dedup_key: otherKey, status: 'resolved', starts_at: T0 + 1000 });
      // Each pairs a requested key with a start time requested for the other key: a query that matched
      // keys and start times independently would return them.
      const crossedKey = signalRow({ dedup_key: key, status: 'resolved', starts_at: T0 + 1000 });
      const crossedOther = signalRow({ dedup_key: otherKey, status: 'resolved', starts_at: T0 });
      // Still firing: a re-sent resolve must never pick it.
      const firing = signalRow({ dedup_key: key, starts_at: T0 + 2000 });
      await store().signals.insertMany([wanted, otherWanted, crossedKey, crossedOther, firing]);

      const found = await store().signals.findResolved([
        { dedupKey: key, startsAt: T0 },
        { dedupKey: otherKey, startsAt: T0 + 1000 },
        { dedupKey: key, startsAt: T0 + 2000 },
        { dedupKey: unique('never-seen'), startsAt: T0 },
      ]);
      expect(found.sort((x, y) => x.id.localeCompare(y.id))).toEqual(
        [
          { ...wanted, raw: null },
          { ...otherWanted, raw: null },
        ].sort((x, y) => x.id.localeCompare(y.id)),
      );
      expect(await store().signals.findResolved([])).toEqual([]);
    });

    it('a second firing row with the same open key is a unique violation', async () => {
      const row = signalRow();
      await store().signals.insertMany([row]);
      const before = await store().signals.count();
      await expectUniqueViolation(
        store().signals.insertMany([signalRow({ dedup_key: row.dedup_key, starts_at: T0 + 1000 })]),
      );
      expect(await store().signals.count()).toBe(before);
    });

    it('upsertState writes the state of an existing signal and leaves every other column alone', async () => {
      const row = signalRow({
        region: 'eu-west-1',
        description: 'as first received',
        labels: JSON.stringify({ team: 'payments' }),
        annotations: JSON.stringify({ runbook: 'https://runbooks/pay' }),
        received_at: T0 + 1,
        raw: '{"original":true}',
      });
      const bystander = signalRow({ raw: '{"bystander":true}' });
      await store().signals.insertMany([row, bystander]);
      const [found] = await store().signals.findFiring([row.dedup_key]);
      const before = await store().signals.count();

      // A repeat that escalates: the state columns change, the open key stays.
      const state = {
        ends_at: T0 + 300_000,
        last_seen_at: T0 + 10_000,
        occurrences: 2,
        acknowledged_at: T0 + 9000,
        severity: 'critical',
        title: 'p99 latency above 5s',
      } satisfies Partial<SignalRow>;
      await store().signals.upsertState([
        {
          ...found!,
          ...state,
          // Not state: upsertState must ignore these even when the caller hands in changed values.
          labels: JSON.stringify({ team: 'someone-else' }),
          annotations: '{}',
          description: 'rewritten',
          region: null,
          service: unique('svc'),
          received_at: T0 + 5,
          starts_at: T0 + 5,
          suppressed_by: 'sil_1',
        },
      ]);

      expect(await storedRow(row.id)).toEqual({ ...row, ...state });
      expect(await storedRow(bystander.id)).toEqual(bystander);
      // The insert half of the upsert never happens for a stored id.
      expect(await store().signals.count()).toBe(before);
    });

    it('touch writes only the last-seen time and count, across chunks, and leaves other rows alone', async () => {
      // 205 rows cross the 200-row chunk.
      const rows = Array.from({ length: 205 }, (_, index) =>
        signalRow({ received_at: T0 + index, title: `t${index}`, raw: JSON.stringify({ index }) }),
      );
      const bystander = signalRow({ raw: '{"bystander":true}' });
      await store().signals.insertMany([...rows, bystander]);
      await store().transaction(async (scope) => {
        await scope.signals.touch(
          rows.map((row, index) => ({ id: row.id, occurrences: index + 2 })),
          T0 + 50_000,
        );
        await scope.signals.touch([], T0 + 60_000);
      });

      for (const [index, row] of rows.entries())
        expect(await storedRow(row.id)).toEqual({
          ...row,
          occurrences: index + 2,
          last_seen_at: T0 + 50_000,
        });
      expect(await storedRow(bystander.id)).toEqual(bystander);
      expect(await store().signals.findFiring([rows[0]!.dedup_key])).toHaveLength(1);
    });

    it('upsertState can resolve a signal, which frees its open key for a new firing row', async () => {
      const row = signalRow({ raw: '{"fired":true}' });
      await store().signals.insertMany([row]);
      const [found] = await store().signals.findFiring([row.dedup_key]);
      const resolution = {
        status: 'resolved',
        open_key: null,
        ends_at: T0 + 60_000,
        last_seen_at: T0 + 61_000,
      } satisfies Partial<SignalRow>;
      const refiring = signalRow({ dedup_key: row.dedup_key, starts_at: T0 + 120_000 });

      // The ingest order, in one transaction: state changes first, then the new rows.
      await store().transaction(async (scope) => {
        await scope.signals.upsertState([{ ...found!, ...resolution }]);
        await scope.signals.insertMany([refiring]);
      });

      expect(await storedRow(row.id)).toEqual({ ...row, ...resolution });
      expect(await store().signals.findFiring([row.dedup_key])).toEqual([{ ...refiring, raw: null }]);
    });

    it('upsertState writes batches larger than one statement chunk', async () => {
      // 45 rows cross the 40-row chunk.
      const rows = Array.from({ length: 45 }, (_, index) =>
        signalRow({ received_at: T0 + index, raw: JSON.stringify({ index }) }),
      );
      await store().signals.insertMany(rows);
      await store().signals.upsertState(
        rows.map((row, index) => ({
          ...row,
          occurrences: index + 2,
          last_seen_at: T0 + 1000 + index,
          // What findFiring hands back; the stored raw must survive it.
          raw: null,
        })),
      );
      await store().signals.upsertState([]);

      const stored = await store()
        .db.selectFrom('signals')
        .selectAll()
        .where(
          'id',
          'in',
          rows.map((row) => row.id),
        )
        .execute();
      expect(stored.sort((x, y) => x.id.localeCompare(y.id))).toEqual(
        rows
          .map((row, index) => ({ ...row, occurrences: index + 2, last_seen_at: T0 + 1000 + index }))
          .sort((x, y) => x.id.localeCompare(y.id)),
      );
    });

    it('list filters by service, status and a received-at window, newest first', async () => {
      const service = unique('svc');
      const a = signalRow({ service, received_at: T0 + 1000 });
      const b = signalRow({ service, received_at: T0 + 2000, status: 'resolved' });
      const c = signalRow({ service, received_at: T0 + 3000 });
      // Same received_at as c: the tie is broken by id, descending.
      const d = signalRow({ service, received_at: T0 + 3000 });
      const elsewhere = signalRow({ received_at: T0 + 2000 });
      await store().signals.insertMany([a, b, c, d, elsewhere]);
      const ids = async (filter: SignalFilter) =>
        (await store().signals.list(filter)).map((signal) => signal.id);
      const tie = [c.id, d.id].sort().reverse();

      expect(await ids({ service })).toEqual([...tie, b.id, a.id]);
      expect(await ids({ service, status: 'firing' })).toEqual([...tie, a.id]);
      expect(await ids({ service, status: 'resolved' })).toEqual([b.id]);
      // since is inclusive, until exclusive.
      expect(await ids({ service, since: T0 + 2000 })).toEqual([...tie, b.id]);
      expect(await ids({ service, until: T0 + 3000 })).toEqual([b.id, a.id]);
      expect(await ids({ service, since: T0 + 1000, until: T0 + 2000 })).toEqual([a.id]);
      expect(await ids({ service, limit: 2 })).toEqual(tie);
      expect(await ids({ service: unique('nobody') })).toEqual([]);
    });

    it('list returns at most 100 rows by default', async () => {
      const service = unique('svc');
      await store().signals.insertMany(
        Array.from({ length: 101 }, (_, index) => signalRow({ service, received_at: T0 + index })),
      );
      const listed = await store().signals.list({ service });
      expect(listed).toHaveLength(100);
      expect(listed[0]?.receivedAt).toBe(T0 + 100);
    });

    it('count counts firing and resolved rows', async () => {
      const before = await store().signals.count();
      await store().signals.insertMany([signalRow(), signalRow({ status: 'resolved' })]);
      expect(await store().signals.count()).toBe(before + 2);
    });

    it('findFiring then upsertState in concurrent transactions loses neither update', async () => {
      const row = signalRow();
      await store().signals.insertMany([row]);
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      let announceRead!: () => void;
      const firstRead = new Promise<void>((resolve) => {
        announceRead = resolve;
      });

      // A repeat that reads the row, then stalls before writing, while a resolve of the same alert runs.
      const repeat = store().transaction(async (scope) => {
        const [found] = await scope.signals.findFiring([row.dedup_key]);
        announceRead();
        await gate;
        await scope.signals.upsertState([{ ...found!, occurrences: found!.occurrences + 1 }]);
      });
      await firstRead;
      const resolve = store().transaction(async (scope) => {
        const [found] = await scope.signals.findFiring([row.dedup_key]);
        if (found) await scope.signals.upsertState([{ ...found, status: 'resolved', open_key: null }]);
      });
      // Long enough for the resolve to read (and, unlocked, to commit) before the repeat writes.
      await new Promise((resolve) => setTimeout(resolve, 200));
      release();
      await Promise.all([repeat, resolve]);

      expect(await storedRow(row.id)).toMatchObject({ status: 'resolved', open_key: null, occurrences: 2 });
    });
  });
}
