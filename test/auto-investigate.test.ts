import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseBackstageCatalog } from '../src/catalog/backstage.js';
import { INVESTIGATE_JOB } from '../src/domain/jobs.js';
import { FAULT_HOLD_ENV } from '../src/investigate/graph.js';
import { runInvestigationJob, runInvestigationWorker } from '../src/investigate/jobs.js';
import type { Job } from '../src/store/repositories/jobs.js';
import type { WorkerEvent } from '../src/worker/queue.js';
import { BACKENDS, REPO_ROOT, type TestServer, testServer } from './support.js';

const catalog = parseBackstageCatalog(
  readFileSync(path.join(REPO_ROOT, 'examples', 'topology', 'catalog-info.yaml'), 'utf8'),
);

/** Runs the investigation worker until `done` says so (or 20 s pass), collecting its events. */
async function work(server: TestServer, done: (events: WorkerEvent[]) => Promise<boolean>) {
  const events: WorkerEvent[] = [];
  const lines: string[] = [];
  const stop = new AbortController();
  const worker = runInvestigationWorker(server.runtime, {
    signal: stop.signal,
    log: (line) => lines.push(line),
    onEvent: (event) => events.push(event),
  });
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline && !(await done(events)))
    await new Promise((resolve) => setTimeout(resolve, 25));
  stop.abort();
  await worker;
  return { events, lines };
}

let environments = 0;
/**
 * Opens an incident on `service`. Each test uses an environment of its own (prod for the first): the
 * services are connected in the topology, and an alert would otherwise join an earlier test's incident.
 */
async function openIncident(server: TestServer, service: string): Promise<string> {
  environments += 1;
  const response = await server.request('POST', '/v1/signals', {
    body: {
      service,
      environment: environments === 1 ? 'prod' : `prod-${environments}`,
      severity: 'critical',
      title: `5xx on ${service}`,
      labels: { alertname: 'HighErrorRate' },
    },
    token: server.tokens.ingest,
  });
  const incidentId = response.json.signals[0].incidentIds[0] as string;
  expect(incidentId).toMatch(/^inc_/);
  return incidentId;
}

const jobFor = async (server: TestServer, incidentId: string): Promise<Job | undefined> =>
  (await server.runtime.store.jobs.list({ kind: INVESTIGATE_JOB, limit: 500 })).find(
    (job) => job.payload.incidentId === incidentId,
  );

describe.each(BACKENDS)('automatic investigations on %s', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    environments = 0;
    server = await testServer(backend, {
      investigateDelaySeconds: 0,
      investigationTimeoutSeconds: 1,
      investigationMaxAttempts: 2,
      jobLeaseSeconds: 5,
    });
    if (!catalog.ok) throw new Error(catalog.error.message);
    await server.runtime.store.services.upsertMany(catalog.services);
  });
  afterEach(() => {
    delete process.env[FAULT_HOLD_ENV];
  });
  afterAll(async () => {
    await server.cleanup();
  });

  it('queues a job when an incident opens, and the worker investigates it once', async () => {
    const incidentId = await openIncident(server, 'checkout-service');
    const queued = await jobFor(server, incidentId);
    expect(queued).toMatchObject({ status: 'pending', maxAttempts: 2, payload: { trigger: 'created' } });

    // More signals on the same incident do not queue a second job.
    await server.request('POST', '/v1/signals', {
      body: {
        service: 'checkout-service',
        environment: 'prod',
        severity: 'error',
        title: 'p99 latency',
        labels: { alertname: 'HighLatency' },
      },
      token: server.tokens.ingest,
    });
    expect(
      (await server.runtime.store.jobs.list({ kind: INVESTIGATE_JOB, limit: 500 })).filter(
        (job) => job.payload.incidentId === incidentId,
      ),
    ).toHaveLength(1);

    const { lines } = await work(server, async () => (await jobFor(server, incidentId))?.status === 'done');
    expect(await jobFor(server, incidentId)).toMatchObject({ status: 'done', attempts: 1 });
    const investigations = await server.runtime.store.investigations.forIncident(incidentId);
    expect(investigations).toHaveLength(1);
    expect(investigations[0]).toMatchObject({ status: 'completed', attempt: 1 });
    expect(investigations[0]!.findings).toHaveLength(6);
    const incident = await server.request('GET', `/v1/incidents/${incidentId}`, {
      token: server.tokens.read,
    });
    expect(incident.json.incident.status).toBe('ADVISORY_READY');
    expect(incident.json.incident.currentInvestigationId).toBe(investigations[0]!.id);
    expect(lines.some((line) => line.includes(`investigation ${investigations[0]!.id}`))).toBe(true);
  });

  it('runs a queued re-investigation afresh, whatever the clocks say; only its own retry returns its earlier run', async () => {
    const incidentId = await openIncident(server, 'inventory-service');
    await work(server, async () => (await jobFor(server, incidentId))?.status === 'done');
    // The incident changed an hour ago by its sender's clock: a re-investigation was queued then, and
    // the investigation above started after it by this process's clock. It saw none of the change.
    const stamp = Date.now() - 3_600_000;
    const { job } = await server.runtime.store.jobs.enqueue(
      INVESTIGATE_JOB,
      { incidentId, trigger: 'changed' },
      { dedupKey: `${INVESTIGATE_JOB}:${incidentId}:rerun`, runAt: stamp },
      stamp,
    );
    const claimed = (await server.runtime.store.jobs.claim('test-worker', [INVESTIGATE_JOB], 5_000))!;
    expect(claimed).toMatchObject({ id: job.id, attempts: 1 });
    const first = await runInvestigationJob(server.runtime, claimed, new AbortController().signal);
    expect(first).toMatchObject({ kind: 'completed', resumed: false });
    const runs = await server.runtime.store.investigations.forIncident(incidentId);
    expect(runs).toHaveLength(2);
    expect(first.kind === 'completed' && first.investigationId).toBe(runs[0]!.id);
    // The worker died before marking the job done: the retry finds the run this job made, not a third.
    const retry = await runInvestigationJob(
      server.runtime,
      { ...claimed, attempts: 2 },
      new AbortController().signal,
    );
    expect(retry).toMatchObject({ kind: 'completed', investigationId: runs[0]!.id });
    expect(await server.runtime.store.investigations.forIncident(incidentId)).toHaveLength(2);
  });

  it('fails an attempt that runs past the time limit, records why, retries with backoff, then dead-letters; redrive completes it', async () => {
    const incidentId = await openIncident(server, 'payment-service');
    process.env[FAULT_HOLD_ENV] = 'response-strategy';
    const { events } = await work(server, async () => (await jobFor(server, incidentId))?.status === 'dead');
    const failures = events.filter(
      (event) => event.type === 'failed' && event.job.payload.incidentId === incidentId,
    );
    expect(failures.map((event) => (event.type === 'failed' ? event.next : null))).toEqual([
      'pending',
      'dead',
    ]);
    const dead = (await jobFor(server, incidentId))!;
    expect(dead).toMatchObject({ status: 'dead', attempts: 2 });
    expect(dead.lastError).toContain('exceeded its time limit of 1 s');

    const investigations = await server.runtime.store.investigations.forIncident(incidentId);
    expect(investigations.map((item) => item.status)).toEqual(['failed', 'failed']);
    expect(investigations[0]!.error).toContain('exceeded its time limit');
    const events1 = (
      await server.request('GET', `/v1/incidents/${incidentId}/events`, { token: server.tokens.read })
    ).json.items as { type: string; data: { reason?: string } }[];
    const failedEvents = events1.filter((event) => event.type === 'investigation_failed');
    expect(failedEvents).toHaveLength(2);
    expect(failedEvents[0]!.data.reason).toContain('exceeded its time limit');

    delete process.env[FAULT_HOLD_ENV];
    expect(await server.runtime.writes.run((scope) => scope.jobs.redrive(dead.id))).toBe(true);
    await work(server, async () => (await jobFor(server, incidentId))?.status === 'done');
    const after = await server.runtime.store.investigations.forIncident(incidentId);
    expect(after.map((item) => item.status)).toEqual(['completed', 'failed', 'failed']);
  });

  it('skips the job of an incident that was closed before it ran', async () => {
    const incidentId = await openIncident(server, 'search-service');
    for (const action of ['resolve', 'close'])
      expect(
        (
          await server.request('POST', `/v1/incidents/${incidentId}/${action}`, {
            body: { reason: 'false alarm' },
            token: server.tokens.respond,
          })
        ).status,
      ).toBe(200);
    const { lines } = await work(server, async () => (await jobFor(server, incidentId))?.status === 'done');
    expect(lines.some((line) => line.includes('skipped') && line.includes('CLOSED'))).toBe(true);
    expect(await server.runtime.store.investigations.forIncident(incidentId)).toHaveLength(0);
  });
});

describe('automatic investigations switched off', () => {
  it('queues nothing when autoInvestigate is false', async () => {
    const server = await testServer('sqlite', { autoInvestigate: false });
    try {
      const incidentId = await openIncident(server, 'checkout-service');
      expect(await jobFor(server, incidentId)).toBeUndefined();
    } finally {
      await server.cleanup();
    }
  });
});
