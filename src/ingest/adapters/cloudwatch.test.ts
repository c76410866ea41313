import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseCloudWatchSns } from './cloudwatch.js';
import { checkAdapterResult } from './contract.js';

// biome-ignore lint/suspicious/noExplicitAny: tests edit nested fixture fields freely.
type Json = Record<string, any>;

const payload = (file: string): Json =>
  JSON.parse(readFileSync(new URL(`../../../test/fixtures/payloads/${file}`, import.meta.url), 'utf8'));
const fixture = (file: string): Json =>
  JSON.parse(readFileSync(new URL(`./fixtures/${file}`, import.meta.url), 'utf8'));

const now = Date.parse('2024-05-01T12:00:30Z');
const stateChangeTime = Date.UTC(2015, 5, 3, 17, 43, 27, 123);

/** The SNS HTTPS body with the alarm message edited by `edit`. */
function httpsAlarm(edit: (alarm: Json) => void): Json {
  const body = fixture('sns-https-alarm-notification.json');
  const alarm = JSON.parse(body.Message);
  edit(alarm);
  body.Message = JSON.stringify(alarm);
  return body;
}

function firstSignal(body: unknown) {
  const result = parseCloudWatchSns(body, { now });
  expect(checkAdapterResult(result)).toEqual([]);
  if (!result.ok) throw new Error(result.error.message);
  expect(result.signals).toHaveLength(1);
  return result.signals[0]!;
}

describe('parseCloudWatchSns with the real Lambda SNS payloads', () => {
  it('maps a single-metric alarm', () => {
    const signal = firstSignal(payload('cloudwatch-alarm-sns-payload-single-metric.json'));
    expect(signal).toMatchObject({
      source: 'cloudwatch',
      fingerprint: 'arn:aws:cloudwatch:REGION:ACCOUNT_NUMBER:alarm:EXAMPLE',
      status: 'firing',
      severity: 'critical',
      service: 'TestInstance',
      environment: 'production',
      region: 'REGION',
      description: 'EXAMPLE',
      startsAt: stateChangeTime,
      metric: {
        name: 'NetworkOut',
        namespace: 'AWS/EC2',
        statistic: 'AVERAGE',
        unit: 'Bytes',
        threshold: 0,
        comparison: 'GreaterThanThreshold',
        value: 1234,
      },
      labels: {
        alarm_name: 'EXAMPLE',
        account_id: '123456789012',
        namespace: 'AWS/EC2',
        InstanceId: 'TestInstance',
      },
    });
    expect(signal.title).toMatch(/^EXAMPLE: Threshold Crossed: 1 out of the last 1 datapoints \[1234\.0/);
    expect(signal.annotations.metrics).toBeUndefined();
    expect(signal.endsAt).toBeUndefined();
    // REGION is not a real region code, so no console link is made up.
    expect(signal.links).toEqual([]);
  });

  it('maps a metric-math alarm using the metric that returns data', () => {
    const signal = firstSignal(payload('cloudwatch-alarm-sns-payload-multiple-metrics.json'));
    expect(signal).toMatchObject({
      fingerprint: 'arn:aws:cloudwatch:REGION:ACCOUNT_NUMBER:alarm:EXAMPLE',
      region: 'REGION',
      startsAt: stateChangeTime,
      service: 'TestInstance',
      metric: { name: 'Expression1', namespace: 'AWS/EC2', threshold: 0, value: 1234 },
      labels: { account_id: 'EXAMPLE', InstanceId: 'TestInstance' },
    });
    expect(signal.metric?.statistic).toBeUndefined();
    expect(JSON.parse(signal.annotations.metrics ?? 'null')).toEqual([
      { Expression: 'm1*1', Id: 'e1', Label: 'Expression1', ReturnData: true },
      {
        Id: 'm1',
        MetricStat: {
          Metric: {
            Dimensions: [{ value: 'TestInstance', name: 'InstanceId' }],
            MetricName: 'NetworkOut',
            Namespace: 'AWS/EC2',
          },
          Period: 60,
          Stat: 'Average',
        },
        ReturnData: false,
      },
    ]);
  });

  it('keeps a notification that is not an alarm as an info signal', () => {
    const signal = firstSignal(payload('sns-event.json'));
    expect(signal).toMatchObject({
      source: 'cloudwatch',
      fingerprint: '95df01b4-ee98-5cb9-9903-4c221d41eb5e',
      status: 'firing',
      severity: 'info',
      service: 'EXAMPLE',
      title: 'TestInvoke',
      description: 'Hello from SNS!',
      startsAt: Date.UTC(2015, 5, 3, 17, 43, 27, 123),
    });
  });

  it('titles a notification without a subject by its message', () => {
    const body = payload('sns-event.json');
    delete body.Records[0].Sns.Subject;
    expect(firstSignal(body).title).toBe('Hello from SNS!');
    body.Records[0].Sns.Message = 'y'.repeat(300);
    expect(firstSignal(body).title).toHaveLength(200);
  });
});

describe('parseCloudWatchSns with the SNS HTTPS body', () => {
  const arn = 'arn:aws:cloudwatch:eu-west-1:111122223333:alarm:orders-queue-backlog';

  it('maps an alarm notification', () => {
    const signal = firstSignal(fixture('sns-https-alarm-notification.json'));
    expect(signal).toMatchObject({
      fingerprint: arn,
      status: 'firing',
      severity: 'error',
      service: 'orders-queue',
      region: 'eu-west-1',
      startsAt: Date.parse('2024-05-01T11:59:10.421Z'),
      metric: { name: 'ApproximateAgeOfOldestMessage', statistic: 'MAXIMUM', threshold: 600, value: 912 },
      labels: { QueueName: 'orders-queue', alarm_name: 'orders-queue-backlog', account_id: '111122223333' },
      annotations: { previous_state: 'OK' },
      links: [
        {
          href: 'https://console.aws.amazon.com/cloudwatch/home?region=eu-west-1#alarmsV2:alarm/orders-queue-backlog',
          text: 'CloudWatch alarm',
        },
      ],
    });
    // Unit is null in the message, so there is none.
    expect(signal.metric?.unit).toBeUndefined();
  });

  it('accepts the unparsed text SNS posts as text/plain', () => {
    const text = JSON.stringify(fixture('sns-https-alarm-notification.json'));
    expect(firstSignal(text).fingerprint).toBe(arn);
  });

  it('accepts the bare alarm JSON of raw message delivery', () => {
    const alarm = JSON.parse(fixture('sns-https-alarm-notification.json').Message);
    expect(firstSignal(alarm).fingerprint).toBe(arn);
  });

  it.each([
    ['ALARM', 'severity=low', 'firing', 'info'],
    ['ALARM', 'pages the team, Severity: major', 'firing', 'error'],
    ['ALARM', '[sev3] queue is slow', 'firing', 'warning'],
    ['ALARM', null, 'firing', 'critical'],
    ['ALARM', 'severity=whatever', 'firing', 'critical'],
    ['OK', '[SEV2] backlog', 'resolved', 'error'],
    ['INSUFFICIENT_DATA', '[SEV1] backlog', 'firing', 'info'],
  ])('maps state %s with description %j to %s/%s', (state, description, status, severity) => {
    const signal = firstSignal(
      httpsAlarm((alarm) => {
        alarm.NewStateValue = state;
        alarm.AlarmDescription = description;
      }),
    );
    expect(signal).toMatchObject({ status, severity });
    if (status === 'resolved') expect(signal.endsAt).toBe(signal.startsAt);
  });

  it('prefers a service dimension and falls back to the alarm name', () => {
    const named = firstSignal(
      httpsAlarm((alarm) => {
        alarm.Trigger.Dimensions = [
          { name: 'ClusterName', value: 'prod' },
          { name: 'ServiceName', value: 'orders' },
        ];
      }),
    );
    expect(named.service).toBe('orders');
    const bare = firstSignal(
      httpsAlarm((alarm) => {
        alarm.Trigger.Dimensions = [];
        delete alarm.AlarmArn;
      }),
    );
    expect(bare).toMatchObject({ service: 'orders-queue-backlog', fingerprint: 'orders-queue-backlog' });
    expect(bare.region).toBeUndefined();
  });

  it('keeps a composite alarm, which has no Trigger', () => {
    const signal = firstSignal(
      httpsAlarm((alarm) => {
        delete alarm.Trigger;
        alarm.AlarmRule = 'ALARM(a) OR ALARM(b)';
      }),
    );
    expect(signal.metric).toBeUndefined();
    expect(signal.service).toBe('orders-queue-backlog');
  });

  it('bounds a fingerprint longer than the schema allows without merging distinct alarms', () => {
    const long = (suffix: string) =>
      firstSignal(
        httpsAlarm((alarm) => {
          alarm.AlarmArn = `arn:aws:cloudwatch:eu-west-1:111122223333:alarm:${'n'.repeat(400)}${suffix}`;
        }),
      ).fingerprint;
    expect(long('a').length).toBeLessThanOrEqual(256);
    expect(long('a')).not.toBe(long('b'));
  });

  it('records a subscription confirmation without producing signals', () => {
    const body = fixture('sns-subscription-confirmation.json');
    const result = parseCloudWatchSns(body, { now });
    expect(checkAdapterResult(result)).toEqual([]);
    expect(result).toEqual({
      ok: true,
      signals: [],
      changes: [],
      dedupKeys: [],
      confirmations: [
        {
          topicArn: 'arn:aws:sns:eu-west-1:111122223333:opx-alarms',
          subscribeUrl: body.SubscribeURL,
          token: body.Token,
          messageId: body.MessageId,
          receivedAt: now,
        },
      ],
    });
  });

  it('ignores an unsubscribe confirmation', () => {
    const body = { ...fixture('sns-subscription-confirmation.json'), Type: 'UnsubscribeConfirmation' };
    expect(parseCloudWatchSns(body, { now })).toEqual({
      ok: true,
      signals: [],
      changes: [],
      confirmations: [],
      dedupKeys: [],
    });
  });

  it.each([
    'http://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription',
    'https://sns.eu-west-1.amazonaws.com.evil.example/?Action=ConfirmSubscription',
    'https://169.254.169.254/latest/meta-data/',
    'not a url',
  ])('refuses to record the confirmation link %s', (url) => {
    const body = { ...fixture('sns-subscription-confirmation.json'), SubscribeURL: url };
    expect(parseCloudWatchSns(body, { now })).toMatchObject({
      ok: false,
      error: { code: 'invalid_request', path: 'SubscribeURL' },
    });
  });
});

describe('parseCloudWatchSns errors', () => {
  it.each([
    [42, 'invalid_request', undefined],
    ['{not json', 'invalid_request', undefined],
    [{ hello: 'world' }, 'unsupported_payload', undefined],
    [{ 'detail-type': 'CloudWatch Alarm State Change' }, 'unsupported_payload', undefined],
    [{ Records: 'x' }, 'invalid_request', 'Records'],
    [{ Records: [{ EventSource: 'aws:sns' }] }, 'invalid_request', 'Records[0].Sns'],
    [{ Type: 'Reminder' }, 'unsupported_payload', 'Type'],
    [{ Type: 'Notification', MessageId: 'm1', Message: { AlarmName: 'x' } }, 'invalid_request', 'Message'],
    [{ Type: 'Notification', Message: 'hello' }, 'invalid_request', 'MessageId'],
    [{ Type: 'SubscriptionConfirmation', TopicArn: 'arn:aws:sns:x:1:t' }, 'invalid_request', 'SubscribeURL'],
  ])('rejects %j', (body, code, path) => {
    const result = parseCloudWatchSns(body, { now });
    expect(result).toMatchObject({ ok: false, error: { code } });
    if (!result.ok) expect(result.error.path).toBe(path);
  });

  it('names the path inside the alarm message', () => {
    const unknownState = parseCloudWatchSns(
      httpsAlarm((alarm) => {
        alarm.NewStateValue = 'BROKEN';
      }),
      { now },
    );
    expect(unknownState).toMatchObject({
      ok: false,
      error: { code: 'invalid_request', path: 'Message.NewStateValue' },
    });
    const lambda = payload('cloudwatch-alarm-sns-payload-multiple-metrics.json');
    const alarm = JSON.parse(lambda.Records[0].Sns.Message);
    alarm.Trigger.Metrics[1].MetricStat.Metric.Dimensions = 'InstanceId=TestInstance';
    alarm.StateChangeTime = 'yesterday';
    lambda.Records[0].Sns.Message = JSON.stringify(alarm);
    expect(parseCloudWatchSns(lambda, { now })).toMatchObject({
      ok: false,
      error: { path: 'Records[0].Sns.Message.StateChangeTime' },
    });
    alarm.StateChangeTime = '2015-06-03T17:43:27.123+0000';
    lambda.Records[0].Sns.Message = JSON.stringify(alarm);
    expect(parseCloudWatchSns(lambda, { now })).toMatchObject({
      ok: false,
      error: { path: 'Records[0].Sns.Message.Trigger.Metrics[1].MetricStat.Metric.Dimensions' },
    });
  });

  it('refuses more than 1,000 records', () => {
    const record = payload('sns-event.json').Records[0];
    const result = parseCloudWatchSns({ Records: Array.from({ length: 1001 }, () => record) }, { now });
    expect(result).toMatchObject({ ok: false, error: { code: 'invalid_request', path: 'Records' } });
  });
});
