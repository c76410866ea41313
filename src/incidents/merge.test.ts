import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compileRules } from '../detect/rules.js';
import { signalInputSchema } from '../domain/signal.js';
import { ingestSignals } from '../ingest/pipeline.js';
import { storeWithIncident } from '../store/memory.test-support.js';
import type { Store } from '../store/store.js';
import { mergeIncidents, splitIncident } from './merge.js';
import { verifyChain } from './service.js';

let store: Store;
let checkout: string;
let search: string;
let at: number;

/** A second, unrelated incident: a critical signal on `service`, through the real pipeline. */
async function openIncident(service: string): Promise<string> {
  const rules = compileRules(await store.rules.list());
  const input = signalInputSchema.parse({
    service,
    severity: 'critical',
    title: `${service} down`,
    startsAt: new Date(at).toISOString(),
  });
  const result = await store.transaction((scope) =>
    ingestSignals(scope, [{ ...input, fingerprint: `${service}-down` }], {
      principal: 'test',
      now: at,
      settings: { autoResolve: true, reopenGraceMs: 0 },
      rules,
      silences: [],
    }),
  );
  return result.signals[0]!.incidentIds[0]!;
}

const chainValid = async (id: string) => (await store.transaction((scope) => verifyChain(scope, id))).valid;

beforeEach(async () => {
  ({ store, incidentId: checkout, at } = await storeWithIncident('checkout'));
  search = await openIncident('search');
});
afterEach(async () => {
  await store.close();
});

describe('mergeIncidents and splitIncident', () => {
  it('merges one incident into another: signals move, the source closes pointing at the target', async () => {
    const { incident, merged } = await store.transaction((scope) =>
      mergeIncidents(scope, search, checkout, { principal: 'alice', reason: 'one outage', at: at + 60_000 }),
    );
    expect(incident).toMatchObject({ id: checkout, services: ['checkout', 'search'], signalCount: 2 });
    expect(merged).toMatchObject({ id: search, status: 'CLOSED', mergedInto: checkout });
    expect(await store.incidents.signalIds(checkout)).toHaveLength(2);
    expect(await chainValid(checkout)).toBe(true);
    expect(await chainValid(search)).toBe(true);
  });

  it('splits a signal back off into a new incident, and both chains still verify', async () => {
    await store.transaction((scope) =>
      mergeIncidents(scope, search, checkout, { principal: 'alice', at: at + 1 }),
    );
    const moved = (await store.signals.list({ service: 'search' }))[0]!;
    const { incident, split } = await store.transaction((scope) =>
      splitIncident(scope, checkout, [moved.id], {
        principal: 'bob',
        title: 'search is separate',
        at: at + 2,
      }),
    );
    expect(incident).toMatchObject({ id: checkout, services: ['checkout'], signalCount: 1 });
    expect(split).toMatchObject({ title: 'search is separate', services: ['search'], status: 'OPEN' });
    expect(await store.incidents.signalIds(split.id)).toEqual([moved.id]);
    expect(await chainValid(checkout)).toBe(true);
    expect(await chainValid(split.id)).toBe(true);
  });

  it('refuses a merge into itself, and a split that would empty the incident or names a foreign signal', async () => {
    await expect(
      store.transaction((scope) => mergeIncidents(scope, checkout, checkout, { principal: 'alice' })),
    ).rejects.toMatchObject({ code: 'invalid_request', path: 'into' });
    const [own] = await store.incidents.signalIds(checkout);
    await expect(
      store.transaction((scope) => splitIncident(scope, checkout, [own!], { principal: 'alice' })),
    ).rejects.toMatchObject({ code: 'invalid_request', path: 'signalIds' });
    const [foreign] = await store.incidents.signalIds(search);
    await expect(
      store.transaction((scope) => splitIncident(scope, checkout, [foreign!], { principal: 'alice' })),
    ).rejects.toMatchObject({ code: 'invalid_request', details: { notHeld: [foreign] } });
  });
});
