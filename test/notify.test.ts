import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hmacSignature } from '../src/auth/sources.js';
import { runInvestigationWorker } from '../src/investigate/jobs.js';
import { runNotificationWorker } from '../src/notify/worker.js';
import { type Receivers, type SmtpReceiver, startReceivers, startSmtp } from './receivers.js';
import { BACKENDS, type TestServer, testServer } from './support.js';

const HMAC = 'notify-test-hmac-secret-0123456789';

/** The webhook's body, as far as these tests read it. */
interface Notified {
  deliveryId: string;
  event: string;
  incident: { id: string; severity: string };
  cause: { summary: string } | null;
  recommendation: { title: string } | null;
}

/** Runs the investigation and notification workers until `done` holds (or 30 s pass). */
async function work(server: TestServer, done: () => boolean | Promise<boolean>, ms = 30_000) {
  const stop = new AbortController();
  const lines: string[] = [];
  const log = (line: string) => lines.push(line);
  const workers = [
    runInvestigationWorker(server.runtime, { signal: stop.signal, log }),
    runNotificationWorker(server.runtime, { signal: stop.signal, log }),
  ];
  const deadline = Date.now() + ms;
  let met = await done();
  while (!met && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    met = await done();
  }
  stop.abort();
  await Promise.all(workers);
  if (!met) throw new Error(`the workers did not get there in ${ms} ms:\n${lines.join('\n')}`);
  return lines;
}

let environment = 0;
/** Opens an incident in an environment of its own, so no test's signal joins another's incident. */
async function openIncident(server: TestServer, service: string, env: string): Promise<string> {
  const response = await server.request('POST', '/v1/signals', {
    body: {
      service,
      environment: env,
      severity: 'critical',
      title: `5xx above 5% on ${service}`,
      labels: { alertname: 'HighErrorRate', team: 'payments' },
    },
    token: server.tokens.ingest,
  });
  expect(response.status, response.text).toBe(200);
  return response.json.signals[0].incidentIds[0] as string;
}

const bodies = (
  receivers: Receivers,
  kind: 'webhook' | 'pagerduty' | 'slack' | 'teams',
  incidentId: string,
) => receivers.received[kind].filter((item) => JSON.stringify(item.body).includes(incidentId));

describe.each(BACKENDS)('notifications on %s', (backend) => {
  let server: TestServer;
  let receivers: Receivers;
  let smtp: SmtpReceiver;
  beforeAll(async () => {
    receivers = await startReceivers({ webhookSecret: HMAC });
    smtp = await startSmtp();
    server = await testServer(backend, {
      investigateDelaySeconds: 0,
      notifyFirstWaitSeconds: 30,
      notifyMaxAttempts: 3,
      publicUrl: 'https://opx.example.com',
    });
    const channels = [
      { name: 'hook', type: 'webhook', secret: { url: `${receivers.url}/webhook/opx`, hmacSecret: HMAC } },
      {
        name: 'mail',
        type: 'email',
        settings: { host: smtp.host, port: smtp.port, from: 'opx@example.com', to: ['oncall@example.com'] },
      },
      {
        name: 'pager',
        type: 'pagerduty',
        settings: { url: `${receivers.url}/pagerduty/v2/enqueue` },
        secret: { routingKey: 'R0UTINGKEY0123456789abcdefabcdef' },
      },
      { name: 'chat', type: 'slack', secret: { url: `${receivers.url}/slack/T000/B000/secretpart` } },
      { name: 'cards', type: 'teams', secret: { url: `${receivers.url}/teams/workflow/secretpart` } },
    ];
    for (const body of channels) {
      const response = await server.request('POST', '/v1/notifications/channels', { body });
      expect(response.status, response.text).toBe(201);
    }
  });
  afterAll(async () => {
    await server.cleanup();
    await receivers.close();
    await smtp.close();
  });

  const route = async (
    name: string,
    env: string,
    channels: string[],
    extra: Record<string, unknown> = {},
  ) => {
    const response = await server.request('POST', '/v1/notifications/routes', {
      body: { name, match: { environments: [env], ...extra }, channels },
    });
    expect(response.status, response.text).toBe(201);
  };
  const nextEnvironment = () => {
    environment += 1;
    return `env-${environment}`;
  };

  it('keeps channel secrets encrypted at rest and never shows them; writes need the admin scope', async () => {
    const listed = await server.request('GET', '/v1/notifications/channels', { token: server.tokens.read });
    expect(listed.status).toBe(200);
    expect(listed.text).not.toContain('secretpart');
    expect(listed.text).not.toContain('R0UTINGKEY');
    expect(listed.json.items.map((item: { name: string }) => item.name)).toEqual([
      'cards',
      'chat',
      'hook',
      'mail',
      'pager',
    ]);
    const one = await server.request('GET', '/v1/notifications/channels/chat', { token: server.tokens.read });
    expect(one.json).toMatchObject({ name: 'chat', type: 'slack', settings: {} });
    expect(one.json.secret).toBeUndefined();
    const rows = await server.runtime.store.db.selectFrom('notification_channels').select('secret').execute();
    for (const row of rows) {
      expect(row.secret).toMatch(/^enc:v1:/);
      expect(row.secret).not.toContain('secretpart');
    }
    const refused = await server.request('POST', '/v1/notifications/channels', {
      body: { name: 'x', type: 'slack', secret: { url: 'https://hooks.slack.com/services/x' } },
      token: server.tokens.read,
    });
    expect(refused.status).toBe(403);
    const unknown = await server.request('POST', '/v1/notifications/routes', {
      body: { name: 'nowhere', channels: ['no-such-channel'] },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.json.error.message).toContain('no-such-channel');
    const bad = await server.request('POST', '/v1/notifications/channels', {
      body: { name: 'bad', type: 'webhook', secret: { url: 'ftp://example.com', hmacSecret: HMAC } },
    });
    expect(bad.status).toBe(400);
  });

  it("sends the first message after the investigation's answer, one per channel, then only material changes", async () => {
    const env = nextEnvironment();
    // Two routes name the webhook: it still gets one message per event.
    await route('payments-all', env, ['hook', 'mail']);
    await route('payments-team', env, ['hook'], { labels: { team: 'payments' } });
    const incidentId = await openIncident(server, 'payments-api', env);
    await work(
      server,
      () => bodies(receivers, 'webhook', incidentId).length >= 1 && smtp.messages.length >= 1,
    );
    const [opened] = bodies(receivers, 'webhook', incidentId);
    const message = opened!.body as Notified;
    expect(message).toMatchObject({
      event: 'opened',
      incident: { id: incidentId, severity: expect.any(String), services: ['payments-api'] },
      url: `https://opx.example.com/incidents/${incidentId}`,
    });
    // The investigation answered first: the message already names the cause and what to do.
    expect(message.cause?.summary).toEqual(expect.any(String));
    expect(message.recommendation?.title).toEqual(expect.any(String));
    const [investigation] = await server.runtime.store.investigations.forIncident(incidentId);
    expect(investigation!.finishedAt).toBeLessThanOrEqual(opened!.at);
    // Signed as OPX's ingest checks signatures; the delivery id is the idempotency key.
    const timestamp = String(opened!.headers['x-opx-timestamp']);
    expect(opened!.headers['x-opx-signature']).toBe(hmacSignature(HMAC, timestamp, opened!.raw));
    expect(opened!.headers['x-opx-delivery']).toBe(message.deliveryId);
    expect(smtp.messages.at(-1)!.raw).toContain(incidentId);

    // More signals on the incident are not material: nothing more is sent.
    await server.request('POST', '/v1/signals', {
      body: {
        service: 'payments-api',
        environment: env,
        severity: 'critical',
        title: 'p99 latency above 2s',
      },
      token: server.tokens.ingest,
    });
    const raised = await server.request('POST', `/v1/incidents/${incidentId}/severity`, {
      body: { severity: 'SEV1', reason: 'checkout is down' },
      token: server.tokens.respond,
    });
    expect(raised.status, raised.text).toBe(200);
    await work(server, () => bodies(receivers, 'webhook', incidentId).length >= 2);
    expect(bodies(receivers, 'webhook', incidentId)[1]!.body).toMatchObject({
      event: 'severity_raised',
      incident: { severity: 'SEV1' },
      previous: { severity: message.incident.severity },
    });
    // Lowering is not material for a pager; resolving is.
    await server.request('POST', `/v1/incidents/${incidentId}/severity`, {
      body: { severity: 'SEV3' },
      token: server.tokens.respond,
    });
    await server.request('POST', `/v1/incidents/${incidentId}/resolve`, {
      body: { resolution: 'rolled back' },
      token: server.tokens.respond,
    });
    await work(server, async () => {
      const all = await server.runtime.store.notifications.deliveries({ incidentId });
      return all.length === 6 && all.every((item) => item.status === 'sent');
    });
    expect(
      bodies(receivers, 'webhook', incidentId).map((item) => (item.body as { event: string }).event),
    ).toEqual(['opened', 'severity_raised', 'resolved']);
    const deliveries = await server.request('GET', `/v1/notifications/deliveries?incidentId=${incidentId}`, {
      token: server.tokens.read,
    });
    expect(
      deliveries.json.items
        .map((item: { channelName: string; channelType: string; event: string; status: string }) =>
          [item.channelName, item.channelType, item.event, item.status].join(' '),
        )
        .sort(),
    ).toEqual([
      'hook webhook opened sent',
      'hook webhook resolved sent',
      'hook webhook severity_raised sent',
      'mail email opened sent',
      'mail email resolved sent',
      'mail email severity_raised sent',
    ]);
  });

  it('pages PagerDuty once per incident: Retry-After and 5xx retried, the resolve after its trigger, same dedup_key', async () => {
    const env = nextEnvironment();
    await route('page', env, ['pager']);
    receivers.failNext('pagerduty', [{ status: 429, retryAfter: 1 }, { status: 500 }]);
    const incidentId = await openIncident(server, 'ledger', env);
    // Resolved while its trigger is still being retried: the resolve must wait for the trigger.
    await work(server, () => receivers.received.pagerduty.some((item) => item.answered === 429));
    const resolved = await server.request('POST', `/v1/incidents/${incidentId}/resolve`, {
      body: {},
      token: server.tokens.respond,
    });
    expect(resolved.status).toBe(200);
    await work(server, () =>
      receivers.received.pagerduty.some(
        (item) => (item.body as { event_action?: string }).event_action === 'resolve',
      ),
    );
    const calls = receivers.received.pagerduty.filter((item) =>
      String((item.body as { dedup_key?: string }).dedup_key).includes(incidentId),
    );
    expect(
      calls.map((item) => `${(item.body as { event_action: string }).event_action} ${item.answered}`),
    ).toEqual(['trigger 429', 'trigger 500', 'trigger 202', 'resolve 202']);
    // Retry-After: 1 s was honoured before the second try.
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(900);
    expect(new Set(calls.map((item) => (item.body as { dedup_key: string }).dedup_key))).toEqual(
      new Set([`opx-${incidentId}`]),
    );
  });

  it('dead-letters after the last attempt (at once when the receiver refuses for good), and redrives', async () => {
    const env = nextEnvironment();
    await route('chat-and-cards', env, ['chat', 'cards']);
    receivers.failNext('slack', [{ status: 500 }, { status: 502 }, { status: 503 }]);
    receivers.failNext('teams', [{ status: 404, body: 'webhook not found' }]);
    const incidentId = await openIncident(server, 'search', env);
    const dead = async () =>
      (await server.runtime.store.notifications.deliveries({ incidentId, status: 'dead' })).length === 2;
    await work(server, dead);
    const listed = await server.request('GET', '/v1/notifications/deliveries?status=dead', {
      token: server.tokens.read,
    });
    const mine = listed.json.items.filter((item: { incidentId: string }) => item.incidentId === incidentId);
    const byChannel = Object.fromEntries(
      mine.map((item: { channelName: string }) => [item.channelName, item]),
    );
    expect(byChannel.chat).toMatchObject({
      status: 'dead',
      attempts: 3,
      lastError: expect.stringContaining('503'),
    });
    expect(byChannel.cards).toMatchObject({
      status: 'dead',
      attempts: 1,
      lastError: expect.stringContaining('404'),
    });
    expect(JSON.stringify(mine)).not.toContain('secretpart');
    // Redrive: a respond token may not; an admin may, and the receiver is back.
    const forbidden = await server.request(
      'POST',
      `/v1/notifications/deliveries/${byChannel.chat.id}/redrive`,
      {
        token: server.tokens.respond,
      },
    );
    expect(forbidden.status).toBe(403);
    const redriven = await server.request(
      'POST',
      `/v1/notifications/deliveries/${byChannel.chat.id}/redrive`,
    );
    expect(redriven.status, redriven.text).toBe(200);
    const again = await server.request('POST', `/v1/notifications/deliveries/${byChannel.chat.id}/redrive`);
    expect(again.status).toBe(409);
    await work(
      server,
      async () => (await server.runtime.store.notifications.delivery(byChannel.chat.id))?.status === 'sent',
    );
    expect(receivers.received.slack.filter((item) => item.answered === 200)).toHaveLength(1);
  });

  it('never announces an incident resolved before its first message was due, and skips routes that do not match', async () => {
    const env = nextEnvironment();
    await route('quiet', env, ['hook']);
    await route('sev1-only', env, ['chat'], { severities: ['SEV1'] });
    const incidentId = await openIncident(server, 'cart', env);
    await server.request('POST', `/v1/incidents/${incidentId}/resolve`, {
      body: {},
      token: server.tokens.respond,
    });
    const settled = async () => {
      const jobs = await server.runtime.store.jobs.list({ kind: 'notify.dispatch', limit: 1000 });
      return jobs
        .filter((job) => job.payload.incidentId === incidentId)
        .every((job) => job.status === 'done');
    };
    await work(server, settled);
    expect(bodies(receivers, 'webhook', incidentId)).toEqual([]);
    expect(await server.runtime.store.notifications.deliveries({ incidentId })).toEqual([]);
  });

  it('tests a route: a sample through each channel, and a warning when it matches no recent incident', async () => {
    await route('nothing-matches', 'no-such-environment', ['hook']);
    const tested = await server.request('POST', '/v1/notifications/routes/nothing-matches/test');
    expect(tested.status, tested.text).toBe(200);
    expect(tested.json).toMatchObject({
      route: 'nothing-matches',
      matched: 0,
      warning: expect.stringContaining('matches none of the last'),
      results: [{ channel: 'hook', ok: true }],
    });
    expect((receivers.received.webhook.at(-1)!.body as { event: string }).event).toBe('test');
  });
});
