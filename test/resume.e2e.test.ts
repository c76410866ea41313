import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBackstageCatalog } from '../src/catalog/backstage.js';
import { configSchema } from '../src/config/index.js';
import { INVESTIGATE_JOB } from '../src/domain/jobs.js';
import { FAULT_HOLD_ENV } from '../src/investigate/graph.js';
import { threadCheckpoints } from '../src/investigate/service.js';
import { openRuntime, type Runtime } from '../src/runtime.js';
import { exited, type OpxProcess, openCheckoutIncident, REPO_ROOT, spawnOpx, waitFor } from './support.js';

type Worker = OpxProcess;

function startWorker(dataDir: string, env: Record<string, string>): Worker {
  return spawnOpx(['--data-dir', dataDir, 'worker'], {
    OPX_DATABASE_URL: '',
    OPX_JOB_LEASE_SECONDS: '2',
    ...env,
  });
}

describe('an investigation survives SIGKILL of its worker', () => {
  let dataDir: string;
  const open = async (): Promise<Runtime> =>
    openRuntime(configSchema.parse({ dataDir, logLevel: 'silent', investigateDelaySeconds: 0 }));
  beforeAll(() => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'opx-resume-'));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('resumes from its checkpoint in a new process and completes exactly once', async () => {
    let runtime = await open();
    let incidentId: string;
    try {
      const catalog = parseBackstageCatalog(
        readFileSync(path.join(REPO_ROOT, 'examples', 'topology', 'catalog-info.yaml'), 'utf8'),
      );
      if (!catalog.ok) throw new Error(catalog.error.message);
      await runtime.store.services.upsertMany(catalog.services);
      incidentId = await openCheckoutIncident(runtime, 'resume-test');
      expect(incidentId).toMatch(/^inc_/);
    } finally {
      await runtime.close();
    }

    // First worker: the five evidence agents finish, then it is killed inside response-strategy.
    const first = startWorker(dataDir, { [FAULT_HOLD_ENV]: 'response-strategy' });
    await waitFor('the worker to reach response-strategy', () =>
      first.output().includes('holding node response-strategy'),
    );
    first.kill('SIGKILL');
    expect(await exited(first)).toMatchObject({ signal: 'SIGKILL' });

    runtime = await open();
    try {
      const [running] = await runtime.store.investigations.forIncident(incidentId);
      expect(running).toMatchObject({ status: 'running' });
      const { saver } = await runtime.checkpointer();
      const latest = await saver.getTuple({ configurable: { thread_id: incidentId } });
      expect(latest?.checkpoint.channel_values.investigationId).toBe(running!.id);
      expect(Object.keys(latest?.checkpoint.channel_values.findings as object).sort()).toEqual([
        'change-intelligence',
        'historical-pattern',
        'knowledge-rag',
        'risk-blast-radius',
        'signal-intelligence',
      ]);
    } finally {
      await runtime.close();
    }

    // Second worker: claims the job once the dead worker's lease expires, resumes, completes.
    const second = startWorker(dataDir, {});
    await waitFor('the resumed investigation to complete', () =>
      second.output().includes('completed (resumed from its checkpoint)'),
    );
    second.kill('SIGTERM');
    expect(await exited(second)).toMatchObject({ code: 0 });

    runtime = await open();
    try {
      const investigations = await runtime.store.investigations.forIncident(incidentId);
      expect(investigations).toHaveLength(1);
      const [investigation] = investigations;
      expect(investigation).toMatchObject({ status: 'completed', attempt: 1 });
      const [job] = await runtime.store.jobs.list({ kind: INVESTIGATE_JOB });
      expect(job).toMatchObject({ status: 'done', attempts: 2 });

      const events = await runtime.store.incidents.events(incidentId);
      const count = (type: string) => events.filter((event) => event.type === type).length;
      expect(count('investigation_started')).toBe(1);
      expect(count('investigation_completed')).toBe(1);
      expect(count('agent_completed')).toBe(6);
      const resumed = events.find((event) => event.type === 'investigation_resumed');
      expect(resumed?.data).toMatchObject({
        investigationId: investigation!.id,
        next: ['response-strategy'],
      });
      const recommendations = await runtime.store.investigations.recommendations(incidentId);
      expect(recommendations.length).toBeGreaterThan(0);
      expect(count('recommendation_proposed')).toBe(recommendations.length);

      // One run on the thread: a single input checkpoint, so nothing started over.
      const { saver } = await runtime.checkpointer();
      const sources: unknown[] = [];
      for await (const tuple of saver.list({ configurable: { thread_id: incidentId } }))
        sources.push(tuple.metadata?.source);
      expect(sources.filter((source) => source === 'input')).toHaveLength(1);
      // The count the completed run reports covers the killed attempt's checkpoints and its own.
      const completed = events.find((event) => event.type === 'investigation_completed');
      const held = (await threadCheckpoints(runtime, incidentId)).filter(
        (checkpoint) => checkpoint.investigationId === investigation!.id,
      );
      expect(held.length).toBe(sources.length);
      expect(completed?.data).toMatchObject({ checkpoints: held.length });
    } finally {
      await runtime.close();
    }
  });
});

describe('a hand-started investigation survives SIGKILL of the API process', () => {
  const ADMIN = 'opx-resume-test-admin-token-0123456789';
  let dataDir: string;
  // The automatic run is due in an hour: the only job a worker can take here is the hand-started one.
  const open = async (): Promise<Runtime> =>
    openRuntime(configSchema.parse({ dataDir, logLevel: 'silent', investigateDelaySeconds: 3600 }));
  beforeAll(() => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'opx-resume-hand-'));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('is a leased job: a worker takes it over after the lease and completes it under the same name', async () => {
    let runtime = await open();
    let incidentId: string;
    try {
      incidentId = await openCheckoutIncident(runtime, 'resume-hand-test');
    } finally {
      await runtime.close();
    }

    const api = spawnOpx(['--data-dir', dataDir, 'serve', '--role', 'api', '--port', '0'], {
      OPX_DATABASE_URL: '',
      OPX_ADMIN_TOKEN: ADMIN,
      OPX_JOB_LEASE_SECONDS: '2',
      OPX_INVESTIGATE_DELAY_SECONDS: '3600',
      [FAULT_HOLD_ENV]: 'response-strategy',
    });
    const baseUrl = await waitFor('opx serve to listen', () => {
      if (api.exitCode !== null) throw new Error(`opx serve exited: ${api.output()}`);
      return /listening on (http:\/\/\S+)/.exec(api.output())?.[1];
    });
    const request = fetch(`${baseUrl}/v1/incidents/${incidentId}/investigations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}` },
    }).catch((error: unknown) => error);
    await waitFor('the API to reach response-strategy', () =>
      api.output().includes('holding node response-strategy'),
    );
    api.kill('SIGKILL');
    expect(await exited(api)).toMatchObject({ signal: 'SIGKILL' });
    // The caller saw the connection drop, not an answer.
    expect(await request).toBeInstanceOf(Error);

    runtime = await open();
    try {
      expect(await runtime.store.incidents.get(incidentId)).toMatchObject({ status: 'INVESTIGATING' });
      const [running] = await runtime.store.jobs.list({ kind: INVESTIGATE_JOB, status: 'running' });
      expect(running?.payload).toEqual({ incidentId, principal: 'admin:bootstrap' });
    } finally {
      await runtime.close();
    }

    const worker = startWorker(dataDir, { OPX_INVESTIGATE_DELAY_SECONDS: '3600' });
    await waitFor('the hand-started investigation to complete', () =>
      worker.output().includes('completed (resumed from its checkpoint)'),
    );
    worker.kill('SIGTERM');
    expect(await exited(worker)).toMatchObject({ code: 0 });

    runtime = await open();
    try {
      expect(await runtime.store.incidents.get(incidentId)).toMatchObject({ status: 'ADVISORY_READY' });
      const investigations = await runtime.store.investigations.forIncident(incidentId);
      expect(investigations.map((investigation) => investigation.status)).toEqual(['completed']);
      const jobs = await runtime.store.jobs.list({ kind: INVESTIGATE_JOB });
      expect(jobs.find((job) => job.payload.principal === 'admin:bootstrap')).toMatchObject({
        status: 'done',
        attempts: 2,
      });
      const events = await runtime.store.incidents.events(incidentId);
      const count = (type: string) => events.filter((event) => event.type === type).length;
      expect(count('investigation_completed')).toBe(1);
      expect(events.find((event) => event.type === 'investigation_started')?.principal).toBe(
        'admin:bootstrap',
      );
    } finally {
      await runtime.close();
    }
  });
});
