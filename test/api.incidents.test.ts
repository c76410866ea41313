import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, type TestServer, testServer } from './support.js';

const critical = (service: string, fingerprint: string, extra: Record<string, unknown> = {}) => ({
  source: 'generic',
  service,
  environment: 'prod',
  severity: 'critical',
  title: `${service} is failing`,
  fingerprint,
  ...extra,
});

async function openIncident(
  server: TestServer,
  service: string,
  fingerprint = `${service}-fp`,
  extra: Record<string, unknown> = {},
): Promise<string> {
  const response = await server.request('POST', '/v1/signals', {
    body: critical(service, fingerprint, extra),
    token: server.tokens.ingest,
  });
  expect(response.status).toBe(200);
  const id = response.json.signals[0].incidentIds[0];
  expect(id).toMatch(/^inc_/);
  return id;
}

/** ISO-8601 in UTC to the millisecond, as the API writes every time of a live row. */
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const iso = (epochMs: number) => new Date(epochMs).toISOString();

/**
 * Every time field (`at`, `…At`) in an answer is ISO text or null. Findings (the agents' hashed output)
 * and metric datapoints (the series as sent) keep their numbers and are not walked.
 */
function expectIsoTimes(body: unknown, what: string, path = ''): void {
  if (Array.isArray(body)) {
    for (const [index, item] of body.entries()) expectIsoTimes(item, what, `${path}[${index}]`);
    return;
  }
  if (body === null || typeof body !== 'object') return;
  for (const [key, value] of Object.entries(body)) {
    if (key === 'findings' || key === 'datapoints') continue;
    if (/^at$|At$/.test(key) && value !== null)
      expect(typeof value === 'string' && ISO.test(value), `${what}: ${path}.${key} is ${value}`).toBe(true);
    else expectIsoTimes(value, what, `${path}.${key}`);
  }
}

describe.each(BACKENDS)('incident lifecycle over HTTP on %s', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await testServer(backend, { reopenGraceSeconds: 600 });
    await server.request('POST', '/v1/services', {
      body: [
        { name: 'frontend', tier: 1, customerFacing: true, dependsOn: ['orders'] },
        { name: 'orders', tier: 1, dependsOn: ['orders-db'] },
        { name: 'orders-db', kind: 'resource', tier: 1 },
        { name: 'billing', tier: 2 },
      ],
    });
  });
  afterAll(async () => {
    await server.cleanup();
  });

  it('walks the lifecycle, records each move with its principal, and refuses illegal moves with 409', async () => {
    const id = await openIncident(server, 'orders');
    const respond = server.tokens.respond;
    const ack = await server.request('POST', `/v1/incidents/${id}/acknowledge`, { body: {}, token: respond });
    expect(ack.status).toBe(200);
    expect(ack.json.incident.status).toBe('ACKNOWLEDGED');
    expect(ack.json.incident.acknowledgedAt).not.toBeNull();
    expect(
      (
        await server.request('POST', `/v1/incidents/${id}/mitigate`, {
          body: { reason: 'rolled back' },
          token: respond,
        })
      ).json.incident.status,
    ).toBe('MITIGATED');
    const illegal = await server.request('POST', `/v1/incidents/${id}/close`, { body: {}, token: respond });
    expect(illegal.status).toBe(409);
    expect(illegal.json.error.code).toBe('illegal_transition');
    expect(illegal.json.error.message).toContain('MITIGATED');
    const resolved = await server.request('POST', `/v1/incidents/${id}/resolve`, {
      body: { rootCause: 'orders v2.3 exhausted the DB pool', resolution: 'rolled back to v2.2' },
      token: respond,
    });
    expect(resolved.json.incident).toMatchObject({
      status: 'RESOLVED',
      rootCause: 'orders v2.3 exhausted the DB pool',
      resolution: 'rolled back to v2.2',
    });
    expect(
      (await server.request('POST', `/v1/incidents/${id}/close`, { body: {}, token: respond })).json.incident
        .status,
    ).toBe('CLOSED');
    expect(
      (await server.request('POST', `/v1/incidents/${id}/reopen`, { body: {}, token: respond })).status,
    ).toBe(409);

    const note = await server.request('POST', `/v1/incidents/${id}/notes`, {
      body: { text: 'postmortem scheduled' },
      token: respond,
    });
    expect(note.status).toBe(201);
    const events = await server.request('GET', `/v1/incidents/${id}/events`, { token: server.tokens.read });
    const types = events.json.items.map((event: { type: string }) => event.type);
    expect(types).toEqual([
      'created',
      'signal_attached',
      'status_changed',
      'status_changed',
      'status_changed',
      'status_changed',
      'note_added',
    ]);
    expect(events.json.items[2].principal).toBe('token:test-respond');
    expect(
      (await server.request('POST', `/v1/incidents/${id}/notes`, { body: { text: '   ' }, token: respond }))
        .status,
    ).toBe(400);
    expect(
      (await server.request('POST', '/v1/incidents/inc_missing/acknowledge', { body: {}, token: respond }))
        .status,
    ).toBe(404);
    expect(
      (
        await server.request('POST', `/v1/incidents/${id}/acknowledge`, {
          body: {},
          token: server.tokens.read,
        })
      ).status,
    ).toBe(403);
  });

  it('verifies the event hash chain and detects an edited event', async () => {
    const id = await openIncident(server, 'billing');
    await server.request('POST', `/v1/incidents/${id}/notes`, {
      body: { text: 'looking' },
      token: server.tokens.respond,
    });
    const ok = await server.request('GET', `/v1/incidents/${id}/verify`, { token: server.tokens.read });
    expect(ok.json).toEqual({ incidentId: id, valid: true, events: 3 });
    await server.runtime.store.db
      .updateTable('incident_events')
      .set({ data: JSON.stringify({ text: 'nothing to see' }) })
      .where('incident_id', '=', id)
      .where('type', '=', 'note_added')
      .execute();
    const broken = await server.request('GET', `/v1/incidents/${id}/verify`, { token: server.tokens.read });
    expect(broken.json.valid).toBe(false);
    expect(broken.json.brokenAt.seq).toBe(3);
    expect(broken.json.brokenAt.reason).toContain('edited');
  });

  it('marks an incident when all its signals resolved, and a later firing signal re-opens a resolved one within grace', async () => {
    const id = await openIncident(server, 'frontend', 'frontend-1');
    await server.request('POST', '/v1/signals', {
      body: critical('frontend', 'frontend-1', { status: 'resolved' }),
      token: server.tokens.ingest,
    });
    const marked = await server.request('GET', `/v1/incidents/${id}`, { token: server.tokens.read });
    expect(marked.json.incident.signalsResolvedAt).not.toBeNull();
    expect(marked.json.incident.status).toBe('OPEN');
    await server.request('POST', `/v1/incidents/${id}/resolve`, { body: {}, token: server.tokens.respond });
    const again = await server.request('POST', '/v1/signals', {
      body: critical('frontend', 'frontend-2'),
      token: server.tokens.ingest,
    });
    expect(again.json.signals[0].incidentIds).toEqual([id]);
    const reopened = await server.request('GET', `/v1/incidents/${id}`, { token: server.tokens.read });
    expect(reopened.json.incident.status).toBe('OPEN');
    expect(reopened.json.incident.signalsResolvedAt).toBeNull();
    const types = (
      await server.request('GET', `/v1/incidents/${id}/events`, { token: server.tokens.read })
    ).json.items.map((event: { type: string }) => event.type);
    expect(types).toContain('reopened');
    expect(types).toContain('signals_resolved');
  });

  it('lists with filters and cursor pagination, newest first, without gaps or repeats', async () => {
    const ids: string[] = [];
    for (let index = 0; index < 5; index += 1) ids.push(await openIncident(server, `page-${index}`));
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `/v1/incidents?limit=2&status=OPEN${cursor ? `&cursor=${cursor}` : ''}`;
      const page = await server.request('GET', query, { token: server.tokens.read });
      expect(page.status).toBe(200);
      expect(page.json.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.json.items.map((incident: { id: string }) => incident.id));
      cursor = page.json.nextCursor;
    } while (cursor);
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of ids) expect(seen).toContain(id);
    const positions = ids.map((id) => seen.indexOf(id));
    expect([...positions].sort((a, b) => b - a)).toEqual(positions);

    const bySeverity = await server.request('GET', '/v1/incidents?severity=SEV4', {
      token: server.tokens.read,
    });
    expect(bySeverity.json.items).toEqual([]);
    const badStatus = await server.request('GET', '/v1/incidents?status=ON_FIRE', {
      token: server.tokens.read,
    });
    expect(badStatus.status).toBe(400);
    expect(badStatus.json.error.path).toContain('status');
    expect(
      (await server.request('GET', '/v1/incidents?cursor=garbage', { token: server.tokens.read })).status,
    ).toBe(400);
    expect(
      (await server.request('GET', '/v1/incidents?since=yesterday', { token: server.tokens.read })).status,
    ).toBe(400);
  });

  it('searches titles, services and notes with q, ignoring case, with % and _ taken as themselves', async () => {
    const read = { token: server.tokens.read };
    const search = async (q: string, extra = '') => {
      const response = await server.request(
        'GET',
        `/v1/incidents?limit=500&q=${encodeURIComponent(q)}${extra}`,
        read,
      );
      expect(response.status, response.text).toBe(200);
      return (response.json.items as { id: string }[]).map((incident) => incident.id);
    };
    const byTitle = await openIncident(server, 'search-a', 'search-a-fp', {
      title: 'Disk 100% full on Ledger_Primary',
    });
    const byService = await openIncident(server, 'Payments-Search-B', 'search-b-fp', {
      title: 'latency above the SLO',
    });
    const note = await server.request('POST', `/v1/incidents/${byService}/notes`, {
      body: { text: 'zebra-quartz in a note' },
      token: server.tokens.respond,
    });
    expect(note.status).toBe(201);

    expect(await search('ledger_primary')).toEqual([byTitle]);
    expect(await search('  DISK 100% ')).toEqual([byTitle]);
    // The wildcards are literal: "_" is not any character, "%" is not any run.
    expect(await search('ledger-primary')).toEqual([]);
    expect(await search('disk%full')).toEqual([]);
    expect(await search('payments-search')).toEqual([byService]);
    expect(await search('search-')).toEqual([byService, byTitle]);
    // With the other filters, and by service even when the title does not say it.
    expect(await search('search-', '&service=search-a')).toEqual([byTitle]);
    expect(await search('search-', '&severity=SEV4')).toEqual([]);
    // And in notes, read through the store's key (they are encrypted at rest).
    expect(await search('ZEBRA-quartz')).toEqual([byService]);
    // A blank q filters nothing; a long one is refused in words.
    expect(await search(' ')).toEqual(expect.arrayContaining([byService, byTitle]));
    const tooLong = await server.request('GET', `/v1/incidents?q=${'x'.repeat(201)}`, read);
    expect(tooLong.status).toBe(400);
    expect(tooLong.json.error.path).toContain('q');
  });

  it('tells a token its own name and scopes (GET /v1/whoami)', async () => {
    const respond = await server.request('GET', '/v1/whoami', { token: server.tokens.respond });
    // A respond-only token may not read; whoami needs read like every other GET.
    expect(respond.status).toBe(403);
    const read = await server.request('GET', '/v1/whoami', { token: server.tokens.read });
    expect(read.status).toBe(200);
    expect(read.json).toEqual({ name: 'token:test-read', scopes: ['read'] });
    const admin = await server.request('GET', '/v1/whoami', { token: server.tokens.admin });
    expect(admin.json).toEqual({ name: 'token:test-admin', scopes: ['admin'] });
    expect((await server.request('GET', '/v1/whoami', { token: null })).status).toBe(401);
  });

  it('freezes an evidence bundle with the topology neighbourhood and changes in the look-back', async () => {
    await server.request('POST', '/v1/changes', {
      body: {
        kind: 'deploy',
        service: 'orders-db',
        summary: 'raise max_connections',
        startedAt: new Date(Date.now() - 600_000).toISOString(),
      },
      token: server.tokens.ingest,
    });
    await server.request('POST', '/v1/changes', {
      body: {
        kind: 'deploy',
        service: 'orders-db',
        summary: 'too old',
        startedAt: new Date(Date.now() - 30 * 86_400_000).toISOString(),
      },
      token: server.tokens.ingest,
    });
    // Another environment: in prod, frontend (which calls orders) still has an incident open from an
    // earlier test, and this signal would join it.
    const id = await openIncident(server, 'orders', 'orders-evidence', { environment: 'staging' });
    const frozen = await server.request('POST', `/v1/incidents/${id}/evidence`, {
      token: server.tokens.respond,
    });
    expect(frozen.status).toBe(201);
    const { bundle, graph } = frozen.json;
    expect(bundle.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(bundle.neighbourhood).toEqual(
      expect.arrayContaining([
        { service: 'orders', distance: 0, relation: 'affected' },
        { service: 'orders-db', distance: 1, relation: 'dependency' },
        { service: 'frontend', distance: 1, relation: 'dependent' },
      ]),
    );
    expect(bundle.changes.map((change: { summary: string }) => change.summary)).toEqual([
      'raise max_connections',
    ]);
    expect(graph.edges).toEqual(
      expect.arrayContaining([{ from: 'service:frontend', to: 'service:orders', kind: 'depends_on' }]),
    );
    const latest = await server.request('GET', `/v1/incidents/${id}/evidence`, { token: server.tokens.read });
    expect(latest.json.bundle.id).toBe(bundle.id);
  });

  it('lets an admin edit rules over the API, versioning them and applying them to new signals', async () => {
    const rule = {
      name: 'payments-any-error',
      matchers: [
        { field: 'service', op: '=~', value: 'pay.*' },
        { field: 'severity', op: '>=', value: 'error' },
      ],
      groupBy: ['service'],
      windowSeconds: 300,
      threshold: { kind: 'count', value: 1 },
      severity: 'SEV1',
      titleTemplate: 'Payments trouble on {{service}}',
    };
    const created = await server.request('POST', '/v1/rules', { body: rule });
    expect(created.status).toBe(201);
    expect(created.json.version).toBe(1);
    expect((await server.request('POST', '/v1/rules', { body: rule })).status).toBe(409);
    const badRegex = await server.request('POST', '/v1/rules', {
      body: { ...rule, name: 'bad', matchers: [{ field: 'service', op: '=~', value: '(' }] },
    });
    expect(badRegex.status).toBe(400);
    expect(badRegex.json.error.path).toBe('matchers[0].value');
    // A topology rule's cascade opening needs at least two services.
    const badOpens = await server.request('POST', '/v1/rules', {
      body: { kind: 'topology', name: 'bad-opens', windowSeconds: 600, opens: { services: 1 } },
    });
    expect(badOpens.status).toBe(400);
    expect(badOpens.json.error.path).toBe('opens.services');
    // A sustain shorter than the worker's 30-second sweep could not be honoured.
    const badSustain = await server.request('POST', '/v1/rules', {
      body: { ...rule, name: 'bad-sustain', sustainedSeconds: 5 },
    });
    expect(badSustain.status).toBe(400);
    expect(badSustain.json.error.path).toBe('sustainedSeconds');
    expect((await server.request('GET', '/v1/rules/bad-sustain')).status).toBe(404);
    expect((await server.request('GET', '/v1/rules/sustained-error')).json).toMatchObject({
      sustainedSeconds: 300,
    });

    const signal = await server.request('POST', '/v1/signals', {
      body: { service: 'payments', severity: 'error', title: 'card declines', fingerprint: 'pay-1' },
      token: server.tokens.ingest,
    });
    const incident = await server.request('GET', `/v1/incidents/${signal.json.signals[0].incidentIds[0]}`, {
      token: server.tokens.read,
    });
    expect(incident.json.incident).toMatchObject({ severity: 'SEV1', title: 'Payments trouble on payments' });

    const updated = await server.request('PUT', '/v1/rules/payments-any-error', {
      body: { ...rule, enabled: false },
    });
    expect(updated.json).toMatchObject({ version: 2, enabled: false });
    const quiet = await server.request('POST', '/v1/signals', {
      body: { service: 'payouts', severity: 'error', title: 'x', fingerprint: 'pay-2' },
      token: server.tokens.ingest,
    });
    expect(quiet.json.signals[0].incidentIds).toEqual([]);
    expect((await server.request('DELETE', '/v1/rules/payments-any-error')).status).toBe(200);
    expect(
      (await server.request('GET', '/v1/rules/payments-any-error', { token: server.tokens.read })).status,
    ).toBe(404);
  });

  it('stores signals matched by a silence as suppressed and opens nothing for them', async () => {
    const silence = await server.request('POST', '/v1/silences', {
      body: {
        kind: 'maintenance',
        matchers: [{ field: 'service', op: '=', value: 'search' }],
        endsAt: new Date(Date.now() + 3_600_000).toISOString(),
        comment: 'reindex',
      },
    });
    expect(silence.status).toBe(201);
    const response = await server.request('POST', '/v1/signals', {
      body: critical('search', 'search-1'),
      token: server.tokens.ingest,
    });
    expect(response.json.signals[0]).toMatchObject({
      action: 'created',
      suppressedBy: silence.json.id,
      incidentIds: [],
    });
    const stored = await server.request('GET', `/v1/signals/${response.json.signals[0].id}`, {
      token: server.tokens.read,
    });
    expect(stored.json.signal.suppressedBy).toBe(silence.json.id);
    expect((await server.request('DELETE', `/v1/silences/${silence.json.id}`)).status).toBe(200);
    const after = await server.request('POST', '/v1/signals', {
      body: critical('search', 'search-2'),
      token: server.tokens.ingest,
    });
    expect(after.json.signals[0].incidentIds).toHaveLength(1);
    const badSilence = await server.request('POST', '/v1/silences', {
      body: { matchers: [], endsAt: '2030-01-01T00:00:00Z' },
    });
    expect(badSilence.status).toBe(400);
  });

  it('manages tokens: create with scopes, use, revoke', async () => {
    const created = await server.request('POST', '/v1/tokens', {
      body: { name: 'ci-ingest', scopes: ['ingest'] },
    });
    expect(created.status).toBe(201);
    const token = created.json.token as string;
    expect(token).toHaveLength(32);
    expect(
      (await server.request('POST', '/v1/signals', { body: { service: 'a', title: 'b' }, token })).status,
    ).toBe(200);
    expect(
      (await server.request('POST', '/v1/tokens', { body: { name: 'x', scopes: ['superuser'] } })).status,
    ).toBe(400);
    const listed = await server.request('GET', '/v1/tokens');
    expect(JSON.stringify(listed.json)).not.toContain(token);
    const withKey = await server.request('POST', '/v1/tokens', {
      body: { name: 'keyed', scopes: ['read'] },
      headers: { 'idempotency-key': 'token-1' },
    });
    expect(withKey.status).toBe(400);
    expect(withKey.json.error.path).toBe('Idempotency-Key');
    const headers = { 'idempotency-key': `revoke-${created.json.id}` };
    expect((await server.request('DELETE', `/v1/tokens/${created.json.id}`, { headers })).status).toBe(200);
    const replay = await server.request('DELETE', `/v1/tokens/${created.json.id}`, { headers });
    expect(replay.status).toBe(200);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect((await server.request('DELETE', `/v1/tokens/${created.json.id}`)).status).toBe(404);
    expect(
      (await server.request('POST', '/v1/signals', { body: { service: 'a', title: 'b' }, token })).status,
    ).toBe(401);
  });

  it('answers every live row with ISO-8601 UTC times, the stored time to the millisecond; frozen evidence keeps epoch ms', async () => {
    const { store } = server.runtime;
    const { ingest, read, respond } = server.tokens;
    const startsAt = new Date(Date.now() - 5 * 60_000 + 123).toISOString();
    const sent = await server.request('POST', '/v1/signals', {
      body: critical('iso-times', 'iso-times-1', {
        startsAt,
        // Datapoints are part of the metric as sent and frozen: they stay epoch ms.
        metric: { name: 'error_ratio', value: 0.2, datapoints: [{ at: Date.parse(startsAt), value: 0.2 }] },
      }),
      token: ingest,
    });
    const signalId: string = sent.json.signals[0].id;
    const incidentId: string = sent.json.signals[0].incidentIds[0];
    const stored = (await store.signals.get(signalId))!;

    const listed = await server.request('GET', '/v1/signals?service=iso-times', { token: read });
    const signal = listed.json.items.find((item: { id: string }) => item.id === signalId);
    expect(signal).toMatchObject({
      startsAt,
      endsAt: null,
      receivedAt: iso(stored.receivedAt),
      lastSeenAt: iso(stored.lastSeenAt),
      acknowledgedAt: null,
    });
    expect(signal.metric.datapoints).toEqual([{ at: Date.parse(startsAt), value: 0.2 }]);
    expectIsoTimes(listed.json, 'GET /v1/signals');

    const one = await server.request('GET', `/v1/signals/${signalId}`, { token: read });
    expect(one.json.signal).toEqual(signal);
    const detections = await store.detections.forSignal(signalId);
    expect(detections.length).toBeGreaterThan(0);
    expect(one.json.detections).toEqual(
      detections.map((detection) => ({
        ...detection,
        at: iso(detection.at),
        createdAt: iso(detection.createdAt),
      })),
    );

    const detail = await server.request('GET', `/v1/incidents/${incidentId}`, { token: read });
    const attached = detail.json.signals.find((item: { id: string }) => item.id === signalId);
    expect(attached).toMatchObject({
      startsAt,
      receivedAt: signal.receivedAt,
      lastSeenAt: signal.lastSeenAt,
    });
    expectIsoTimes(detail.json, `GET /v1/incidents/${incidentId}`);

    const created = await server.request('POST', '/v1/tokens', {
      body: { name: 'iso-check', scopes: ['read'] },
    });
    expect(created.status).toBe(201);
    const token = (await store.tokens.list()).find((item) => item.id === created.json.id)!;
    expect(created.json).toMatchObject({
      createdAt: iso(token.createdAt),
      lastUsedAt: null,
      revokedAt: null,
    });
    const tokens = await server.request('GET', '/v1/tokens');
    expect(tokens.json.items.find((item: { id: string }) => item.id === token.id)).toEqual({
      ...token,
      createdAt: iso(token.createdAt),
    });
    expectIsoTimes(tokens.json, 'GET /v1/tokens');

    const run = await server.request('POST', `/v1/incidents/${incidentId}/investigations`, {
      token: respond,
    });
    expect(run.status).toBe(201);
    expectIsoTimes(run.json, 'POST /v1/incidents/:id/investigations');
    const [investigation] = await store.investigations.forIncident(incidentId);
    const investigations = await server.request('GET', `/v1/incidents/${incidentId}/investigations`, {
      token: read,
    });
    expect(investigations.json.items[0]).toMatchObject({
      id: investigation!.id,
      startedAt: iso(investigation!.startedAt),
      finishedAt: iso(investigation!.finishedAt!),
    });
    expectIsoTimes(investigations.json, 'GET /v1/incidents/:id/investigations');
    const recommendations = await server.request('GET', `/v1/incidents/${incidentId}/recommendations`, {
      token: read,
    });
    const recommendation = recommendations.json.items[0];
    expect(recommendation.createdAt).toMatch(ISO);
    const decided = await server.request('POST', `/v1/recommendations/${recommendation.id}/approve`, {
      body: { reason: 'checking the times' },
      token: respond,
    });
    const approved = (await store.investigations.recommendations(incidentId)).find(
      (item) => item.id === recommendation.id,
    )!;
    expect(decided.json.recommendation).toMatchObject({
      createdAt: iso(approved.createdAt),
      decidedAt: iso(approved.decidedAt!),
    });

    // The rest of the live rows: catalog, changes, rules, silences, audit, traces, alarms.
    const silence = await server.request('POST', '/v1/silences', {
      body: { matchers: [{ field: 'service', op: '=', value: 'nowhere' }], endsAt: '2099-01-01T00:00:00Z' },
    });
    expect(silence.json).toMatchObject({
      endsAt: '2099-01-01T00:00:00.000Z',
      createdAt: expect.stringMatching(ISO),
    });
    const evaluated = await server.request('POST', '/v1/alarms/evaluate');
    expect(evaluated.status).toBe(200);
    expectIsoTimes(evaluated.json, 'POST /v1/alarms/evaluate');
    for (const route of [
      '/v1/changes',
      '/v1/services',
      '/v1/services/billing',
      '/v1/rules',
      '/v1/silences',
      '/v1/audit',
      `/v1/traces?incidentId=${incidentId}`,
      '/v1/alarms',
      '/v1/kb/documents',
      '/v1/ingest/cloudwatch/subscriptions',
    ]) {
      const answer = await server.request('GET', route);
      expect(answer.status, route).toBe(200);
      expectIsoTimes(answer.json, `GET ${route}`);
    }

    // Frozen evidence is hashed and replayed as it was frozen: its times stay epoch milliseconds.
    const evidence = await server.request('GET', `/v1/incidents/${incidentId}/evidence`, { token: read });
    expect(evidence.json.bundle.asOf).toEqual(expect.any(Number));
    expect(evidence.json.bundle.incident.detectedAt).toEqual(expect.any(Number));
    const frozen = evidence.json.bundle.signals.find((item: { id: string }) => item.id === signalId);
    expect(frozen.startsAt).toBe(Date.parse(startsAt));
  });
});

describe('auto-resolve', () => {
  it('resolves the incident when its last signal resolves, when configured', async () => {
    const server = await testServer('sqlite', { autoResolve: true });
    try {
      const id = await openIncident(server, 'auto', 'auto-1');
      await server.request('POST', '/v1/signals', {
        body: critical('auto', 'auto-1', { status: 'resolved' }),
        token: server.tokens.ingest,
      });
      const incident = await server.request('GET', `/v1/incidents/${id}`, { token: server.tokens.read });
      expect(incident.json.incident.status).toBe('RESOLVED');
      const events = await server.request('GET', `/v1/incidents/${id}/events`, { token: server.tokens.read });
      expect(events.json.items.at(-1)).toMatchObject({
        type: 'status_changed',
        principal: 'system:auto-resolve',
      });
    } finally {
      await server.cleanup();
    }
  });
});
