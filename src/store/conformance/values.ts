import { describe, expect, it } from 'vitest';
import { changeInput, FAR_FUTURE, incidentRow, signalRow } from './fixtures.js';
import { type StoreFactory, unique, useStore } from './harness.js';

export function valueSpecs(init: StoreFactory): void {
  describe('large values', () => {
    const store = useStore(init);

    it('epoch-millisecond BIGINT columns come back as numbers, not strings', async () => {
      const signal = signalRow({
        starts_at: FAR_FUTURE,
        ends_at: FAR_FUTURE + 1,
        received_at: FAR_FUTURE + 2,
        last_seen_at: FAR_FUTURE + 3,
        acknowledged_at: FAR_FUTURE + 4,
      });
      await store().signals.insertMany([signal]);
      expect(await store().signals.get(signal.id)).toMatchObject({
        startsAt: FAR_FUTURE,
        endsAt: FAR_FUTURE + 1,
        receivedAt: FAR_FUTURE + 2,
        lastSeenAt: FAR_FUTURE + 3,
        acknowledgedAt: FAR_FUTURE + 4,
      });
      expect(await store().signals.findFiring([signal.dedup_key])).toEqual([{ ...signal, raw: null }]);

      const incident = incidentRow({ detected_at: FAR_FUTURE, resolved_at: FAR_FUTURE + 5 });
      await store().incidents.insert(incident);
      const row = await store().incidents.getRow(incident.id);
      expect(row).toEqual(incident);
      expect(typeof row?.detected_at).toBe('number');

      const appended = await store().incidents.appendEvents(incident, [
        { type: 'created', principal: 'system', at: FAR_FUTURE },
      ]);
      const [event] = await store().incidents.events(incident.id);
      expect(event).toEqual(appended.events[0]);
      expect(typeof event?.at).toBe('number');

      const { change } = await store().changes.insert(
        changeInput({ startedAt: FAR_FUTURE, finishedAt: FAR_FUTURE + 1 }),
        FAR_FUTURE,
      );
      expect(await store().changes.get(change.id)).toMatchObject({
        startedAt: FAR_FUTURE,
        finishedAt: FAR_FUTURE + 1,
        createdAt: FAR_FUTURE,
      });

      const token = await store().tokens.create(unique('t'), unique('hash'), ['read'], FAR_FUTURE);
      expect((await store().tokens.list()).find((item) => item.id === token.id)?.createdAt).toBe(FAR_FUTURE);
    });

    it('time filters compare numerically, not as text', async () => {
      const service = unique('svc');
      // 12 digits against 13: a text comparison would order these the wrong way round.
      const past = signalRow({ service, received_at: 999_999_999_999 });
      const future = signalRow({ service, received_at: FAR_FUTURE });
      await store().signals.insertMany([past, future]);

      const ids = async (filter: { since?: number; until?: number }) =>
        (await store().signals.list({ service, ...filter })).map((signal) => signal.id);
      expect(await ids({})).toEqual([future.id, past.id]);
      expect(await ids({ since: 999_999_999_999 + 1 })).toEqual([future.id]);
      expect(await ids({ until: FAR_FUTURE })).toEqual([past.id]);
    });

    it('counts come back as numbers', async () => {
      for (const count of [
        await store().signals.count(),
        await store().incidents.count(),
        await store().rules.count(),
        await store().tokens.count(),
      ]) {
        expect(typeof count).toBe('number');
      }
    });
  });
}
