import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dependencyGraph } from '../detect/topology.js';
import { storeSignals } from '../store/memory.test-support.js';
import { openStore, type Store, type StoreScope } from '../store/store.js';
import { IncidentBatch } from './batch.js';
import { verifyChain } from './service.js';

const T0 = Date.UTC(2026, 11, 1, 12);
const WINDOW_MS = 10 * 60_000;
const rule = { id: 'rule-critical', name: 'critical-signal' };

let store: Store;
beforeEach(async () => {
  store = await openStore(':memory:');
  await store.migrate();
});
afterEach(async () => {
  await store.close();
});

/** A batch at `now`, with the topology rule on over web → checkout → payments. */
function batch(scope: StoreScope, now: number): IncidentBatch {
  return new IncidentBatch(scope, {
    principal: 'test',
    now,
    reopenGraceMs: 0,
    autoResolve: true,
    topology: {
      rule: 'service-topology',
      graph: dependencyGraph([
        { service: 'web', dependsOn: 'checkout' },
        { service: 'checkout', dependsOn: 'payments' },
      ]),
      hops: 2,
      windowMs: WINDOW_MS,
    },
  });
}

/** Opens an incident on `service` with one critical signal, written through a batch. */
async function openOn(service: string): Promise<string> {
  return store.transaction(async (scope) => {
    const [signal] = await storeSignals(scope, [{ service, severity: 'critical' }], T0);
    const incidents = batch(scope, T0);
    const id = incidents.create({
      title: `${service} errors`,
      severity: 'SEV3',
      correlationKey: `critical-signal|${service}|prod`,
      environment: 'prod',
      rule,
      startedAt: signal!.starts_at,
    });
    incidents.join(id, signal!.id, {
      service,
      at: signal!.starts_at,
      severity: 'critical',
      title: signal!.title,
      reason: { kind: 'rule', rule: rule.name },
    });
    await incidents.attach();
    await incidents.flush();
    return id;
  });
}

describe('IncidentBatch', () => {
  it('writes a created incident with its signal, services and a chain that verifies', async () => {
    const id = await openOn('checkout');
    const incident = await store.incidents.get(id);
    expect(incident).toMatchObject({
      status: 'OPEN',
      services: ['checkout'],
      signalCount: 1,
      severity: 'SEV3',
    });
    const events = await store.incidents.events(id);
    expect(events.map((event) => event.type)).toEqual(['created', 'signal_attached']);
    expect(await store.transaction((scope) => verifyChain(scope, id))).toMatchObject({ valid: true });
  });

  it('escalates an incident, and never lowers it', async () => {
    const id = await openOn('checkout');
    await store.transaction(async (scope) => {
      const incidents = batch(scope, T0 + 1000);
      await incidents.load([id]);
      incidents.escalate(id, 'SEV1', 'critical-signal');
      incidents.escalate(id, 'SEV4', 'critical-signal');
      await incidents.flush();
    });
    expect((await store.incidents.get(id))?.severity).toBe('SEV1');
  });

  it('finds the open incident a caller joins by topology, only in its environment and window', async () => {
    const id = await openOn('checkout');
    await store.transaction(async (scope) => {
      const incidents = batch(scope, T0 + 60_000);
      // Correlation loads the incidents holding any service of the signal's neighbourhood.
      await incidents.loadNear('prod', ['web', 'checkout', 'payments'], T0 - WINDOW_MS);
      expect(incidents.topologyTarget('web', 'prod', T0 + 60_000)).toEqual({
        id,
        path: { relation: 'caller', path: ['web', 'checkout'] },
      });
      expect(incidents.topologyTarget('web', 'staging', T0 + 60_000)).toBeUndefined();
      expect(incidents.topologyTarget('web', 'prod', T0 + WINDOW_MS + 60_000)).toBeUndefined();
      // An unrelated service has no path to the incident.
      expect(incidents.topologyTarget('search', 'prod', T0 + 60_000)).toBeUndefined();
    });
  });
});
