import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseCloudWatchSns } from './cloudwatch.js';
import { checkAdapterResult } from './contract.js';
import { parseEventBridgeAlarm } from './eventbridge.js';

// biome-ignore lint/suspicious/noExplicitAny: tests edit nested fixture fields freely.
type Json = Record<string, any>;

const fixture = (file: string): Json =>
  JSON.parse(readFileSync(new URL(`./fixtures/${file}`, import.meta.url), 'utf8'));

const now = Date.parse('2024-05-01T12:15:00Z');

function firstSignal(body: unknown) {
  const result = parseEventBridgeAlarm(body, { now });
  expect(checkAdapterResult(result)).toEqual([]);
  if (!result.ok) throw new Error(result.error.message);
  expect(result.signals).toHaveLength(1);
  return result.signals[0]!;
}

describe('parseEventBridgeAlarm', () => {
  it('maps a single-metric alarm state change', () => {
    const event = fixture('eventbridge-alarm-single-metric.json');
    const signal = firstSignal(event);
    expect(signal).toEqual({
      source: 'eventbridge',
      fingerprint: 'arn:aws:cloudwatch:eu-west-1:111122223333:alarm:checkout-cpu-high',
      status: 'firing',
      severity: 'error',
      service: 'checkout',
      environment: 'prod',
      region: 'eu-west-1',
      title: `checkout-cpu-high: ${event.detail.state.reason}`,
      description: 'Checkout tasks are CPU bound. severity=high env=prod',
      labels: {
        ClusterName: 'prod-cluster',
        ServiceName: 'checkout',
        alarm_name: 'checkout-cpu-high',
        account_id: '111122223333',
        namespace: 'AWS/ECS',
      },
      annotations: { state_reason: event.detail.state.reason, previous_state: 'OK' },
      metric: {
        name: 'CPUUtilization',
        namespace: 'AWS/ECS',
        statistic: 'Average',
        threshold: 80,
        value: 91.5,
        datapoints: [{ at: Date.parse('2024-05-01T11:59:00Z'), value: 91.5 }],
      },
      startsAt: Date.parse('2024-05-01T12:00:05.123Z'),
      links: [
        {
          href: 'https://console.aws.amazon.com/cloudwatch/home?region=eu-west-1#alarmsV2:alarm/checkout-cpu-high',
          text: 'CloudWatch alarm',
        },
      ],
      raw: event,
    });
  });

  it('maps a metric-math alarm returning to OK, reading tags', () => {
    const event = fixture('eventbridge-alarm-metric-math.json');
    const signal = firstSignal(event);
    expect(signal).toMatchObject({
      fingerprint: 'arn:aws:cloudwatch:us-east-1:111122223333:alarm:orders-api-error-rate',
      status: 'resolved',
      // The ALARM severity ([SEV2]) is kept so the resolution does not re-rank the signal.
      severity: 'error',
      service: 'orders-api',
      environment: 'staging',
      region: 'us-east-1',
      endsAt: Date.parse('2024-05-01T12:09:59.876Z'),
      labels: { team: 'orders', env: 'staging', FunctionName: 'orders-api', namespace: 'AWS/Lambda' },
      metric: { name: 'Error rate (%)', namespace: 'AWS/Lambda', threshold: 5, value: 0.4 },
    });
    expect(JSON.parse(signal.annotations.metrics ?? '[]')).toEqual(event.detail.configuration.metrics);
  });

  it('uses the expression when a math metric has no label, and the time when state.timestamp is missing', () => {
    const event = fixture('eventbridge-alarm-metric-math.json');
    delete event.detail.configuration.metrics[0].label;
    delete event.detail.state.timestamp;
    const signal = firstSignal(event);
    expect(signal.metric?.name).toBe('100 * errors / invocations');
    expect(signal.startsAt).toBe(Date.parse('2024-05-01T12:10:00Z'));
  });

  it('gives INSUFFICIENT_DATA an info severity and prefers a service tag', () => {
    const event = fixture('eventbridge-alarm-single-metric.json');
    event.detail.state.value = 'INSUFFICIENT_DATA';
    event.detail.alarmTags = { service: 'payments' };
    expect(firstSignal(event)).toMatchObject({ status: 'firing', severity: 'info', service: 'payments' });
  });

  it('is reached through SNS as well, landing on the same fingerprint', () => {
    const event = fixture('eventbridge-alarm-single-metric.json');
    const viaSns = parseCloudWatchSns(
      {
        Type: 'Notification',
        MessageId: 'm-1',
        TopicArn: 'arn:aws:sns:eu-west-1:1:t',
        Message: JSON.stringify(event),
      },
      { now },
    );
    expect(checkAdapterResult(viaSns)).toEqual([]);
    expect(viaSns.ok && viaSns.signals[0]?.fingerprint).toBe(firstSignal(event).fingerprint);
  });

  it.each([
    [
      {
        ...fixture('eventbridge-alarm-single-metric.json'),
        'detail-type': 'EC2 Instance State-change Notification',
      },
      'unsupported_payload',
      'detail-type',
    ],
    [{ detail: {} }, 'unsupported_payload', 'detail-type'],
    [[], 'invalid_request', undefined],
    [{ 'detail-type': 'CloudWatch Alarm State Change' }, 'invalid_request', 'detail'],
    [
      { 'detail-type': 'CloudWatch Alarm State Change', detail: { state: { value: 'ALARM' } } },
      'invalid_request',
      'detail.alarmName',
    ],
    [
      { 'detail-type': 'CloudWatch Alarm State Change', detail: { alarmName: 'a' } },
      'invalid_request',
      'detail.state',
    ],
    [
      {
        'detail-type': 'CloudWatch Alarm State Change',
        detail: { alarmName: 'a', state: { value: 'PANIC' } },
      },
      'invalid_request',
      'detail.state.value',
    ],
    [
      {
        'detail-type': 'CloudWatch Alarm State Change',
        detail: {
          alarmName: 'a',
          state: { value: 'ALARM' },
          configuration: { metrics: [{ metricStat: { metric: { dimensions: { a: 1 } } } }] },
        },
      },
      'invalid_request',
      'detail.configuration.metrics[0].metricStat.metric.dimensions.a',
    ],
  ])('rejects %j', (body, code, path) => {
    const result = parseEventBridgeAlarm(body, { now });
    expect(result).toMatchObject({ ok: false, error: { code } });
    if (!result.ok) expect(result.error.path).toBe(path);
  });
});
