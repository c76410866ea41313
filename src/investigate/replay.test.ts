import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type TestRuntime, testRuntime } from '../../test/support.js';
import { signalInputSchema } from '../domain/signal.js';
import { replayInvestigation } from './replay.js';
import { investigateIncident } from './service.js';

let test: TestRuntime;
let incidentId: string;

beforeEach(async () => {
  test = await testRuntime('sqlite', { autoInvestigate: false });
  const { runtime } = test;
  const input = signalInputSchema.parse({ service: 'checkout', severity: 'critical', title: 'checkout 5xx' });
  const result = await runtime.writes.run((scope) =>
    runtime.ingest.ingestInScope(scope, [{ ...input, fingerprint: 'checkout-5xx' }], 'test'),
  );
  incidentId = result.signals[0]!.incidentIds[0]!;
});
afterEach(async () => {
  await test.cleanup();
});

describe('replayInvestigation', () => {
  it('refuses an incident with no completed investigation, and names what to run', async () => {
    await expect(replayInvestigation(test.runtime, incidentId, { principal: 'alice' })).rejects.toMatchObject(
      {
        code: 'not_found',
        message: expect.stringContaining(`opx investigate ${incidentId}`),
      },
    );
  });

  it('gives the recorded findings again, and records the replay on the timeline', async () => {
    const run = await investigateIncident(test.runtime, incidentId, { principal: 'alice' });
    const replay = await replayInvestigation(test.runtime, incidentId, { principal: 'bob' });
    expect(replay).toMatchObject({ investigationId: run.investigationId, identical: true, differences: [] });
    expect(replay.replayHash).toBe(replay.storedHash);
    const events = await test.runtime.store.incidents.events(incidentId);
    expect(events.at(-1)).toMatchObject({
      type: 'investigation_replayed',
      principal: 'bob',
      data: { investigationId: run.investigationId, identical: true, differences: 0 },
    });
  });

  it('names where the output differs from a stored record that was changed', async () => {
    const run = await investigateIncident(test.runtime, incidentId, { principal: 'alice' });
    const stored = await test.runtime.store.investigations.get(run.investigationId);
    const findings = structuredClone(stored!.findings);
    findings[0]!.summary = 'not what the engine said';
    await test.runtime.store.db
      .updateTable('investigations')
      .set({ result: JSON.stringify({ findings }) })
      .where('id', '=', run.investigationId)
      .execute();
    const replay = await replayInvestigation(test.runtime, incidentId, {
      principal: 'bob',
      investigationId: run.investigationId,
    });
    expect(replay.identical).toBe(false);
    expect(replay.differences.map((difference) => difference.path)).toEqual(['findings[0].summary']);
  });
});
