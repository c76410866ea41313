import { getEventListeners } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobAttemptError } from '../src/domain/jobs.js';
import { runWorker, type WorkerEvent } from '../src/worker/queue.js';
import { BACKENDS, type TestRuntime, testRuntime } from './support.js';

describe.each(BACKENDS)('job worker on %s', (backend) => {
  let test: TestRuntime;
  beforeAll(async () => {
    test = await testRuntime(backend);
  });
  afterAll(async () => {
    await test.cleanup();
  });

  it('keeps no listener per idle poll on its stop signal (a long-running worker does not leak)', async () => {
    const controller = new AbortController();
    const worker = runWorker({
      store: test.runtime.store,
      concurrency: 1,
      pollMs: 5,
      leaseMs: 5_000,
      signal: controller.signal,
      handlers: { 'never-queued': async () => {} },
    });
    await new Promise((resolve) => setTimeout(resolve, 300)); // dozens of idle polls
    expect(getEventListeners(controller.signal, 'abort').length).toBeLessThanOrEqual(1);
    controller.abort();
    await worker;
  });

  it('tells listeners of the jobs this process queues once they are committed, with when they fall due', async () => {
    const { store } = test.runtime;
    const heard: number[] = [];
    const unsubscribe = store.onJobQueued((runAt) => heard.push(runAt));
    try {
      await store.jobs.enqueue('told', {}, { runAt: 1_000 });
      expect(heard).toEqual([1_000]);
      await store.transaction(async (scope) => {
        await scope.jobs.enqueue('told', {}, { runAt: 3_000 });
        await scope.jobs.enqueue('told', {}, { runAt: 2_000 });
        expect(heard).toEqual([1_000]); // not before the commit
      });
      expect(heard).toEqual([1_000, 2_000]); // the earliest of the transaction
      await expect(
        store.transaction(async (scope) => {
          await scope.jobs.enqueue('told', {}, { runAt: 4_000 });
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      // A duplicate is not a new job, and a job queued already running needs no worker.
      await store.jobs.enqueue('told', {}, { runAt: 5_000, dedupKey: 'told-once' });
      await store.jobs.enqueue('told', {}, { runAt: 6_000, dedupKey: 'told-once' });
      await store.jobs.enqueue('told', {}, { runAt: 7_000, lease: { owner: 'me', ms: 1_000 } });
      expect(heard).toEqual([1_000, 2_000, 5_000]);
    } finally {
      unsubscribe();
    }
    await store.jobs.enqueue('told', {}, { runAt: 8_000 });
    expect(heard).toEqual([1_000, 2_000, 5_000]);
  });

  it('runs a job this process queues when it falls due, without waiting for the next poll', async () => {
    const { store } = test.runtime;
    const ran: string[] = [];
    const controller = new AbortController();
    const worker = runWorker({
      store,
      concurrency: 1,
      pollMs: 600_000, // a poll would come long after the test's limit
      leaseMs: 5_000,
      signal: controller.signal,
      handlers: {
        prompt: async (job) => {
          ran.push(String(job.payload.name));
        },
      },
    });
    try {
      await new Promise((resolve) => setTimeout(resolve, 100)); // the worker found nothing and waits
      await store.transaction((scope) => scope.jobs.enqueue('prompt', { name: 'now' }));
      await store.jobs.enqueue('prompt', { name: 'soon' }, { runAt: Date.now() + 200 });
      const deadline = Date.now() + 10_000;
      while (ran.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(ran).toEqual(['now', 'soon']);
    } finally {
      controller.abort();
      await worker;
    }
  });

  it('stops when it is stopped while a claim is in flight, not at its next poll', async () => {
    const { store } = test.runtime;
    const controller = new AbortController();
    // The stop arrives while the claim waits on the database (a network round trip on PostgreSQL).
    const stoppedWhileClaiming = {
      ...store,
      jobs: {
        ...store.jobs,
        claim: async (...args: Parameters<typeof store.jobs.claim>) => {
          controller.abort();
          return store.jobs.claim(...args);
        },
      },
    } as typeof store;
    const worker = runWorker({
      store: stoppedWhileClaiming,
      concurrency: 1,
      pollMs: 600_000, // a poll would come long after the test's limit
      leaseMs: 5_000,
      signal: controller.signal,
      handlers: { 'never-queued': async () => {} },
    });
    let limit: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      worker.then(() => 'stopped'),
      new Promise((resolve) => {
        limit = setTimeout(() => resolve('still waiting'), 10_000);
      }),
    ]);
    clearTimeout(limit);
    expect(outcome).toBe('stopped');
  });

  it('runs queued jobs once each, retries a failing one with backoff, and dead-letters it after its last attempt', async () => {
    const { store } = test.runtime;
    for (let index = 0; index < 6; index += 1) await store.jobs.enqueue('echo', { index });
    const { job: doomed } = await store.jobs.enqueue('explode', {}, { maxAttempts: 2 });
    const seen: number[] = [];
    const events: WorkerEvent[] = [];
    const controller = new AbortController();
    const worker = runWorker({
      store,
      concurrency: 2,
      pollMs: 20,
      leaseMs: 5_000,
      signal: controller.signal,
      onEvent: (event) => events.push(event),
      handlers: {
        echo: async (job) => {
          seen.push(job.payload.index as number);
        },
        explode: async () => {
          throw new Error('handler exploded');
        },
      },
    });
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && (await store.jobs.get(doomed.id))?.status !== 'dead') {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    controller.abort();
    await worker;

    expect(seen.sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(await store.jobs.list({ status: 'done', kind: 'echo' })).toHaveLength(6);
    const dead = await store.jobs.get(doomed.id);
    expect(dead).toMatchObject({ status: 'dead', attempts: 2, lastError: 'handler exploded' });
    const failures = events.filter((event) => event.type === 'failed');
    expect(failures.map((event) => (event.type === 'failed' ? event.next : null))).toEqual([
      'pending',
      'dead',
    ]);
  });

  it('honours what a failed attempt says: retry after a given time, never again, or not due yet', async () => {
    const { store } = test.runtime;
    const { job: later } = await store.jobs.enqueue('later', {}, { maxAttempts: 5 });
    const { job: refused } = await store.jobs.enqueue('refused', {}, { maxAttempts: 5 });
    const { job: waiting } = await store.jobs.enqueue('waiting', {}, { maxAttempts: 1 });
    const events: WorkerEvent[] = [];
    const controller = new AbortController();
    let waits = 0;
    const worker = runWorker({
      store,
      concurrency: 3,
      pollMs: 10,
      leaseMs: 5_000,
      signal: controller.signal,
      onEvent: (event) => events.push(event),
      handlers: {
        later: async () => {
          throw new JobAttemptError('rate limited', { retryAfterMs: 60_000 });
        },
        refused: async () => {
          throw new JobAttemptError('the receiver refused it for good', { final: true });
        },
        // Deferred three times, then done: with one attempt allowed, only deferral can get it there.
        waiting: async () => {
          waits += 1;
          if (waits <= 3) throw new JobAttemptError('not due yet', { deferred: true, retryAfterMs: 20 });
        },
      },
    });
    const deadline = Date.now() + 10_000;
    const settled = async () =>
      (await store.jobs.get(refused.id))?.status === 'dead' &&
      (await store.jobs.get(waiting.id))?.status === 'done' &&
      (await store.jobs.get(later.id))?.attempts === 1;
    while (Date.now() < deadline && !(await settled()))
      await new Promise((resolve) => setTimeout(resolve, 25));
    controller.abort();
    await worker;

    const retried = await store.jobs.get(later.id);
    expect(retried).toMatchObject({ status: 'pending', attempts: 1, lastError: 'rate limited' });
    // Retry-After, not the 2 s backoff.
    expect(retried!.runAt - retried!.updatedAt).toBeGreaterThanOrEqual(59_000);
    expect(await store.jobs.get(refused.id)).toMatchObject({ status: 'dead', attempts: 1 });
    expect(await store.jobs.get(waiting.id)).toMatchObject({ status: 'done', attempts: 1 });
    expect(events.filter((event) => event.type === 'deferred')).toHaveLength(3);
  });

  it('survives a store that refuses heartbeats and outcomes: nothing escapes as an unhandled rejection', async () => {
    const { store } = test.runtime;
    const { job } = await store.jobs.enqueue('flaky-store', {}, { maxAttempts: 3 });
    // The jobs repository as a busy or closing store answers it: heartbeats and outcomes reject.
    const refusing = {
      ...store,
      jobs: {
        ...store.jobs,
        heartbeat: async () => {
          throw new Error('database is locked');
        },
        complete: async () => {
          throw new Error('database is locked');
        },
        fail: async () => {
          throw new Error('database is locked');
        },
      },
    } as typeof store;
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    const events: WorkerEvent[] = [];
    const controller = new AbortController();
    let ran = 0;
    const worker = runWorker({
      store: refusing,
      concurrency: 1,
      pollMs: 10,
      // Beats every 50 ms: several fail while the handler runs.
      leaseMs: 150,
      signal: controller.signal,
      onEvent: (event) => events.push(event),
      handlers: {
        'flaky-store': async () => {
          ran += 1;
          if (ran === 1) await new Promise((resolve) => setTimeout(resolve, 250));
        },
      },
    });
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && !events.some((event) => event.type === 'failed'))
      await new Promise((resolve) => setTimeout(resolve, 20));
    controller.abort();
    await worker;
    await new Promise((resolve) => setTimeout(resolve, 50));
    process.off('unhandledRejection', onUnhandled);

    expect(unhandled).toEqual([]);
    expect(events).toContainEqual({
      type: 'failed',
      job: expect.objectContaining({ id: job.id }),
      error: 'the outcome could not be recorded: database is locked',
      next: 'lost',
    });
  });
});
