import { describe, expect, it } from 'vitest';
import { T0 } from './fixtures.js';
import { type StoreFactory, unique, withFreshStore } from './harness.js';

export function jobSpecs(init: StoreFactory): void {
  describe('jobs', () => {
    it('enqueue stores a pending job; a dedup key returns the queued job instead of a second one', async () => {
      await withFreshStore(init, async (store) => {
        const key = unique('investigate');
        const first = await store.jobs.enqueue(
          'investigate',
          { incidentId: 'inc_1' },
          { dedupKey: key, maxAttempts: 3 },
          T0,
        );
        expect(first.created).toBe(true);
        expect(first.job).toMatchObject({
          kind: 'investigate',
          payload: { incidentId: 'inc_1' },
          status: 'pending',
          attempts: 0,
          maxAttempts: 3,
          runAt: T0,
          dedupKey: key,
        });
        const again = await store.jobs.enqueue(
          'investigate',
          { incidentId: 'other' },
          { dedupKey: key },
          T0 + 1,
        );
        expect(again).toEqual({ job: first.job, created: false });
        expect(await store.jobs.get(first.job.id)).toEqual(first.job);
      });
    });

    it('claim takes due jobs oldest first, skips future and other kinds, and leases them', async () => {
      await withFreshStore(init, async (store) => {
        const later = await store.jobs.enqueue('a', {}, { runAt: T0 + 60_000 }, T0);
        const early = await store.jobs.enqueue('a', {}, {}, T0);
        await store.jobs.enqueue('b', {}, {}, T0 - 1);
        const claimed = await store.jobs.claim('w1', ['a'], 30_000, T0 + 1);
        expect(claimed).toMatchObject({
          id: early.job.id,
          status: 'running',
          attempts: 1,
          leaseOwner: 'w1',
          leaseExpiresAt: T0 + 30_001,
        });
        expect(await store.jobs.claim('w1', ['a'], 30_000, T0 + 2)).toBeUndefined();
        expect(await store.jobs.complete(early.job.id, 'w1', T0 + 3)).toBe(true);
        expect((await store.jobs.claim('w1', ['a'], 30_000, T0 + 60_000))?.id).toBe(later.job.id);
        expect(await store.jobs.claim('w1', [], 30_000, T0)).toBeUndefined();
      });
    });

    it('concurrent claimers never take the same job', async () => {
      await withFreshStore(init, async (store) => {
        for (let index = 0; index < 20; index += 1) await store.jobs.enqueue('c', { index }, {}, T0);
        const taken: string[] = [];
        await Promise.all(
          Array.from({ length: 5 }, async (_, worker) => {
            for (;;) {
              const job = await store.jobs.claim(`w${worker}`, ['c'], 60_000, T0 + 1);
              if (!job) return;
              taken.push(job.id);
            }
          }),
        );
        expect(taken).toHaveLength(20);
        expect(new Set(taken).size).toBe(20);
      });
    });

    it('an expired lease lets another worker take the job; the old owner can no longer complete or fail it', async () => {
      await withFreshStore(init, async (store) => {
        const { job } = await store.jobs.enqueue('d', {}, {}, T0);
        await store.jobs.claim('old', ['d'], 1_000, T0);
        expect(await store.jobs.claim('new', ['d'], 1_000, T0 + 500)).toBeUndefined();
        expect(await store.jobs.heartbeat(job.id, 'old', 1_000, T0 + 600)).toBe(true);
        const retaken = await store.jobs.claim('new', ['d'], 1_000, T0 + 1_601);
        expect(retaken).toMatchObject({ id: job.id, leaseOwner: 'new', attempts: 2 });
        expect(await store.jobs.heartbeat(job.id, 'old', 1_000, T0 + 1_700)).toBe(false);
        expect(await store.jobs.complete(job.id, 'old', T0 + 1_700)).toBe(false);
        expect(await store.jobs.fail(job.id, 'old', 'late', T0, T0 + 1_700)).toBeUndefined();
        expect(await store.jobs.complete(job.id, 'new', T0 + 1_800)).toBe(true);
        expect(await store.jobs.get(job.id)).toMatchObject({
          status: 'done',
          leaseOwner: null,
          dedupKey: null,
        });
      });
    });

    it('a job enqueued with a lease starts running for its owner; once the lease lapses a worker takes it over', async () => {
      await withFreshStore(init, async (store) => {
        const { job } = await store.jobs.enqueue('h', { n: 1 }, { lease: { owner: 'api', ms: 1_000 } }, T0);
        expect(job).toMatchObject({
          status: 'running',
          attempts: 1,
          leaseOwner: 'api',
          leaseExpiresAt: T0 + 1_000,
        });
        expect(await store.jobs.claim('worker', ['h'], 1_000, T0 + 500)).toBeUndefined();
        expect(await store.jobs.heartbeat(job.id, 'api', 1_000, T0 + 900)).toBe(true);
        expect(await store.jobs.claim('worker', ['h'], 1_000, T0 + 1_800)).toBeUndefined();
        const taken = await store.jobs.claim('worker', ['h'], 1_000, T0 + 1_901);
        expect(taken).toMatchObject({ id: job.id, leaseOwner: 'worker', attempts: 2, payload: { n: 1 } });
      });
    });

    it('fail retries until the last attempt, then dead-letters; redrive queues it again; the dedup key is freed', async () => {
      await withFreshStore(init, async (store) => {
        const key = unique('dl');
        const { job } = await store.jobs.enqueue('e', {}, { dedupKey: key, maxAttempts: 2 }, T0);
        await store.jobs.claim('w', ['e'], 10_000, T0);
        expect(await store.jobs.fail(job.id, 'w', 'boom 1', T0 + 5_000, T0 + 1)).toBe('pending');
        expect(await store.jobs.get(job.id)).toMatchObject({
          status: 'pending',
          runAt: T0 + 5_000,
          lastError: 'boom 1',
          leaseOwner: null,
        });
        expect(await store.jobs.claim('w', ['e'], 10_000, T0 + 4_999)).toBeUndefined();
        await store.jobs.claim('w', ['e'], 10_000, T0 + 5_000);
        expect(await store.jobs.fail(job.id, 'w', 'boom 2', T0 + 9_000, T0 + 5_001)).toBe('dead');
        expect(await store.jobs.list({ status: 'dead' })).toEqual([
          expect.objectContaining({ id: job.id, lastError: 'boom 2', dedupKey: null }),
        ]);
        expect((await store.jobs.enqueue('e', {}, { dedupKey: key }, T0 + 6_000)).created).toBe(true);
        expect(await store.jobs.redrive(job.id, T0 + 7_000)).toBe(true);
        expect(await store.jobs.get(job.id)).toMatchObject({
          status: 'pending',
          attempts: 0,
          runAt: T0 + 7_000,
          lastError: null,
        });
        expect(await store.jobs.redrive(job.id, T0 + 7_000)).toBe(false);
      });
    });

    it('list filters by status and kind, most recently updated first, with a limit', async () => {
      await withFreshStore(init, async (store) => {
        const a = await store.jobs.enqueue('x', {}, {}, T0);
        const b = await store.jobs.enqueue('y', {}, {}, T0 + 1);
        expect((await store.jobs.list()).map((job) => job.id)).toEqual([b.job.id, a.job.id]);
        expect((await store.jobs.list({ kind: 'x' })).map((job) => job.id)).toEqual([a.job.id]);
        expect(await store.jobs.list({ status: 'done' })).toEqual([]);
        expect(await store.jobs.list({ limit: 1 })).toHaveLength(1);
      });
    });
  });
}
