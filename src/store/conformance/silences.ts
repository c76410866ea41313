import { describe, expect, it } from 'vitest';
import type { Silence } from '../../domain/rule.js';
import type { Store } from '../store.js';
import { T0 } from './fixtures.js';
import { type StoreFactory, useStore, withFreshStore } from './harness.js';

type SilenceDraft = Omit<Silence, 'id' | 'createdAt'>;

function silence(startsAt: number, endsAt: number, overrides: Partial<SilenceDraft> = {}): SilenceDraft {
  return {
    kind: 'silence',
    matchers: [
      { field: 'service', op: '=', value: 'checkout' },
      { field: 'alertname', op: '=~', value: '^High.*' },
    ],
    startsAt,
    endsAt,
    comment: 'deploy window',
    createdBy: 'alice',
    ...overrides,
  };
}

const ids = async (store: Store, options?: { activeAt?: number; includeExpired?: boolean }) =>
  (await store.silences.list(options)).map((item) => item.id);

/** Each test owns a stretch of time far from the others, so activeAt queries on a shared store stay apart. */
let era = 0;
const nextEra = () => {
  era += 1;
  return T0 + era * 100_000_000;
};

export function silenceSpecs(init: StoreFactory): void {
  describe('silences', () => {
    const store = useStore(init);

    it('create returns the silence with an id and creation time, and list returns it unchanged', async () => {
      const at = nextEra();
      const draft = silence(at, at + 3_600_000, {
        kind: 'maintenance',
        matchers: [
          { field: 'region', op: 'in', values: ['eu-west-1'] },
          { field: 'severity', op: '>=', value: 'warning' },
        ],
        comment: 'quoted "comment" ✓',
      });
      const created = await store().silences.create(draft, at - 5);

      expect(created).toEqual({
        ...draft,
        id: expect.stringMatching(/^sil_[0-9a-z]{26}$/),
        createdAt: at - 5,
      } satisfies Silence);
      expect(await store().silences.list({ activeAt: at })).toEqual([created]);
      expect(await store().silences.list({ includeExpired: true })).toContainEqual(created);
    });

    it('list with activeAt returns silences in force at that instant, ordered by start', async () => {
      const at = nextEra();
      const first = await store().silences.create(silence(at, at + 100), at);
      const second = await store().silences.create(silence(at + 50, at + 200), at);

      expect(await ids(store(), { activeAt: at - 1 })).toEqual([]);
      // Starts inclusive, ends exclusive.
      expect(await ids(store(), { activeAt: at })).toEqual([first.id]);
      expect(await ids(store(), { activeAt: at + 50 })).toEqual([first.id, second.id]);
      expect(await ids(store(), { activeAt: at + 100 })).toEqual([second.id]);
      expect(await ids(store(), { activeAt: at + 200 })).toEqual([]);
    });

    it('list without activeAt hides expired silences unless includeExpired is set', async () => {
      // Compares against the real clock, so it needs a store holding nothing but its own silences.
      await withFreshStore(init, async (fresh) => {
        const now = Date.now();
        const expired = await fresh.silences.create(silence(T0, T0 + 100), T0);
        const current = await fresh.silences.create(silence(now - 60_000, now + 3_600_000), now);
        // Scheduled maintenance is listed before it starts: operators need to see what is coming.
        const future = await fresh.silences.create(silence(now + 3_600_000, now + 7_200_000), now);

        expect(await ids(fresh)).toEqual([current.id, future.id]);
        expect(await ids(fresh, { includeExpired: true })).toEqual([expired.id, current.id, future.id]);
      });
    });

    it('expire ends a silence now, and reports false when there is nothing to end', async () => {
      const at = nextEra();
      const created = await store().silences.create(silence(at, at + 1000), at);

      expect(await store().silences.expire(created.id, at + 400)).toBe(true);
      expect(await store().silences.list({ activeAt: at })).toEqual([{ ...created, endsAt: at + 400 }]);
      expect(await ids(store(), { activeAt: at + 500 })).toEqual([]);

      expect(await store().silences.expire(created.id, at + 500)).toBe(false);
      expect(await store().silences.expire('sil_unknown', at)).toBe(false);
      const ended = await store().silences.create(silence(at, at + 10), at);
      expect(await store().silences.expire(ended.id, at + 10)).toBe(false);
    });

    it('revision changes after create and after expire, and only then', async () => {
      const at = nextEra();
      const seen = [await store().silences.revision()];
      const first = await store().silences.create(silence(at, at + 1000), at);
      seen.push(await store().silences.revision());
      await store().silences.create(silence(at, at + 1000), at);
      seen.push(await store().silences.revision());
      await store().silences.expire(first.id, at + 10);
      seen.push(await store().silences.revision());

      expect(new Set(seen).size).toBe(seen.length);
      // A refused expire writes nothing, so the cached compiled silences stay valid.
      await store().silences.expire(first.id, at + 20);
      expect(await store().silences.revision()).toBe(seen.at(-1));
    });
  });
}
