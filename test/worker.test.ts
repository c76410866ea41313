import { getEventListeners } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
    expect(await store.jobs.list({ status: 'done' })).toHaveLength(6);
    const dead = await store.jobs.get(doomed.id);
    expect(dead).toMatchObject({ status: 'dead', attempts: 2, lastError: 'handler exploded' });
    const failures = events.filter((event) => event.type === 'failed');
    expect(failures.map((event) => (event.type === 'failed' ? event.next : null))).toEqual([
      'pending',
      'dead',
    ]);
  });
});
