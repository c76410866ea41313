import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, payload, payloadText, type TestServer, tableCounts, testServer } from './support.js';

describe.each(BACKENDS)('ingest over HTTP on %s', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await testServer(backend);
  });
  afterAll(async () => {
    await server.cleanup();
  });

  it('turns the real Alertmanager firing webhook into one api-gateway incident, then resolves its signal', async () => {
    const firing = await server.request('POST', '/v1/ingest/alertmanager', {
      body: payload('alertmanager-0.25-webhook-firing.json'),
      token: server.tokens.ingest,
    });
    expect(firing.status).toBe(200);
    expect(firing.json.accepted).toBe(2);
    expect(firing.json.incidents.created).toHaveLength(1);

    const list = await server.request('GET', '/v1/incidents?service=api-gateway', {
      token: server.tokens.read,
    });
    expect(list.status).toBe(200);
    expect(list.json.items).toHaveLength(1);
    const incident = list.json.items[0];
    expect(incident.services).toEqual(['api-gateway']);
    expect(incident.status).toBe('OPEN');
    expect(incident.signalCount).toBe(2);

    const detail = await server.request('GET', `/v1/incidents/${incident.id}`, { token: server.tokens.read });
    const fingerprints = detail.json.signals
      .map((signal: { fingerprint: string }) => signal.fingerprint)
      .sort();
    expect(fingerprints).toEqual(['62ac95e7d99ad5ca', '7c60ae7089d2abc8']);

    const resolved = await server.request('POST', '/v1/ingest/alertmanager', {
      body: payload('alertmanager-0.25-webhook-resolved.json'),
      token: server.tokens.ingest,
    });
    expect(resolved.status).toBe(200);
    const after = await server.request('GET', `/v1/incidents/${incident.id}`, { token: server.tokens.read });
    const byFingerprint = Object.fromEntries(
      after.json.signals.map((signal: { fingerprint: string; status: string }) => [
        signal.fingerprint,
        signal.status,
      ]),
    );
    const resolvedAlerts = (
      payload('alertmanager-0.25-webhook-resolved.json') as {
        alerts: { fingerprint: string; status: string }[];
      }
    ).alerts;
    for (const alert of resolvedAlerts) expect(byFingerprint[alert.fingerprint]).toBe(alert.status);
    expect(Object.values(byFingerprint)).toContain('resolved');
    // Still one incident: the resolve updated the existing signal, it did not open anything.
    const again = await server.request('GET', '/v1/incidents?service=api-gateway', {
      token: server.tokens.read,
    });
    expect(again.json.items).toHaveLength(1);
  });

  it('re-sent firing alerts update last-seen and the counter instead of adding signals', async () => {
    const body = payload('alertmanager-0.25-webhook-firing.json') as {
      alerts: { labels: Record<string, string>; fingerprint: string }[];
    };
    for (const alert of body.alerts) {
      alert.labels.service = 'dedup-check';
      alert.fingerprint = `${alert.fingerprint}-dedup`;
    }
    await server.request('POST', '/v1/ingest/alertmanager', { body, token: server.tokens.ingest });
    const second = await server.request('POST', '/v1/ingest/alertmanager', {
      body,
      token: server.tokens.ingest,
    });
    expect(second.json.signals.map((signal: { action: string }) => signal.action)).toEqual([
      'repeated',
      'repeated',
    ]);
    const signals = await server.request('GET', '/v1/signals?service=dedup-check', {
      token: server.tokens.read,
    });
    expect(signals.json.items).toHaveLength(2);
    for (const signal of signals.json.items) expect(signal.occurrences).toBe(2);
  });

  it('a batch mixing plain repeats with an escalation counts both and stores the new severity', async () => {
    const signal = (fingerprint: string, severity: string) => ({
      service: 'repeat-mix',
      fingerprint,
      severity,
      title: `${fingerprint} slow`,
    });
    const send = (body: unknown) =>
      server.request('POST', '/v1/signals', { body, token: server.tokens.ingest });
    await send([signal('mix-a', 'warning'), signal('mix-b', 'warning')]);
    const again = await send([
      signal('mix-a', 'warning'),
      signal('mix-b', 'critical'),
      signal('mix-a', 'warning'),
    ]);
    expect(again.json.signals.map((entry: { action: string }) => entry.action)).toEqual([
      'repeated',
      'repeated',
      'repeated',
    ]);
    const signals = await server.request('GET', '/v1/signals?service=repeat-mix', {
      token: server.tokens.read,
    });
    const byFingerprint = Object.fromEntries(
      signals.json.items.map((item: { fingerprint: string }) => [item.fingerprint, item]),
    );
    expect(byFingerprint['mix-a']).toMatchObject({ severity: 'warning', occurrences: 3, status: 'firing' });
    expect(byFingerprint['mix-b']).toMatchObject({ severity: 'critical', occurrences: 2, status: 'firing' });
    expect(byFingerprint['mix-a'].lastSeenAt > byFingerprint['mix-a'].receivedAt).toBe(true);
  });

  it('counts re-sent resolved alerts on the stored resolve instead of adding rows', async () => {
    // Prometheus keeps re-sending a resolved alert for a while after it resolves.
    const alert = [
      {
        labels: { alertname: 'DiskFull', service: 'resend-db', severity: 'warning', instance: 'db-1' },
        startsAt: '2026-11-26T20:00:00Z',
        endsAt: '2026-11-26T21:00:00Z',
      },
    ];
    for (let attempt = 0; attempt < 3; attempt += 1) {
      expect(
        (await server.request('POST', '/api/v2/alerts', { body: alert, token: server.tokens.ingest })).status,
      ).toBe(200);
    }
    const signals = await server.request('GET', '/v1/signals?service=resend-db', {
      token: server.tokens.read,
    });
    expect(signals.json.items).toHaveLength(1);
    expect(signals.json.items[0]).toMatchObject({ status: 'resolved', occurrences: 3 });
  });

  it('opens an incident from each CloudWatch alarm delivered through SNS (Lambda envelope and bare message)', async () => {
    const single = await server.request('POST', '/v1/ingest/cloudwatch', {
      body: payload('cloudwatch-alarm-sns-payload-single-metric.json'),
      token: server.tokens.ingest,
    });
    expect(single.status).toBe(200);
    expect(single.json.incidents.created).toHaveLength(1);
    const incident = await server.request('GET', `/v1/incidents/${single.json.incidents.created[0]}`, {
      token: server.tokens.read,
    });
    expect(incident.json.signals[0].source).toBe('cloudwatch');
    expect(incident.json.signals[0].region).toBe('REGION');

    // The bare SNS HTTPS body, as an SNS subscription posts it, with a text/plain content type.
    const envelope = payload('cloudwatch-alarm-sns-payload-multiple-metrics.json') as {
      Records: { Sns: Record<string, unknown> }[];
    };
    const { SigningCertUrl, UnsubscribeUrl, ...rest } = envelope.Records[0]!.Sns;
    const bare = {
      ...rest,
      SigningCertURL: SigningCertUrl,
      UnsubscribeURL: UnsubscribeUrl,
      Message: String(rest.Message)
        .replace('"AlarmName":"EXAMPLE"', '"AlarmName":"metric-math-alarm"')
        .replace('alarm:EXAMPLE', 'alarm:metric-math-alarm'),
    };
    const multi = await server.request('POST', '/v1/ingest/cloudwatch', {
      rawBody: JSON.stringify(bare),
      headers: { 'content-type': 'text/plain; charset=UTF-8' },
      token: server.tokens.ingest,
    });
    expect(multi.status).toBe(200);
    expect(multi.json.accepted).toBe(1);
    expect(multi.json.signals[0].incidentIds).toHaveLength(1);
  });

  it('records an SNS SubscriptionConfirmation for an admin and never fetches it', async () => {
    const confirmation = {
      Type: 'SubscriptionConfirmation',
      MessageId: '165545c9-2a5c-472c-8df2-7ff2be2b3b1b',
      Token:
        '2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768dd60a747ba6f3beb71854e285d6ad02428b09ceece29417f1f02d609c582afbacc99c583a916b9981dd2728f4ae6fdb82efd087cc3b7849e05798d2d2785c03b0879594eeac82c01f235d0e717736',
      TopicArn: 'arn:aws:sns:eu-west-1:123456789012:opx-alarms',
      Message: 'You have chosen to subscribe to the topic arn:aws:sns:eu-west-1:123456789012:opx-alarms.',
      SubscribeURL:
        'https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:eu-west-1:123456789012:opx-alarms&Token=2336412f37',
      Timestamp: '2026-11-26T10:00:00.000Z',
      SignatureVersion: '1',
      Signature: 'EXAMPLE',
      SigningCertURL:
        'https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem',
    };
    const response = await server.request('POST', '/v1/ingest/cloudwatch', {
      rawBody: JSON.stringify(confirmation),
      headers: { 'content-type': 'text/plain' },
      token: server.tokens.ingest,
    });
    expect(response.status).toBe(200);
    expect(response.json.accepted).toBe(0);
    expect(response.json.subscriptionConfirmations[0].topicArn).toBe(confirmation.TopicArn);
    const pending = await server.request('GET', '/v1/ingest/cloudwatch/subscriptions');
    expect(pending.json.items).toEqual([
      expect.objectContaining({ topicArn: confirmation.TopicArn, status: 'pending' }),
    ]);
    expect(
      (await server.request('GET', '/v1/ingest/cloudwatch/subscriptions', { token: server.tokens.ingest }))
        .status,
    ).toBe(403);
  });

  it('accepts Prometheus alerts at the Alertmanager API path with an empty 200', async () => {
    const response = await server.request('POST', '/api/v2/alerts', {
      body: [
        {
          labels: { alertname: 'DiskFull', service: 'prom-path', severity: 'critical' },
          annotations: { summary: 'disk 97% full' },
          startsAt: new Date().toISOString(),
        },
      ],
      token: server.tokens.ingest,
    });
    expect(response.status).toBe(200);
    expect(response.text).toBe('');
    const incidents = await server.request('GET', '/v1/incidents?service=prom-path', {
      token: server.tokens.read,
    });
    expect(incidents.json.items).toHaveLength(1);
  });

  it('handles EventBridge alarm state changes', async () => {
    const event = {
      version: '0',
      id: 'c4c1c1c9-6542-e61b-6ef0-8c4d36933a92',
      'detail-type': 'CloudWatch Alarm State Change',
      source: 'aws.cloudwatch',
      account: '123456789012',
      time: '2026-11-26T10:00:00Z',
      region: 'eu-west-1',
      resources: ['arn:aws:cloudwatch:eu-west-1:123456789012:alarm:orders-5xx'],
      detail: {
        alarmName: 'orders-5xx',
        state: { value: 'ALARM', reason: 'Threshold Crossed', timestamp: '2026-11-26T10:00:00.000+0000' },
        previousState: { value: 'OK', reason: 'ok', timestamp: '2026-11-26T09:00:00.000+0000' },
        configuration: {
          description: 'orders 5xx',
          metrics: [
            {
              id: 'm1',
              metricStat: {
                metric: {
                  namespace: 'AWS/ApplicationELB',
                  name: 'HTTPCode_Target_5XX_Count',
                  dimensions: { ServiceName: 'order-service' },
                },
                period: 60,
                stat: 'Sum',
              },
              returnData: true,
            },
          ],
        },
      },
    };
    const response = await server.request('POST', '/v1/ingest/eventbridge', {
      body: event,
      token: server.tokens.ingest,
    });
    expect(response.status).toBe(200);
    expect(response.json.signals[0].incidentIds).toHaveLength(1);
    const wrongType = await server.request('POST', '/v1/ingest/eventbridge', {
      body: { ...event, 'detail-type': 'EC2 Instance State-change Notification' },
      token: server.tokens.ingest,
    });
    expect(wrongType.status).toBe(422);
    expect(wrongType.json.error.code).toBe('unsupported_payload');
  });

  it('speaks PagerDuty Events v2: trigger, acknowledge, resolve by dedup_key, with the routing key as credential', async () => {
    const trigger = await server.request('POST', '/v2/enqueue', {
      token: null,
      body: {
        routing_key: server.tokens.ingest,
        event_action: 'trigger',
        dedup_key: 'pd-checkout-1',
        payload: {
          summary: 'Checkout failures above 10%',
          source: 'checkout-1.prod',
          severity: 'critical',
          component: 'checkout-service',
        },
      },
    });
    expect(trigger.status).toBe(202);
    expect(trigger.json).toEqual({
      status: 'success',
      message: 'Event processed',
      dedup_key: 'pd-checkout-1',
    });
    const ack = await server.request('POST', '/v2/enqueue', {
      token: null,
      body: { routing_key: server.tokens.ingest, event_action: 'acknowledge', dedup_key: 'pd-checkout-1' },
    });
    expect(ack.status).toBe(202);
    const signals = await server.request('GET', '/v1/signals?service=checkout-service', {
      token: server.tokens.read,
    });
    expect(signals.json.items[0].acknowledgedAt).not.toBeNull();
    const resolve = await server.request('POST', '/v2/enqueue', {
      token: null,
      body: { routing_key: server.tokens.ingest, event_action: 'resolve', dedup_key: 'pd-checkout-1' },
    });
    expect(resolve.status).toBe(202);
    const after = await server.request('GET', '/v1/signals?service=checkout-service', {
      token: server.tokens.read,
    });
    expect(after.json.items[0].status).toBe('resolved');

    const missingDedup = await server.request('POST', '/v2/enqueue', {
      token: null,
      body: { routing_key: server.tokens.ingest, event_action: 'resolve' },
    });
    expect(missingDedup.status).toBe(400);
    const badKey = await server.request('POST', '/v2/enqueue', {
      token: null,
      body: {
        routing_key: 'x'.repeat(32),
        event_action: 'trigger',
        payload: { summary: 's', source: 's', severity: 'info' },
      },
    });
    expect(badKey.status).toBe(401);

    const change = await server.request('POST', '/v2/change/enqueue', {
      token: null,
      body: {
        routing_key: server.tokens.ingest,
        payload: {
          summary: 'Deploy checkout v42',
          source: 'checkout-service',
          timestamp: '2026-11-26T09:50:00Z',
          custom_details: { version: 'v42' },
        },
      },
    });
    expect(change.status).toBe(202);
    const changes = await server.request('GET', '/v1/changes?service=checkout-service', {
      token: server.tokens.read,
    });
    expect(changes.json.items[0]).toMatchObject({ kind: 'deploy', versionTo: 'v42', source: 'pagerduty' });
  });

  it('creates exactly one signal and one incident from 50 concurrent identical POSTs', async () => {
    const body = {
      source: 'generic',
      service: 'race-service',
      severity: 'critical',
      title: 'race',
      fingerprint: 'race-1',
    };
    const responses = await Promise.all(
      Array.from({ length: 50 }, () =>
        server.request('POST', '/v1/signals', { body, token: server.tokens.ingest }),
      ),
    );
    expect(responses.every((response) => response.status === 200)).toBe(true);
    const actions = responses.map((response) => response.json.signals[0].action);
    expect(actions.filter((action) => action === 'created')).toHaveLength(1);
    const signals = await server.request('GET', '/v1/signals?service=race-service', {
      token: server.tokens.read,
    });
    expect(signals.json.items).toHaveLength(1);
    expect(signals.json.items[0].occurrences).toBe(50);
    const incidents = await server.request('GET', '/v1/incidents?service=race-service', {
      token: server.tokens.read,
    });
    expect(incidents.json.items).toHaveLength(1);
  });

  it('replays an Idempotency-Key with the first response and writes nothing; a different body gets 409', async () => {
    const body = { service: 'idem-service', severity: 'warning', title: 'first' };
    const headers = { 'idempotency-key': 'idem-key-1' };
    const first = await server.request('POST', '/v1/signals', { body, headers, token: server.tokens.ingest });
    expect(first.status).toBe(200);
    const before = await tableCounts(server.runtime);
    const replay = await server.request('POST', '/v1/signals', {
      body,
      headers,
      token: server.tokens.ingest,
    });
    expect(replay.status).toBe(200);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.json).toEqual(first.json);
    expect(await tableCounts(server.runtime)).toEqual(before);
    const conflict = await server.request('POST', '/v1/signals', {
      body: { ...body, title: 'second' },
      headers,
      token: server.tokens.ingest,
    });
    expect(conflict.status).toBe(409);
    expect(conflict.json.error.code).toBe('idempotency_key_reused');
    expect(await tableCounts(server.runtime)).toEqual(before);
  });

  it('accepts a batch of 1,000 generic signals and rejects 1,001 without writing', async () => {
    const batch = Array.from({ length: 1000 }, (_, index) => ({
      service: `batch-${index % 7}`,
      severity: 'info',
      title: `signal ${index}`,
    }));
    const ok = await server.request('POST', '/v1/signals', {
      body: { signals: batch },
      token: server.tokens.ingest,
    });
    expect(ok.status).toBe(200);
    expect(ok.json.accepted).toBe(1000);
    const before = await tableCounts(server.runtime);
    const tooMany = await server.request('POST', '/v1/signals', {
      body: [...batch, { service: 'x', title: 'y' }],
      token: server.tokens.ingest,
    });
    expect(tooMany.status).toBe(400);
    expect(await tableCounts(server.runtime)).toEqual(before);
  });

  it('rejects malformed input with a clear 4xx, the field path, and no partial write', async () => {
    const before = await tableCounts(server.runtime);
    const cases: {
      route: string;
      init: Parameters<TestServer['request']>[2];
      status: number;
      code: string;
      path?: string;
    }[] = [
      {
        route: '/v1/signals',
        init: { rawBody: '{"service": ', headers: { 'content-type': 'application/json' } },
        status: 400,
        code: 'invalid_json',
      },
      {
        route: '/v1/signals',
        init: {
          body: [
            { service: 'ok', title: 'ok' },
            { service: 'ok', title: 'ok', severity: 'catastrophic' },
          ],
        },
        status: 400,
        code: 'invalid_request',
        path: '[1].severity',
      },
      {
        route: '/v1/signals',
        init: { body: { service: 42, title: 'x' } },
        status: 400,
        code: 'invalid_request',
        path: 'service',
      },
      {
        route: '/v1/ingest/alertmanager',
        init: { body: { version: '3', alerts: [] } },
        status: 422,
        code: 'unsupported_payload',
      },
      {
        route: '/v1/ingest/alertmanager',
        init: { body: { ...(payload('alertmanager-0.25-webhook-firing.json') as object), alerts: 'nope' } },
        status: 400,
        code: 'invalid_request',
        path: 'alerts',
      },
      {
        route: '/v1/signals',
        init: { rawBody: 'service: x', headers: { 'content-type': 'application/xml' } },
        status: 415,
        code: 'unsupported_media_type',
      },
      {
        route: '/v1/changes',
        init: { body: { kind: 'teleport', service: 'x', summary: 'y', startedAt: '2026-01-01T00:00:00Z' } },
        status: 400,
        code: 'invalid_request',
        path: 'kind',
      },
      {
        route: '/v1/changes',
        init: { body: { kind: 'deploy', service: 'x', summary: 'y', startedAt: 'yesterday' } },
        status: 400,
        code: 'invalid_request',
        path: 'startedAt',
      },
    ];
    for (const testCase of cases) {
      const response = await server.request('POST', testCase.route, {
        token: server.tokens.admin,
        ...testCase.init,
      });
      expect(response.status, `${testCase.route} ${JSON.stringify(testCase.init).slice(0, 80)}`).toBe(
        testCase.status,
      );
      expect(response.json.error.code).toBe(testCase.code);
      expect(response.json.error.message.length).toBeGreaterThan(10);
      if (testCase.path) expect(response.json.error.path).toBe(testCase.path);
    }
    expect(await tableCounts(server.runtime)).toEqual(before);
  });

  it('enforces the body limit with 413', async () => {
    const huge = JSON.stringify({ service: 'big', title: 'x'.repeat(6 * 1024 * 1024) });
    const response = await server.request('POST', '/v1/signals', {
      rawBody: huge,
      headers: { 'content-type': 'application/json' },
      token: server.tokens.ingest,
    });
    expect(response.status).toBe(413);
    expect(response.json.error.code).toBe('payload_too_large');
  });

  it('requires a token with the right scope on every route but health', async () => {
    expect((await server.request('GET', '/healthz', { token: null })).status).toBe(200);
    const none = await server.request('GET', '/v1/incidents', { token: null });
    expect(none.status).toBe(401);
    expect(none.json.error.code).toBe('unauthorized');
    expect(
      (await server.request('GET', '/v1/incidents', { token: 'opx_not-a-real-token-at-all-xxxx' })).status,
    ).toBe(401);
    const wrongScope = await server.request('POST', '/v1/signals', {
      body: { service: 'a', title: 'b' },
      token: server.tokens.read,
    });
    expect(wrongScope.status).toBe(403);
    expect(wrongScope.json.error.code).toBe('forbidden');
    expect(
      (await server.request('POST', '/v1/rules', { body: {}, token: server.tokens.respond })).status,
    ).toBe(403);
    // SNS subscriptions can only carry credentials as URL userinfo, which arrives as Basic auth.
    const basic = Buffer.from(`sns:${server.tokens.ingest}`).toString('base64');
    const viaBasic = await server.request('POST', '/v1/ingest/cloudwatch', {
      body: payload('sns-event.json'),
      token: null,
      headers: { authorization: `Basic ${basic}` },
    });
    expect(viaBasic.status).toBe(200);
    expect((await server.request('GET', '/v1/nothing-here')).status).toBe(404);
  });

  it('keeps the plain SNS notification rather than dropping it', async () => {
    const response = await server.request('POST', '/v1/ingest/cloudwatch', {
      rawBody: payloadText('sns-event.json'),
      headers: { 'content-type': 'application/json' },
      token: server.tokens.ingest,
    });
    expect(response.status).toBe(200);
    expect(response.json.accepted).toBe(1);
  });

  it('a time past what ids or dates can hold neither poisons later writes nor breaks the incident list', async () => {
    // Past ULID's 48-bit time: the id factory used to keep it and refuse every later id of the process.
    const change = await server.request('POST', '/v1/changes', {
      body: { kind: 'deploy', service: 'clock-test', summary: 'far future', startedAt: 281474976710656 },
      token: server.tokens.ingest,
    });
    expect(change.status).toBe(201);
    const next = await server.request('POST', '/v1/signals', {
      body: { service: 'clock-test', severity: 'critical', title: 'after the far-future change' },
      token: server.tokens.ingest,
    });
    expect(next.status).toBe(200);
    expect(next.json.signals[0].id).toMatch(/^sig_/);
    // Past what a Date can hold: refused, naming the field, instead of opening an incident nobody can list.
    const beyond = await server.request('POST', '/v1/signals', {
      body: { service: 'clock-test', severity: 'critical', title: 'beyond', startsAt: 2 ** 53 - 1 },
      token: server.tokens.ingest,
    });
    expect(beyond.status).toBe(400);
    expect(beyond.json.error.path).toContain('startsAt');
    const listed = await server.request('GET', '/v1/incidents', { token: server.tokens.read });
    expect(listed.status).toBe(200);
    // A row an older release stored with such a time is shown at the bound, and lists still answer.
    const stored = listed.json.items[0].id as string;
    await server.runtime.store.db
      .updateTable('incidents')
      .set({ detected_at: 2 ** 53 - 1, updated_at: 2 ** 53 - 1 })
      .where('id', '=', stored)
      .execute();
    const after = await server.request('GET', '/v1/incidents', { token: server.tokens.read });
    expect(after.status).toBe(200);
    const read = await server.request('GET', `/v1/incidents/${stored}`, { token: server.tokens.read });
    expect(read.status).toBe(200);
    expect(read.json.incident.detectedAt).toBe('+275760-09-13T00:00:00.000Z');
  });

  it('refuses a body nested 5,000 arrays deep with a 400 naming the limit, where it used to answer 500', async () => {
    // Written as text: a JSON text this deep is legal, and JSON.parse reads it.
    const deep = `${'['.repeat(5000)}"reach me at jane.doe@example.com"${']'.repeat(5000)}`;
    const pagerDuty = await server.request('POST', '/v2/enqueue', {
      token: null,
      rawBody: `{"routing_key":${JSON.stringify(server.tokens.ingest)},"event_action":"trigger","dedup_key":"pd-deep-1","payload":{"summary":"deeply nested details","source":"deep-1.prod","severity":"warning","component":"deep-service","custom_details":{"nested":${deep}}}}`,
      headers: { 'content-type': 'application/json' },
    });
    expect(pagerDuty.status).toBe(400);
    expect(pagerDuty.json.error).toMatchObject({ code: 'invalid_request', path: 'body' });
    expect(pagerDuty.json.error.message).toContain('deeper than 100 levels');
    // SNS posts JSON as text/plain: the same limit holds there.
    const sns = await server.request('POST', '/v1/ingest/cloudwatch', {
      token: server.tokens.ingest,
      rawBody: `{"Type":"Notification","Message":${deep}}`,
      headers: { 'content-type': 'text/plain' },
    });
    expect(sns.status).toBe(400);
    // Details 50 levels deep, deeper than real ones, still go in.
    const nested = `${'{"a":'.repeat(50)}"fine"${'}'.repeat(50)}`;
    const ok = await server.request('POST', '/v2/enqueue', {
      token: null,
      rawBody: `{"routing_key":${JSON.stringify(server.tokens.ingest)},"event_action":"trigger","dedup_key":"pd-nested-1","payload":{"summary":"nested details","source":"deep-1.prod","severity":"warning","component":"deep-service","custom_details":${nested}}}`,
      headers: { 'content-type': 'application/json' },
    });
    expect(ok.status).toBe(202);
  });

  it('keeps a NUL in a title or a key as U+FFFD on either backend, and names a __proto__ key as the reason it refuses', async () => {
    const nul = await server.request('POST', '/v1/signals', {
      token: server.tokens.ingest,
      rawBody: JSON.stringify({
        service: 'nul-check',
        severity: 'warning',
        title: 'disk\u0000full',
        labels: { 'zone\u0000': 'a' },
      }),
      headers: { 'content-type': 'application/json' },
    });
    expect(nul.status).toBe(200);
    const stored = await server.request('GET', '/v1/signals?service=nul-check', {
      token: server.tokens.read,
    });
    expect(stored.json.items[0].title).toBe('disk\uFFFDfull');
    expect(stored.json.items[0].labels).toEqual({ 'zone\uFFFD': 'a' });

    const proto = await server.request('POST', '/v1/signals', {
      token: server.tokens.ingest,
      rawBody: '{"service":"proto-check","severity":"warning","title":"t","labels":{"__proto__":"x"}}',
      headers: { 'content-type': 'application/json' },
    });
    expect(proto.status).toBe(400);
    expect(proto.json.error).toMatchObject({ code: 'invalid_request', path: 'body' });
    expect(proto.json.error.message).toContain('__proto__');
    expect(proto.json.error.message).not.toContain('not valid JSON');
  });

  it('refuses more than 256 labels on a signal with a 400 naming the cap, from JSON and Alertmanager alike', async () => {
    const many = Object.fromEntries(
      Array.from({ length: 100_000 }, (_, index) => [`k${index}`, `v${index}`]),
    );
    const generic = await server.request('POST', '/v1/signals', {
      token: server.tokens.ingest,
      body: { service: 'label-cap', severity: 'warning', title: 'many labels', labels: many },
    });
    expect(generic.status).toBe(400);
    expect(generic.json.error.message).toContain('at most 256');
    const alertmanager = await server.request('POST', '/v1/ingest/alertmanager', {
      token: server.tokens.ingest,
      body: {
        version: '4',
        status: 'firing',
        receiver: 'opx',
        groupKey: '{}:{alertname="Many"}',
        alerts: [
          {
            status: 'firing',
            labels: { alertname: 'Many', service: 'label-cap', ...many },
            annotations: {},
            startsAt: '2026-12-01T12:00:00Z',
          },
        ],
      },
    });
    expect(alertmanager.status).toBe(400);
    expect(alertmanager.json.error).toMatchObject({ code: 'invalid_request' });
    expect(alertmanager.json.error.message).toContain('a signal carries at most 256');
    // 256 is allowed.
    const atCap = Object.fromEntries(Array.from({ length: 256 }, (_, index) => [`k${index}`, 'v']));
    const ok = await server.request('POST', '/v1/signals', {
      token: server.tokens.ingest,
      body: { service: 'label-cap', severity: 'warning', title: 'at the cap', labels: atCap },
    });
    expect(ok.status).toBe(200);
  });
});
