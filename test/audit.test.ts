import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HMAC_SIGNATURE_HEADER, HMAC_TIMESTAMP_HEADER, hmacSignature } from '../src/auth/sources.js';
import { BACKENDS, payload, REPO_ROOT, type TestServer, testServer } from './support.js';

const SECRET = 'an-hmac-secret-long-enough-for-the-signals-source';
const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(path.join(REPO_ROOT, 'src', 'ingest', 'adapters', 'fixtures', name), 'utf8'));

/** `METHOD /path` of every write route in Fastify's route tree (printRoutes indents 4 per level). */
function declaredWrites(tree: string): string[] {
  const stack: string[] = [];
  const out: string[] = [];
  for (const line of tree.split('\n')) {
    const match = /^(.*?)[├└]── (\S+)(?: \(([^)]+)\))?$/.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4;
    stack[depth] = (depth === 0 ? '' : stack[depth - 1]!) + match[2]!;
    stack.length = depth + 1;
    for (const method of (match[3] ?? '').split(', '))
      if (['POST', 'PUT', 'DELETE', 'PATCH'].includes(method))
        out.push(`${method} ${stack[depth]!.replace(/^\/\//, '/')}`);
  }
  return out;
}

/** POST/PUT/DELETE routes that change nothing, so they have nothing to audit. */
const NOT_WRITES = new Set(['POST /v1/guardrails/check', 'POST /v1/rules/dry-run']);

describe.each(BACKENDS)('audit log of authenticated writes (%s)', (backend) => {
  let server: TestServer;
  /** Each write sent: the route and the target the audit entry must name. */
  const sent: { action: string; principal: string; target: string | null; status: number }[] = [];

  beforeAll(async () => {
    server = await testServer(backend, {
      sourceAuth: { alertmanager: { mode: 'hmac', secrets: [SECRET], toleranceSeconds: 300 } },
    });
  });
  afterAll(async () => {
    await server.cleanup();
  });

  async function write(
    method: string,
    route: string,
    path: string,
    options: {
      body?: unknown;
      token?: string | null;
      headers?: Record<string, string>;
      rawBody?: string;
    } = {},
    target: string | null = null,
    principal?: string,
  ) {
    const token = options.token === undefined ? server.tokens.admin : options.token;
    const response = await server.request(method, path, { ...options, token });
    expect(response.status, `${method} ${path}: ${response.text}`).toBeLessThan(300);
    sent.push({
      action: `${method} ${route}`,
      principal:
        principal ?? `token:test-${Object.entries(server.tokens).find(([, value]) => value === token)?.[0]}`,
      target,
      status: response.status,
    });
    return response;
  }

  it('records every write with its principal, action, target and time', async () => {
    const started = Date.now();
    const { tokens } = server;
    // Ingest, one request per receiver.
    const signal = await write('POST', '/v1/signals', '/v1/signals', {
      token: tokens.ingest,
      body: { service: 'payments', title: 'p99 latency', severity: 'critical' },
    });
    const body = JSON.stringify(payload('alertmanager-0.25-webhook-firing.json'));
    const timestamp = String(Math.floor(Date.now() / 1000));
    await write(
      'POST',
      '/v1/ingest/alertmanager',
      '/v1/ingest/alertmanager',
      {
        token: null,
        rawBody: body,
        headers: {
          'content-type': 'application/json',
          [HMAC_TIMESTAMP_HEADER]: timestamp,
          [HMAC_SIGNATURE_HEADER]: hmacSignature(SECRET, timestamp, body),
        },
      },
      null,
      'hmac:alertmanager',
    );
    await write('POST', '/api/v2/alerts', '/api/v2/alerts', {
      token: tokens.ingest,
      body: fixture('prometheus-alerts.json'),
    });
    await write('POST', '/v1/ingest/cloudwatch', '/v1/ingest/cloudwatch', {
      token: tokens.ingest,
      body: payload('cloudwatch-alarm-sns-payload-multiple-metrics.json'),
    });
    await write('POST', '/v1/ingest/eventbridge', '/v1/ingest/eventbridge', {
      token: tokens.ingest,
      body: fixture('eventbridge-alarm-single-metric.json'),
    });
    await write(
      'POST',
      '/v2/enqueue',
      '/v2/enqueue',
      {
        token: null,
        body: { ...(fixture('pagerduty-trigger.json') as object), routing_key: tokens.ingest },
      },
      null,
      'token:test-ingest',
    );
    await write(
      'POST',
      '/v2/change/enqueue',
      '/v2/change/enqueue',
      {
        token: null,
        body: { ...(fixture('pagerduty-change.json') as object), routing_key: tokens.ingest },
      },
      null,
      'token:test-ingest',
    );
    await write('POST', '/v1/changes', '/v1/changes', {
      token: tokens.ingest,
      body: { kind: 'deploy', service: 'payments', summary: 'v2', startedAt: new Date().toISOString() },
    });
    await write('POST', '/v1/services', '/v1/services', {
      body: { name: 'payments', tier: 1 },
    });
    // Incidents.
    const incidentId: string = signal.json.incidents.created[0] ?? signal.json.signals[0].incidentIds[0];
    expect(incidentId).toBeTruthy();
    const respond = { token: tokens.respond };
    await write(
      'POST',
      '/v1/incidents/:id/notes',
      `/v1/incidents/${incidentId}/notes`,
      { ...respond, body: { text: 'looking' } },
      incidentId,
    );
    await write(
      'POST',
      '/v1/incidents/:id/severity',
      `/v1/incidents/${incidentId}/severity`,
      { ...respond, body: { severity: 'SEV1' } },
      incidentId,
    );
    // A second payments incident in another environment, merged into the first, then split off again.
    const other = await write('POST', '/v1/signals', '/v1/signals', {
      token: tokens.ingest,
      body: { service: 'payments', environment: 'staging', title: 'p99 latency', severity: 'critical' },
    });
    const otherId: string = other.json.signals[0].incidentIds[0];
    const otherSignal: string = other.json.signals[0].id;
    await write(
      'POST',
      '/v1/incidents/:id/merge',
      `/v1/incidents/${otherId}/merge`,
      { ...respond, body: { into: incidentId, reason: 'same outage' } },
      otherId,
    );
    await write(
      'POST',
      '/v1/incidents/:id/split',
      `/v1/incidents/${incidentId}/split`,
      { ...respond, body: { signalIds: [otherSignal], reason: 'another environment' } },
      incidentId,
    );
    await write(
      'POST',
      '/v1/incidents/:id/evidence',
      `/v1/incidents/${incidentId}/evidence`,
      { ...respond, body: {} },
      incidentId,
    );
    const investigated = await write(
      'POST',
      '/v1/incidents/:id/investigations',
      `/v1/incidents/${incidentId}/investigations`,
      { ...respond, body: {} },
      incidentId,
    );
    await write(
      'POST',
      '/v1/incidents/:id/replay',
      `/v1/incidents/${incidentId}/replay`,
      { ...respond, body: {} },
      incidentId,
    );
    const recommendations: { id: string }[] = investigated.json.recommendations;
    expect(recommendations.length).toBeGreaterThan(0);
    // A second run proposes new recommendations: one to reject.
    const again = await server.request('POST', `/v1/incidents/${incidentId}/investigations`, {
      token: tokens.respond,
      body: {},
    });
    recommendations.push(again.json.recommendations[0]);
    await write(
      'POST',
      '/v1/recommendations/:id/approve',
      `/v1/recommendations/${recommendations[0]!.id}/approve`,
      { ...respond, body: { reason: 'matches the deploy' } },
      recommendations[0]!.id,
    );
    await write(
      'POST',
      '/v1/recommendations/:id/reject',
      `/v1/recommendations/${recommendations[1]!.id}/reject`,
      { ...respond, body: { reason: 'not this time' } },
      recommendations[1]!.id,
    );
    for (const step of ['acknowledge', 'mitigate', 'resolve', 'reopen', 'resolve', 'close'])
      await write(
        'POST',
        `/v1/incidents/:id/${step}`,
        `/v1/incidents/${incidentId}/${step}`,
        { ...respond, body: {} },
        incidentId,
      );
    // Administration.
    const rule = await write('POST', '/v1/rules', '/v1/rules', {
      body: {
        name: 'audit-rule',
        matchers: [{ field: 'service', op: '=', value: 'payments' }],
        groupBy: ['service'],
        windowSeconds: 300,
        threshold: { kind: 'count', value: 1 },
        severity: 'SEV3',
        titleTemplate: 'payments trouble',
      },
    });
    await write(
      'PUT',
      '/v1/rules/:id',
      `/v1/rules/${rule.json.id}`,
      {
        body: {
          name: 'audit-rule',
          matchers: [{ field: 'service', op: '=', value: 'payments' }],
          groupBy: ['service'],
          windowSeconds: 600,
          threshold: { kind: 'count', value: 1 },
          severity: 'SEV3',
          titleTemplate: 'payments trouble',
        },
      },
      rule.json.id,
    );
    await write('DELETE', '/v1/rules/:id', `/v1/rules/${rule.json.id}`, {}, rule.json.id);
    const silence = await write('POST', '/v1/silences', '/v1/silences', {
      body: {
        kind: 'silence',
        matchers: [{ field: 'service', op: '=', value: 'payments' }],
        endsAt: new Date(Date.now() + 3600_000).toISOString(),
        comment: 'maintenance',
      },
    });
    await write('DELETE', '/v1/silences/:id', `/v1/silences/${silence.json.id}`, {}, silence.json.id);
    const token = await write('POST', '/v1/tokens', '/v1/tokens', {
      body: { name: 'grafana', scopes: ['read'] },
    });
    await write('DELETE', '/v1/tokens/:id', `/v1/tokens/${token.json.id}`, {}, token.json.id);
    await write('POST', '/v1/alarms/evaluate', '/v1/alarms/evaluate', { body: {} });
    // Notifications: channels and routes, a route test, a dead delivery sent again.
    const channel = {
      name: 'audit-hook',
      type: 'webhook',
      secret: { url: 'http://127.0.0.1:9/hook', hmacSecret: SECRET },
    };
    const created = await write('POST', '/v1/notifications/channels', '/v1/notifications/channels', {
      body: channel,
    });
    await write(
      'PUT',
      '/v1/notifications/channels/:id',
      '/v1/notifications/channels/audit-hook',
      { body: channel },
      created.json.id,
    );
    const route = { name: 'audit-route', match: { environments: ['nowhere'] }, channels: ['audit-hook'] };
    const madeRoute = await write('POST', '/v1/notifications/routes', '/v1/notifications/routes', {
      body: route,
    });
    await write(
      'PUT',
      '/v1/notifications/routes/:id',
      '/v1/notifications/routes/audit-route',
      { body: route },
      madeRoute.json.id,
    );
    await write(
      'POST',
      '/v1/notifications/routes/:id/test',
      '/v1/notifications/routes/audit-route/test',
      {},
      'audit-route',
    );
    const deliveryId = await server.runtime.writes.run(async (scope) => {
      const id = await scope.notifications.createDelivery({
        key: 'audit-dead',
        incidentId,
        channelId: created.json.id,
        routeId: madeRoute.json.id,
        event: 'opened',
        notice: { event: 'opened' } as never,
        maxAttempts: 1,
      });
      await scope.db
        .updateTable('jobs')
        .set({ status: 'dead' })
        .where('dedup_key', '=', 'deliver:audit-dead')
        .execute();
      return id!;
    });
    await write(
      'POST',
      '/v1/notifications/deliveries/:id/redrive',
      `/v1/notifications/deliveries/${deliveryId}/redrive`,
      {},
      deliveryId,
    );
    await write(
      'DELETE',
      '/v1/notifications/routes/:id',
      '/v1/notifications/routes/audit-route',
      {},
      'audit-route',
    );
    await write(
      'DELETE',
      '/v1/notifications/channels/:id',
      '/v1/notifications/channels/audit-hook',
      {},
      'audit-hook',
    );

    const listed = await server.request('GET', '/v1/audit?limit=1000');
    expect(listed.status, listed.text).toBe(200);
    const entries: {
      principal: string;
      action: string;
      target: string | null;
      at: string;
      detail: { status: number };
    }[] = listed.json.items;
    for (const item of sent) {
      const match = entries.find(
        (entry) =>
          entry.action === item.action &&
          entry.principal === item.principal &&
          (item.target === null || entry.target === item.target) &&
          entry.detail.status === item.status,
      );
      expect(match, `${item.action} by ${item.principal}`).toBeDefined();
      expect(Date.parse(match!.at)).toBeGreaterThanOrEqual(started - 1000);
    }
    // Created objects are named by the entry too.
    expect(entries.find((entry) => entry.action === 'POST /v1/rules')!.target).toBe(rule.json.id);
    expect(entries.find((entry) => entry.action === 'POST /v1/tokens')!.target).toBe(token.json.id);

    // Every write route was exercised: a new route must be added here, and so audited.
    const routes = server.app.printRoutes({ commonPrefix: false });
    const exercised = new Set(sent.map((item) => item.action));
    const declared = declaredWrites(routes);
    expect(declared.length).toBeGreaterThan(20);
    for (const action of declared) if (!NOT_WRITES.has(action)) expect(exercised, action).toContain(action);
  });

  it('records nothing for a failed, refused or replayed write', async () => {
    const count = async () => (await server.request('GET', '/v1/audit?limit=1000')).json.items.length;
    const before = await count();
    expect(
      (
        await server.request('POST', '/v1/incidents/nope/notes', {
          token: server.tokens.respond,
          body: { text: 'x' },
        })
      ).status,
    ).toBe(404);
    expect(
      (await server.request('POST', '/v1/signals', { token: server.tokens.ingest, body: { service: 'x' } }))
        .status,
    ).toBe(400);
    expect((await server.request('POST', '/v1/rules', { token: server.tokens.read, body: {} })).status).toBe(
      403,
    );
    expect((await server.request('POST', '/v1/signals', { token: 'opx_unknown', body: {} })).status).toBe(
      401,
    );
    const keyed = { token: server.tokens.ingest, headers: { 'idempotency-key': 'audit-once' } };
    const signal = { service: 'payments', title: 'once', severity: 'warning' };
    expect((await server.request('POST', '/v1/signals', { ...keyed, body: signal })).status).toBe(200);
    const replay = await server.request('POST', '/v1/signals', { ...keyed, body: signal });
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(await count()).toBe(before + 1);
  });

  it('is readable only with the admin scope, and filters', async () => {
    expect((await server.request('GET', '/v1/audit', { token: server.tokens.read })).status).toBe(403);
    const filtered = await server.request('GET', '/v1/audit?principal=hmac:alertmanager');
    expect(filtered.json.items.map((entry: { action: string }) => entry.action)).toEqual([
      'POST /v1/ingest/alertmanager',
    ]);
    const notes = await server.request('GET', '/v1/audit?action=/notes');
    expect(notes.json.items.length).toBeGreaterThan(0);
    expect(notes.json.items.every((entry: { action: string }) => entry.action.includes('/notes'))).toBe(true);
    const bad = await server.request(
      'GET',
      '/v1/audit?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z',
    );
    expect(bad.status).toBe(400);
  });

  it('is shown by `opx audit`', () => {
    if (backend !== 'sqlite') return;
    const run = spawnSync(
      process.execPath,
      [
        path.join(REPO_ROOT, 'bin', 'opx.js'),
        '--data-dir',
        server.dataDir,
        'audit',
        '--principal',
        'token:test-respond',
        '--limit',
        '100',
      ],
      { encoding: 'utf8', env: { ...process.env, OPX_ADMIN_TOKEN: '', OPX_DATABASE_URL: '' } },
    );
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain('POST /v1/incidents/:id/notes');
    expect(run.stdout).toContain('token:test-respond');
    expect(run.stdout).not.toContain('token:test-admin');
  });
});
