import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBackstageCatalog } from '../src/catalog/backstage.js';
import { importHistory, readHistoryDirectory } from '../src/incidents/history.js';
import { verifyChain } from '../src/incidents/service.js';
import { threadCheckpoints } from '../src/investigate/service.js';
import { importKnowledge, readKnowledgeDirectory } from '../src/knowledge/import.js';
import { canonicalJson } from '../src/util/hash.js';
import { BACKENDS, REPO_ROOT, type TestServer, testServer } from './support.js';

const EXAMPLES = path.join(REPO_ROOT, 'examples');

describe.each(BACKENDS)('investigation over HTTP on %s', (backend) => {
  let server: TestServer;
  let incidentId: string;
  beforeAll(async () => {
    server = await testServer(backend);
    const { store } = server.runtime;
    const catalog = parseBackstageCatalog(
      readFileSync(path.join(EXAMPLES, 'topology', 'catalog-info.yaml'), 'utf8'),
    );
    if (!catalog.ok) throw new Error(catalog.error.message);
    await store.services.upsertMany(catalog.services);
    const knowledge = readKnowledgeDirectory(path.join(EXAMPLES, 'kb'));
    await store.transaction((scope) => importKnowledge(scope, knowledge.prepared));
    await store.transaction((scope) =>
      importHistory(scope, readHistoryDirectory(path.join(EXAMPLES, 'history')), 'test'),
    );
    const now = Date.now();
    await server.request('POST', '/v1/changes', {
      body: {
        kind: 'deploy',
        service: 'payments-db',
        summary: 'raise max_connections',
        startedAt: new Date(now - 20 * 60_000).toISOString(),
      },
      token: server.tokens.ingest,
    });
    await server.request('POST', '/v1/changes', {
      body: {
        kind: 'deploy',
        service: 'payment-service',
        versionFrom: 'v3.1.4',
        versionTo: 'v3.2.0',
        summary: 'move capture to the new SDK',
        startedAt: new Date(now - 12 * 60_000).toISOString(),
      },
      token: server.tokens.ingest,
    });
    const signal = (service: string, alertname: string, minutesAgo: number, severity = 'critical') => ({
      service,
      environment: 'prod',
      severity,
      title: `${alertname} on ${service}`,
      labels: { alertname },
      startsAt: new Date(now - minutesAgo * 60_000).toISOString(),
    });
    const response = await server.request('POST', '/v1/signals', {
      body: [
        signal('payment-service', 'DBConnectionsExhausted', 8),
        signal('checkout-service', 'Upstream5xx', 6),
        signal('api-gateway', 'HighErrorRate', 5, 'error'),
      ],
      token: server.tokens.ingest,
    });
    incidentId = response.json.signals[0].incidentIds[0];
  });
  afterAll(async () => {
    await server.cleanup();
  });

  it('runs six agents, proposes recommendations, records every step, and leaves the incident ADVISORY_READY', async () => {
    const started = await server.request('POST', `/v1/incidents/${incidentId}/investigations`, {
      token: server.tokens.respond,
    });
    expect(started.status).toBe(201);
    const { findings, recommendations, checkpoints } = started.json;
    expect(findings.map((finding: { agent: string }) => finding.agent)).toEqual([
      'signal-intelligence',
      'historical-pattern',
      'change-intelligence',
      'risk-blast-radius',
      'knowledge-rag',
      'response-strategy',
    ]);
    const strategy = findings[5];
    expect(strategy.data.probableRootCause).toMatchObject({ service: 'payment-service' });
    expect(findings[2].data.ranked[0]).toMatchObject({ service: 'payment-service', kind: 'deploy' });
    expect(recommendations[0]).toMatchObject({
      kind: 'rollback',
      status: 'proposed',
      title: 'Roll back payment-service to v3.1.4',
    });
    expect(checkpoints).toBeGreaterThanOrEqual(3);

    const incident = await server.request('GET', `/v1/incidents/${incidentId}`, {
      token: server.tokens.read,
    });
    expect(incident.json.incident.status).toBe('ADVISORY_READY');
    const events = (
      await server.request('GET', `/v1/incidents/${incidentId}/events`, { token: server.tokens.read })
    ).json.items.map((event: { type: string }) => event.type);
    expect(events.filter((type: string) => type === 'agent_completed')).toHaveLength(6);
    expect(events).toContain('investigation_started');
    expect(events.filter((type: string) => type === 'recommendation_proposed')).toHaveLength(
      recommendations.length,
    );
    expect(await verifyChain(server.runtime.store, incidentId)).toMatchObject({ valid: true });
  });

  it("counts each run's own checkpoints on the incident's thread, the second run's too", async () => {
    const again = await server.request('POST', `/v1/incidents/${incidentId}/investigations`, {
      token: server.tokens.respond,
    });
    expect(again.status).toBe(201);
    const thread = await threadCheckpoints(server.runtime, incidentId);
    const runs = await server.runtime.store.investigations.forIncident(incidentId);
    expect(runs.length).toBeGreaterThanOrEqual(2);
    // Every checkpoint belongs to a run, and each run's count is what the thread holds for it: the
    // second run's input checkpoint (still holding the first run's state) counts for the second.
    expect(thread.every((checkpoint) => runs.some((run) => run.id === checkpoint.investigationId))).toBe(
      true,
    );
    const events = (
      await server.request('GET', `/v1/incidents/${incidentId}/events`, { token: server.tokens.read })
    ).json.items.filter((event: { type: string }) => event.type === 'investigation_completed');
    expect(events.length).toBe(runs.length);
    for (const event of events as { data: { investigationId: string; checkpoints: number } }[]) {
      const held = thread.filter((checkpoint) => checkpoint.investigationId === event.data.investigationId);
      expect(event.data.checkpoints).toBe(held.length);
      expect(held.filter((checkpoint) => checkpoint.source === 'input')).toHaveLength(1);
    }
    expect(again.json.checkpoints).toBe(
      thread.filter((checkpoint) => checkpoint.investigationId === again.json.investigationId).length,
    );
  });

  it('replay re-runs the graph on the frozen bundle and gives byte-identical findings and recommendations', async () => {
    const [latest] = await server.runtime.store.investigations.forIncident(incidentId);
    const stored = await server.runtime.store.investigations.recommendations(incidentId, latest!.id);
    const replay = await server.request('POST', `/v1/incidents/${incidentId}/replay`, {
      body: {},
      token: server.tokens.respond,
    });
    expect(replay.status).toBe(200);
    expect(replay.json).toMatchObject({ investigationId: latest!.id, identical: true, differences: [] });
    expect(replay.json.replayHash).toBe(latest!.outputHash);
    expect(canonicalJson(replay.json.findings)).toBe(canonicalJson(latest!.findings));
    const replayedDrafts = replay.json.findings[5].data.recommendations as Record<string, unknown>[];
    const draftKeys = Object.keys(replayedDrafts[0]!);
    expect(canonicalJson(replayedDrafts)).toBe(
      canonicalJson(
        stored.map((row) => Object.fromEntries(draftKeys.map((key) => [key, row[key as keyof typeof row]]))),
      ),
    );
    const events = (
      await server.request('GET', `/v1/incidents/${incidentId}/events`, { token: server.tokens.read })
    ).json.items;
    expect(events.at(-1)).toMatchObject({
      type: 'investigation_replayed',
      data: { investigationId: latest!.id, identical: true },
    });
  });

  it('replay reports a recorded output that the frozen bundle no longer reproduces, with the diff', async () => {
    const [latest] = await server.runtime.store.investigations.forIncident(incidentId);
    const tampered = structuredClone(latest!.findings);
    tampered[5]!.summary = 'a summary the engine never wrote';
    await server.runtime.store.db
      .updateTable('investigations')
      .set({ result: JSON.stringify({ findings: tampered }) })
      .where('id', '=', latest!.id)
      .execute();
    try {
      const replay = await server.request('POST', `/v1/incidents/${incidentId}/replay`, {
        body: { investigationId: latest!.id },
        token: server.tokens.respond,
      });
      expect(replay.json.identical).toBe(false);
      expect(replay.json.differences).toEqual([
        {
          path: 'findings[5].summary',
          stored: 'a summary the engine never wrote',
          replayed: latest!.findings[5]!.summary,
        },
      ]);
    } finally {
      await server.runtime.store.db
        .updateTable('investigations')
        .set({ result: JSON.stringify({ findings: latest!.findings }) })
        .where('id', '=', latest!.id)
        .execute();
    }
    const missing = await server.request('POST', `/v1/incidents/${incidentId}/replay`, {
      body: { investigationId: 'inv_missing' },
      token: server.tokens.respond,
    });
    expect(missing.status).toBe(404);
  });

  it('replays an investigation for a repeated Idempotency-Key instead of running it again', async () => {
    const headers = { 'idempotency-key': `investigate-${incidentId}` };
    const first = await server.request('POST', `/v1/incidents/${incidentId}/investigations`, {
      headers,
      token: server.tokens.respond,
    });
    const again = await server.request('POST', `/v1/incidents/${incidentId}/investigations`, {
      headers,
      token: server.tokens.respond,
    });
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.json.investigationId).toBe(first.json.investigationId);
    const listed = await server.request('GET', `/v1/incidents/${incidentId}/investigations`, {
      token: server.tokens.read,
    });
    expect(
      listed.json.items.filter((item: { id: string }) => item.id === first.json.investigationId),
    ).toHaveLength(1);
  });

  it('records approvals and rejections with principal and reason, once each', async () => {
    const { items } = (
      await server.request('GET', `/v1/incidents/${incidentId}/recommendations`, {
        token: server.tokens.read,
      })
    ).json;
    const [first, second] = items;
    const approved = await server.request('POST', `/v1/recommendations/${first.id}/approve`, {
      body: { reason: 'deploy lines up with the pool errors' },
      token: server.tokens.respond,
    });
    expect(approved.status).toBe(200);
    expect(approved.json.recommendation).toMatchObject({
      status: 'approved',
      decidedBy: 'token:test-respond',
      decisionReason: 'deploy lines up with the pool errors',
    });
    expect(
      (
        await server.request('POST', `/v1/recommendations/${first.id}/reject`, {
          body: { reason: 'changed my mind' },
          token: server.tokens.respond,
        })
      ).status,
    ).toBe(409);
    const noReason = await server.request('POST', `/v1/recommendations/${second.id}/reject`, {
      body: {},
      token: server.tokens.respond,
    });
    expect(noReason.status).toBe(400);
    expect(noReason.json.error.path).toBe('reason');
    expect(
      (
        await server.request('POST', `/v1/recommendations/${second.id}/reject`, {
          body: { reason: 'not relevant' },
          token: server.tokens.read,
        })
      ).status,
    ).toBe(403);
    expect(
      (
        await server.request('POST', '/v1/recommendations/rec_missing/approve', {
          body: { reason: 'x' },
          token: server.tokens.respond,
        })
      ).status,
    ).toBe(404);
    const events = (
      await server.request('GET', `/v1/incidents/${incidentId}/events`, { token: server.tokens.read })
    ).json.items;
    expect(events.at(-1)).toMatchObject({
      type: 'recommendation_approved',
      principal: 'token:test-respond',
      data: { recommendationId: first.id, reason: 'deploy lines up with the pool errors' },
    });
  });
});
