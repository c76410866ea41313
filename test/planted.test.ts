import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBackstageCatalog } from '../src/catalog/backstage.js';
import {
  BACKENDS,
  databaseBytes,
  postgresHits,
  REPO_ROOT,
  type TestResponse,
  type TestServer,
  testServer,
} from './support.js';

/**
 * Personal data and secrets planted in every field a sender controls, through every adapter, then
 * looked for in the raw database: the SQLite files (main, WAL, shared memory) or every column of every
 * table on PostgreSQL. Each planted value is unique, so a hit names the field that leaked.
 */
const run = randomBytes(4).toString('hex');
const planted = new Map<string, string>();
/** A unique email address for one field. */
function email(field: string): string {
  const value = `planted.${field.replace(/[^a-z0-9]/gi, '')}.${run}@example.com`;
  planted.set(field, value);
  return value;
}
/** A unique GitHub token (a secret with a well-known shape) for one field. */
function secret(field: string): string {
  const value = `ghp_${randomBytes(18).toString('hex').slice(0, 36)}`;
  planted.set(field, value);
  return value;
}

describe.each(BACKENDS)('no planted PII or secret reaches the database (%s)', (backend) => {
  let server: TestServer;
  const answers: Record<string, TestResponse> = {};

  beforeAll(async () => {
    server = await testServer(backend);
    const catalog = parseBackstageCatalog(
      readFileSync(path.join(REPO_ROOT, 'examples', 'topology', 'catalog-info.yaml'), 'utf8'),
    );
    if (!catalog.ok) throw new Error(catalog.error.message);
    await server.runtime.store.services.upsertMany(catalog.services);
    const ingest = server.tokens.ingest;
    const now = new Date().toISOString();

    answers.generic = await server.request('POST', '/v1/signals', {
      token: ingest,
      headers: { 'idempotency-key': `retry-${email('generic.idempotencyKey')}` },
      body: {
        service: 'checkout-service',
        severity: 'critical',
        environment: 'prod',
        fingerprint: `fp/${email('generic.fingerprint')}`,
        title: `Checkout failing for ${email('generic.title')}`,
        description: `token ${secret('generic.description')}`,
        labels: { [`owner/${email('generic.labelKey')}`]: 'x', customer: email('generic.labelValue') },
        annotations: { contact: email('generic.annotation') },
        metric: {
          name: `errors_for/${email('generic.metricName')}`,
          namespace: `ns/${email('generic.metricNs')}`,
        },
      },
    });
    answers.alertmanager = await server.request('POST', '/v1/ingest/alertmanager', {
      token: ingest,
      body: {
        version: '4',
        status: 'firing',
        receiver: 'opx',
        groupKey: `{}:{alertname="Planted"}`,
        groupLabels: { alertname: 'Planted' },
        commonLabels: {},
        commonAnnotations: {},
        externalURL: 'http://alertmanager:9093',
        alerts: [
          {
            status: 'firing',
            labels: {
              alertname: 'Planted',
              service: 'payments-service',
              user: email('alertmanager.label'),
              [`k/${email('alertmanager.labelKey')}`]: 'v',
            },
            annotations: { summary: `reset for ${email('alertmanager.annotation')}` },
            startsAt: now,
            endsAt: '0001-01-01T00:00:00Z',
            generatorURL: 'http://prometheus:9090/graph',
            fingerprint: 'c0ffee0000000001',
          },
        ],
      },
    });
    answers.prometheus = await server.request('POST', '/api/v2/alerts', {
      token: ingest,
      body: [
        {
          labels: { alertname: 'PlantedProm', service: 'api-gateway', user: email('prometheus.label') },
          annotations: { description: `password=${secret('prometheus.annotation')}` },
          startsAt: now,
        },
      ],
    });
    const alarm = {
      AlarmName: `orders-5xx ${email('cloudwatch.alarmName')}`,
      AlarmDescription: `ask ${email('cloudwatch.description')}`,
      AWSAccountId: '123456789012',
      NewStateValue: 'ALARM',
      NewStateReason: 'Threshold Crossed',
      StateChangeTime: now,
      Region: 'EU (Ireland)',
      AlarmArn: 'arn:aws:cloudwatch:eu-west-1:123456789012:alarm:orders-5xx',
      OldStateValue: 'OK',
      Trigger: {
        MetricName: 'HTTPCode_Target_5XX_Count',
        Namespace: 'AWS/ApplicationELB',
        Statistic: 'SUM',
        Dimensions: [{ name: 'ServiceName', value: `order-service ${email('cloudwatch.dimension')}` }],
        Period: 60,
        EvaluationPeriods: 1,
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: 1,
      },
    };
    answers.cloudwatch = await server.request('POST', '/v1/ingest/cloudwatch', {
      token: ingest,
      body: {
        Type: 'Notification',
        MessageId: `m-${run}`,
        TopicArn: 'arn:aws:sns:eu-west-1:123456789012:alarms',
        Subject: `ALARM for ${email('cloudwatch.subject')}`,
        Message: JSON.stringify(alarm),
        Timestamp: now,
      },
    });
    answers.eventbridge = await server.request('POST', '/v1/ingest/eventbridge', {
      token: ingest,
      body: {
        version: '0',
        id: `e-${run}`,
        'detail-type': 'CloudWatch Alarm State Change',
        source: 'aws.cloudwatch',
        account: '123456789012',
        time: now,
        region: 'eu-west-1',
        resources: ['arn:aws:cloudwatch:eu-west-1:123456789012:alarm:inventory'],
        detail: {
          alarmName: `inventory ${email('eventbridge.alarmName')}`,
          state: { value: 'ALARM', reason: `seen by ${email('eventbridge.reason')}`, timestamp: now },
          previousState: { value: 'OK', reason: 'ok', timestamp: now },
          configuration: { description: `page ${email('eventbridge.description')}`, metrics: [] },
        },
      },
    });
    answers.pagerduty = await server.request('POST', '/v2/enqueue', {
      token: null,
      body: {
        routing_key: ingest,
        event_action: 'trigger',
        dedup_key: `pd/${email('pagerduty.dedupKey')}`,
        payload: {
          summary: `Login failures for ${email('pagerduty.summary')}`,
          source: 'auth-1.prod',
          severity: 'error',
          component: 'auth-service',
          custom_details: { [`by/${email('pagerduty.detailKey')}`]: secret('pagerduty.detailValue') },
        },
      },
    });
    answers.pagerdutyChange = await server.request('POST', '/v2/change/enqueue', {
      token: null,
      body: {
        routing_key: ingest,
        payload: {
          summary: `Deployed by ${email('pagerdutyChange.summary')}`,
          source: 'ci',
          timestamp: now,
          custom_details: { build: email('pagerdutyChange.detail') },
        },
      },
    });
    answers.change = await server.request('POST', '/v1/changes', {
      token: ingest,
      body: {
        kind: 'deploy',
        service: 'checkout-service',
        environment: 'prod',
        summary: `rollout by ${email('change.summary')}`,
        startedAt: now,
        author: email('change.author'),
        versionFrom: `v1-${email('change.versionFrom')}`,
        versionTo: `v2-${email('change.versionTo')}`,
        externalId: `deploy/${email('change.externalId')}`,
        source: 'ci',
      },
    });
    answers.silence = await server.request('POST', '/v1/silences', {
      body: {
        matchers: [{ field: 'customer', op: '=', value: email('silence.matcher') }],
        endsAt: new Date(Date.now() + 3_600_000).toISOString(),
        comment: `asked by ${email('silence.comment')}`,
      },
    });
    // Freezes evidence (bundles and graphs) from what was stored.
    const incidents = await server.request('GET', '/v1/incidents', { token: server.tokens.read });
    for (const incident of incidents.json.items.slice(0, 2)) {
      const run = await server.request('POST', `/v1/incidents/${incident.id}/investigations`, {
        token: server.tokens.respond,
      });
      expect(run.status, run.text).toBe(201);
    }
  });
  afterAll(async () => {
    await server?.cleanup();
  });

  it('accepted every planted request', () => {
    const statuses = Object.fromEntries(
      Object.entries(answers).map(([name, answer]) => [name, answer.status]),
    );
    expect(statuses).toEqual({
      generic: 200,
      alertmanager: 200,
      prometheus: 200,
      cloudwatch: 200,
      eventbridge: 200,
      pagerduty: 202,
      pagerdutyChange: 202,
      change: 201,
      silence: 201,
    });
  });

  it('finds none of them in the raw database', async () => {
    expect(planted.size).toBeGreaterThanOrEqual(30);
    const leaked: string[] = [];
    if (backend === 'sqlite') {
      const bytes = databaseBytes(server.dataDir);
      for (const [field, value] of planted) if (bytes.includes(Buffer.from(value))) leaked.push(field);
    } else {
      const schema = server.runtime.store.options.schema!;
      for (const [field, value] of planted) {
        const hits = await postgresHits(schema, value);
        if (hits.length > 0) leaked.push(`${field} → ${hits.join(', ')}`);
      }
    }
    expect(leaked).toEqual([]);
  });
});
