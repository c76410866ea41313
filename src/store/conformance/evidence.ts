import { describe, expect, it } from 'vitest';
import { newId } from '../../domain/common.js';
import type { EvidenceBundle, EvidenceGraph } from '../../domain/evidence.js';
import { T0 } from './fixtures.js';
import { expectUniqueViolation, type StoreFactory, unique, useStore } from './harness.js';

function bundle(incidentId: string, asOf: number): EvidenceBundle {
  return {
    id: newId('bundle', asOf),
    incidentId,
    asOf,
    lookbackMs: 3_600_000,
    incident: {
      id: incidentId,
      title: 'checkout is failing',
      severity: 'SEV2',
      status: 'INVESTIGATING',
      services: ['checkout'],
      environment: 'production',
      correlationKey: 'rule:service=checkout',
      ruleId: null,
      startedAt: asOf - 60_000,
      detectedAt: asOf - 30_000,
      acknowledgedAt: null,
      mitigatedAt: null,
      resolvedAt: null,
      closedAt: null,
      signalsResolvedAt: null,
      rootCause: null,
      resolution: null,
      rootService: null,
      mergedInto: null,
      signalCount: 1,
      updatedAt: asOf,
    },
    signals: [
      {
        id: 'sig_1',
        source: 'prometheus',
        fingerprint: 'fp',
        status: 'firing',
        severity: 'error',
        service: 'checkout',
        environment: 'production',
        region: null,
        title: 'error rate above 5%',
        description: null,
        labels: { route: '/pay' },
        annotations: {},
        metric: { name: 'http_errors', value: 0.07, datapoints: [{ at: asOf - 1000, value: 0.07 }] },
        links: [],
        startsAt: asOf - 60_000,
        endsAt: null,
        receivedAt: asOf - 59_000,
        lastSeenAt: asOf - 1000,
        occurrences: 2,
        acknowledgedAt: null,
        suppressedBy: null,
      },
    ],
    detections: [],
    changes: [],
    services: [
      {
        name: 'checkout',
        kind: 'component',
        tier: 1,
        customerFacing: true,
        dependsOn: ['payments'],
        runbooks: [],
        createdAt: T0,
        updatedAt: T0,
      },
    ],
    neighbourhood: [
      { service: 'checkout', distance: 0, relation: 'affected' },
      { service: 'payments', distance: 1, relation: 'dependency' },
    ],
    history: [],
    knowledge: [],
    hash: unique('hash'),
  };
}

function graph(source: EvidenceBundle): EvidenceGraph {
  return {
    id: newId('graph', source.asOf),
    bundleId: source.id,
    incidentId: source.incidentId,
    nodes: [
      { id: 'service:checkout', kind: 'service', label: 'checkout' },
      { id: 'signal:sig_1', kind: 'signal', label: 'error rate above 5%' },
    ],
    edges: [{ from: 'signal:sig_1', to: 'service:checkout', kind: 'observed_on' }],
  };
}

export function evidenceSpecs(init: StoreFactory): void {
  describe('evidence', () => {
    const store = useStore(init);

    it('insertBundle and getBundle round-trip the whole bundle', async () => {
      const stored = bundle(unique('inc'), T0);
      await store().evidence.insertBundle(stored, T0 + 1);
      expect(await store().evidence.getBundle(stored.id)).toEqual(stored);
      expect(await store().evidence.getBundle('bun_unknown')).toBeUndefined();
    });

    it('stores a bundle compressed, and still reads one stored as JSON before compression', async () => {
      const stored = bundle(unique('inc'), T0);
      await store().evidence.insertBundle(stored, T0);
      const raw = await store()
        .db.selectFrom('evidence_bundles')
        .select('content')
        .where('id', '=', stored.id)
        .executeTakeFirstOrThrow();
      const cipher = store().cipher;
      const text = cipher ? cipher.decrypt(raw.content, 'evidence_bundles.content') : raw.content;
      expect(text.startsWith('br:')).toBe(true);

      // A row written by an earlier release: the JSON itself, sealed when the store has keys.
      const earlier = bundle(unique('inc'), T0);
      const json = JSON.stringify(earlier);
      await store()
        .db.insertInto('evidence_bundles')
        .values({
          id: earlier.id,
          incident_id: earlier.incidentId,
          as_of: earlier.asOf,
          hash: earlier.hash,
          content: cipher ? cipher.encrypt(json, 'evidence_bundles.content') : json,
          created_at: T0,
        })
        .execute();
      expect(await store().evidence.getBundle(earlier.id)).toEqual(earlier);
      expect(await store().evidence.latestBundle(earlier.incidentId)).toEqual(earlier);
    });

    it('latestBundle picks the newest as-of time for the incident, ties broken by id', async () => {
      const incidentId = unique('inc');
      const older = bundle(incidentId, T0);
      const tieA = bundle(incidentId, T0 + 1000);
      const tieB = bundle(incidentId, T0 + 1000);
      const otherIncident = bundle(unique('inc'), T0 + 5000);
      for (const item of [tieB, older, tieA, otherIncident]) await store().evidence.insertBundle(item, T0);

      const newestTie = [tieA, tieB].sort((x, y) => (x.id < y.id ? 1 : -1))[0]!;
      expect(await store().evidence.latestBundle(incidentId)).toEqual(newestTie);
      expect(await store().evidence.latestBundle(otherIncident.incidentId)).toEqual(otherIncident);
      expect(await store().evidence.latestBundle(unique('inc'))).toBeUndefined();
    });

    it('insertGraph and graphForBundle round-trip a graph', async () => {
      const source = bundle(unique('inc'), T0);
      await store().evidence.insertBundle(source, T0);
      const stored = graph(source);
      await store().evidence.insertGraph(stored, T0 + 1);

      expect(await store().evidence.graphForBundle(source.id)).toEqual(stored);
      expect(await store().evidence.graphForBundle('bun_unknown')).toBeUndefined();
    });

    it('a bundle has at most one graph', async () => {
      const source = bundle(unique('inc'), T0);
      await store().evidence.insertBundle(source, T0);
      const first = graph(source);
      await store().evidence.insertGraph(first, T0);
      await expectUniqueViolation(store().evidence.insertGraph(graph(source), T0 + 1));
      expect(await store().evidence.graphForBundle(source.id)).toEqual(first);
    });
  });
}
