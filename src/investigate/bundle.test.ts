import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { changeInputSchema } from '../domain/change.js';
import { serviceInputSchema } from '../domain/service.js';
import { storeWithIncident } from '../store/memory.test-support.js';
import type { Store } from '../store/store.js';
import { buildEvidenceBundle, freezeEvidence } from './bundle.js';

const MINUTE = 60_000;

describe('evidence bundles', () => {
  let store: Store | undefined;
  afterEach(async () => {
    await store?.close();
  });

  it('freeze the incident, its neighbourhood and recent changes, stored and on the timeline', async () => {
    const setup = await storeWithIncident('checkout');
    store = setup.store;
    const { incidentId, at } = setup;
    await store.transaction(async (scope) => {
      await scope.services.upsertMany(
        [
          { name: 'checkout', dependsOn: ['payments'], tier: 1 },
          { name: 'payments', dependsOn: [] },
          { name: 'search', dependsOn: [] },
        ].map((service) => serviceInputSchema.parse(service)),
      );
      for (const [service, minutes] of [
        ['checkout', 10],
        ['search', 5],
        ['checkout', 600],
        ['payments', 600],
        ['checkout', 1500],
      ] as const)
        await scope.changes.insert(
          changeInputSchema.parse({
            kind: 'deploy',
            service,
            summary: `${service} release ${minutes}`,
            startedAt: new Date(at - minutes * MINUTE).toISOString(),
          }),
          at - minutes * MINUTE,
        );
    });
    const options = { asOf: at + MINUTE, lookbackMs: 60 * MINUTE, radius: 2 };
    const before = await buildEvidenceBundle(store, incidentId, options);
    const { bundle, graph } = await store.transaction((scope) =>
      freezeEvidence(scope, incidentId, { ...options, principal: 'test' }),
    );
    expect(bundle.signals.map((signal) => signal.service)).toEqual(['checkout']);
    // The changes within the look-back on services of the neighbourhood, and on the affected services
    // a day back (an older change on the origin may still explain it): not a neighbour's older one.
    expect(bundle.changes.map((change) => [change.service, change.summary])).toEqual([
      ['checkout', 'checkout release 10'],
      ['checkout', 'checkout release 600'],
    ]);
    expect(bundle.neighbourhood).toEqual(
      expect.arrayContaining([
        { service: 'checkout', distance: 0, relation: 'affected' },
        { service: 'payments', distance: 1, relation: 'dependency' },
      ]),
    );
    expect(bundle.neighbourhood.map((entry) => entry.service)).not.toContain('search');
    expect(graph.nodes.length).toBeGreaterThan(0);
    expect((await store.evidence.getBundle(bundle.id))?.hash).toBe(bundle.hash);
    expect((await store.incidents.events(incidentId)).at(-1)).toMatchObject({
      type: 'evidence_frozen',
      data: { bundleId: bundle.id, hash: bundle.hash },
    });
    // The same incident at the same point in time gives the same content hash (a new id).
    expect(before.hash).toBe(bundle.hash);
    expect(before.id).not.toBe(bundle.id);
  });

  it('puts the runbook an alert links to (runbook_url) first, above every search hit', async () => {
    const setup = await storeWithIncident('checkout', undefined, {
      annotations: { runbook_url: 'https://runbooks.example.com/runbooks/kubernetes/kubepodcrashlooping' },
    });
    store = setup.store;
    const { incidentId, at } = setup;
    const { readKnowledgeDirectory, importKnowledge } = await import('../knowledge/import.js');
    const root = path.join(import.meta.dirname, '..', '..', 'bench', 'data', 'runbooks-realworld');
    const { prepared } = readKnowledgeDirectory(root, at);
    // A runbook that matches the signal's words better than the linked one.
    const decoy = {
      ...prepared[0]!,
      path: 'checkout/checkout-5xx.md',
      document: {
        ...prepared[0]!.document,
        id: 'doc_decoy',
        path: 'checkout/checkout-5xx.md',
        title: 'checkout 5xx above 20%',
        services: ['checkout'],
        contentHash: 'decoy',
      },
      chunks: prepared[0]!.chunks.map((chunk, ordinal) => ({
        ...chunk,
        id: `chk_decoy_${ordinal}`,
        documentId: 'doc_decoy',
      })),
    };
    await store.transaction((scope) => importKnowledge(scope, [...prepared, decoy]));
    const options = { asOf: at + MINUTE, lookbackMs: 60 * MINUTE, radius: 2 };
    const bundle = await buildEvidenceBundle(store, incidentId, options);
    expect(bundle.knowledge[0]).toMatchObject({ path: 'kubernetes/KubePodCrashLooping.md', kind: 'runbook' });
    expect(bundle.knowledge.map((section) => section.path)).toContain('checkout/checkout-5xx.md');

    const unlinked = await storeWithIncident('checkout', at);
    try {
      await unlinked.store.transaction((scope) => importKnowledge(scope, [...prepared, decoy]));
      const plain = await buildEvidenceBundle(unlinked.store, unlinked.incidentId, options);
      expect(plain.knowledge[0]?.path).toBe('checkout/checkout-5xx.md');
    } finally {
      await unlinked.store.close();
    }
  });

  it('ranks the runbook for the alert that fired above a postmortem that matches more words', async () => {
    const setup = await storeWithIncident('checkout', undefined, { labels: { alertname: 'CheckoutErrors' } });
    store = setup.store;
    const { incidentId, at } = setup;
    const { importKnowledge } = await import('../knowledge/import.js');
    const document = (
      id: string,
      kind: 'runbook' | 'postmortem',
      title: string,
      alerts: string[],
      text: string,
    ) => ({
      path: `${kind}s/${id}.md`,
      document: {
        id,
        path: `${kind}s/${id}.md`,
        title,
        kind,
        services: ['checkout'],
        alerts,
        contentHash: id,
        body: text,
        importedAt: at,
      },
      chunks: [{ id: `${id}_0`, documentId: id, ordinal: 0, heading: title, text }],
    });
    await store.transaction((scope) =>
      importKnowledge(scope, [
        document(
          'pm',
          'postmortem',
          'checkout 5xx above 20% after a deploy',
          [],
          'checkout 5xx above 20%: checkout 5xx, 5xx and more 5xx.',
        ),
        document('rb', 'runbook', 'Checkout errors', ['CheckoutErrors'], 'Roll back the last deploy.'),
      ]),
    );
    const bundle = await buildEvidenceBundle(store, incidentId, {
      asOf: at + MINUTE,
      lookbackMs: 60 * MINUTE,
      radius: 2,
    });
    const [first, second] = bundle.knowledge;
    expect(first).toMatchObject({ documentId: 'rb', kind: 'runbook' });
    expect(second).toMatchObject({ documentId: 'pm', kind: 'postmortem' });
    expect(second!.score).toBeGreaterThan(first!.score);
  });

  it("finds the origin's runbook for its alert even when six wordier runbooks match the words better", async () => {
    const setup = await storeWithIncident('checkout', undefined, { labels: { alertname: 'CheckoutErrors' } });
    store = setup.store;
    const { incidentId, at } = setup;
    const { importKnowledge } = await import('../knowledge/import.js');
    const runbook = (id: string, services: string[], alerts: string[], text: string) => ({
      path: `runbooks/${id}.md`,
      document: {
        id,
        path: `runbooks/${id}.md`,
        title: id,
        kind: 'runbook' as const,
        services,
        alerts,
        contentHash: id,
        body: text,
        importedAt: at,
      },
      chunks: [{ id: `${id}_0`, documentId: id, ordinal: 0, heading: id, text }],
    });
    await store.transaction((scope) =>
      importKnowledge(scope, [
        ...Array.from({ length: 6 }, (_, index) =>
          runbook(
            `checkout-5xx-${index}`,
            ['checkout'],
            ['CheckoutLatency'],
            'checkout 5xx above 20%: checkout 5xx, checkout errors, checkout 5xx above 20% again.',
          ),
        ),
        // Written for every service's error alerts, checkout's among them, in words of its own.
        runbook(
          'kill-switch',
          ['payments', 'search', 'checkout'],
          ['PaymentsDown', 'CheckoutErrors'],
          'Turn the flag off.',
        ),
      ]),
    );
    const bundle = await buildEvidenceBundle(store, incidentId, {
      asOf: at + MINUTE,
      lookbackMs: 60 * MINUTE,
      radius: 2,
    });
    expect(bundle.knowledge[0]).toMatchObject({ documentId: 'kill-switch', kind: 'runbook' });
  });

  it("searches the probable origin's runbooks first, though a caller's alert fired first", async () => {
    // web fires first; checkout, which web calls, fires a minute later and becomes the origin.
    const setup = await storeWithIncident('web', undefined, { labels: { alertname: 'HighErrorRate' } });
    store = setup.store;
    const { incidentId, at } = setup;
    const { importKnowledge } = await import('../knowledge/import.js');
    const { ingestSignals } = await import('../ingest/pipeline.js');
    const { compileRules } = await import('../detect/rules.js');
    const { dependencyGraph } = await import('../detect/topology.js');
    const { signalInputSchema } = await import('../domain/signal.js');
    const runbook = (id: string, service: string, text: string) => ({
      path: `runbooks/${id}.md`,
      document: {
        id,
        path: `runbooks/${id}.md`,
        title: `${service} high error rate`,
        kind: 'runbook' as const,
        services: [service],
        alerts: ['HighErrorRate'],
        contentHash: id,
        body: text,
        importedAt: at,
      },
      chunks: [{ id: `${id}_0`, documentId: id, ordinal: 0, heading: `${service} high error rate`, text }],
    });
    await store.transaction((scope) =>
      importKnowledge(scope, [
        // The caller's runbook matches its many words better; the origin's is short.
        runbook('rb-web', 'web', 'web 5xx above 20%: web 5xx, web errors, web 5xx above 20% on every page.'),
        runbook('rb-checkout', 'checkout', 'Roll back checkout.'),
      ]),
    );
    const rules = compileRules(await store.rules.list());
    await store.transaction((scope) =>
      ingestSignals(
        scope,
        [
          {
            ...signalInputSchema.parse({
              service: 'checkout',
              severity: 'critical',
              title: 'checkout 5xx above 20%',
              startsAt: new Date(at + MINUTE).toISOString(),
              labels: { alertname: 'HighErrorRate' },
            }),
            fingerprint: 'checkout-5xx',
          },
        ],
        {
          principal: 'test',
          now: at + MINUTE,
          settings: { autoResolve: true, reopenGraceMs: 0 },
          rules,
          graph: dependencyGraph([{ service: 'web', dependsOn: 'checkout' }]),
          silences: [],
        },
      ),
    );
    const incident = await store.incidents.get(incidentId);
    expect(incident?.rootService).toBe('checkout');
    const bundle = await buildEvidenceBundle(store, incidentId, {
      asOf: at + 2 * MINUTE,
      lookbackMs: 60 * MINUTE,
      radius: 2,
    });
    expect(bundle.knowledge[0]).toMatchObject({ documentId: 'rb-checkout' });
    expect(bundle.knowledge.map((section) => section.documentId)).toContain('rb-web');
  });
});
