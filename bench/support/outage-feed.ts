/**
 * Renders a scenario's alerts as the request bodies their real senders post, and the HTTP calls the
 * outages benchmark makes to a running `opx serve`.
 *
 * - Alertmanager webhook v4 (`POST /v1/ingest/alertmanager`): one notification per alert group, grouped
 *   by alertname and service, with Alertmanager's own fingerprint and its zero time as a firing endsAt.
 * - Prometheus (`POST /api/v2/alerts`): the array Prometheus posts to an Alertmanager; a firing alert's
 *   endsAt lies a few evaluation intervals ahead of the moment it is sent, a resolved one's in the past.
 * - OPX generic signals (`POST /v1/signals`), with an explicit fingerprint.
 * - CloudWatch alarm state changes as Amazon SNS posts them over HTTPS (`POST /v1/ingest/cloudwatch`,
 *   `text/plain`), the service in a `ServiceName` dimension and severity and environment in the
 *   alarm description.
 */
import { createHash } from 'node:crypto';
import type { OpxClient } from '../../src/client/index.js';
import { alertFingerprint } from '../../src/ingest/adapters/prometheus.js';
import type { ScenarioChange, ScenarioSignal } from './outage-scenarios.js';

export interface Clock {
  /** Real epoch ms of the scenario's onset: offsets in the file are added to it. */
  onset: number;
  environment: string;
  scenarioId: string;
}

export interface Request {
  path: string;
  contentType: string;
  body: string;
}

const iso = (at: number) => new Date(at).toISOString();
const ZERO_TIME = '0001-01-01T00:00:00Z';

/** The labels a Prometheus rule would attach: its own, the target's, and the rule's severity. */
export function prometheusLabels(signal: ScenarioSignal, clock: Clock): Record<string, string> {
  return {
    alertname: signal.alertname,
    service: signal.service,
    env: clock.environment,
    severity: signal.severity,
    ...signal.labels,
  };
}

function annotations(signal: ScenarioSignal): Record<string, string> {
  return {
    summary: signal.summary,
    ...(signal.description ? { description: signal.description } : {}),
    runbook_url: `https://runbooks.example.com/${signal.service}/${signal.alertname.toLowerCase()}`,
  };
}

function generatorUrl(signal: ScenarioSignal, clock: Clock): string {
  return `http://prometheus.${clock.environment}.example:9090/graph?g0.expr=ALERTS%7Balertname%3D%22${encodeURIComponent(signal.alertname)}%22%7D`;
}

function alarmName(signal: ScenarioSignal): string {
  return signal.cloudwatch?.alarmName ?? `${signal.service}-${signal.alertname}`;
}

function alarmArn(signal: ScenarioSignal): string {
  const cw = signal.cloudwatch!;
  return `arn:aws:cloudwatch:${cw.region}:${cw.account}:alarm:${alarmName(signal)}`;
}

/** The fingerprint OPX stores for this alert, to find its signal again. */
export function expectedFingerprint(signal: ScenarioSignal, clock: Clock): string {
  switch (signal.via) {
    case 'alertmanager':
    case 'prometheus':
      return alertFingerprint(prometheusLabels(signal, clock));
    case 'generic':
      return `${clock.scenarioId}/${signal.id}`;
    case 'cloudwatch':
      return alarmArn(signal);
  }
}

/** A resolve is sent for the alert's end; everything else describes it as firing. */
export function renderSignal(
  signal: ScenarioSignal,
  status: 'firing' | 'resolved',
  clock: Clock,
  now: number,
): Request {
  const startsAt = clock.onset + signal.startsAt;
  const endsAt = signal.resolvedAt === undefined ? undefined : clock.onset + signal.resolvedAt;
  const resolved = status === 'resolved';
  switch (signal.via) {
    case 'alertmanager': {
      const labels = prometheusLabels(signal, clock);
      const alert = {
        status,
        labels,
        annotations: annotations(signal),
        startsAt: iso(startsAt),
        endsAt: resolved ? iso(endsAt!) : ZERO_TIME,
        generatorURL: generatorUrl(signal, clock),
        fingerprint: alertFingerprint(labels),
      };
      const groupLabels = { alertname: signal.alertname, service: signal.service };
      return {
        path: '/v1/ingest/alertmanager',
        contentType: 'application/json',
        body: JSON.stringify({
          version: '4',
          groupKey: `{}:{alertname="${signal.alertname}", service="${signal.service}"}`,
          truncatedAlerts: 0,
          status,
          receiver: 'opx',
          groupLabels,
          commonLabels: labels,
          commonAnnotations: alert.annotations,
          externalURL: `http://alertmanager.${clock.environment}.example:9093`,
          alerts: [alert],
        }),
      };
    }
    case 'prometheus':
      return {
        path: '/api/v2/alerts',
        contentType: 'application/json',
        body: JSON.stringify([
          {
            labels: prometheusLabels(signal, clock),
            annotations: annotations(signal),
            startsAt: iso(startsAt),
            // Prometheus sends a firing alert with endsAt four evaluation intervals after sending it.
            endsAt: iso(resolved ? endsAt! : now + 4 * 60_000),
            generatorURL: generatorUrl(signal, clock),
          },
        ]),
      };
    case 'generic':
      return {
        path: '/v1/signals',
        contentType: 'application/json',
        body: JSON.stringify({
          service: signal.service,
          title: signal.summary,
          ...(signal.description ? { description: signal.description } : {}),
          severity: signal.severity,
          environment: clock.environment,
          status,
          fingerprint: expectedFingerprint(signal, clock),
          labels: { alertname: signal.alertname, ...signal.labels },
          ...(signal.metric ? { metric: signal.metric } : {}),
          startsAt: iso(startsAt),
          ...(resolved ? { endsAt: iso(endsAt!) } : {}),
        }),
      };
    case 'cloudwatch':
      return cloudwatchNotification(signal, status, clock, resolved ? endsAt! : startsAt + signal.for);
  }
}

function cloudwatchTime(at: number): string {
  // CloudWatch writes 2024-05-01T11:59:10.421+0000.
  return iso(at).replace('Z', '+0000');
}

function datapointTime(at: number): string {
  const date = new Date(at);
  const two = (value: number) => String(value).padStart(2, '0');
  return `${two(date.getUTCDate())}/${two(date.getUTCMonth() + 1)}/${two(date.getUTCFullYear() % 100)} ${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())}`;
}

const REGION_NAMES: Record<string, string> = {
  'us-east-1': 'US East (N. Virginia)',
  'us-west-2': 'US West (Oregon)',
  'eu-west-1': 'EU (Ireland)',
};

function cloudwatchNotification(
  signal: ScenarioSignal,
  status: 'firing' | 'resolved',
  clock: Clock,
  changedAt: number,
): Request {
  const cw = signal.cloudwatch!;
  const name = alarmName(signal);
  const firing = status === 'firing';
  const comparison =
    cw.comparison === 'LessThanThreshold' || cw.comparison === 'LessThanOrEqualToThreshold'
      ? 'less than'
      : 'greater than';
  const reason = firing
    ? `Threshold Crossed: ${cw.evaluationPeriods} out of the last ${cw.evaluationPeriods} datapoints [${cw.value.toFixed(1)} (${datapointTime(changedAt - 60_000)})] were ${comparison} the threshold (${cw.threshold.toFixed(1)}) (minimum ${cw.evaluationPeriods} datapoints for OK -> ALARM transition).`
    : `Threshold Crossed: 1 datapoint [${cw.threshold.toFixed(1)} (${datapointTime(changedAt - 60_000)})] was not ${comparison} the threshold (${cw.threshold.toFixed(1)}).`;
  const message = {
    AlarmName: name,
    AlarmDescription: `${signal.summary} severity=${signal.severity} env=${clock.environment}`,
    AWSAccountId: cw.account,
    AlarmConfigurationUpdatedTimestamp: cloudwatchTime(clock.onset - 30 * 86_400_000),
    NewStateValue: firing ? 'ALARM' : 'OK',
    NewStateReason: reason,
    StateChangeTime: cloudwatchTime(changedAt),
    Region: REGION_NAMES[cw.region] ?? cw.region,
    AlarmArn: alarmArn(signal),
    OldStateValue: firing ? 'OK' : 'ALARM',
    OKActions: [],
    AlarmActions: [`arn:aws:sns:${cw.region}:${cw.account}:opx-alarms`],
    InsufficientDataActions: [],
    Trigger: {
      MetricName: cw.metric,
      Namespace: cw.namespace,
      StatisticType: 'Statistic',
      Statistic: cw.statistic.toUpperCase(),
      Unit: cw.unit ?? null,
      Dimensions: [
        { value: signal.service, name: 'ServiceName' },
        ...Object.entries(cw.dimensions).map(([dimension, value]) => ({ value, name: dimension })),
      ],
      Period: cw.period,
      EvaluationPeriods: cw.evaluationPeriods,
      DatapointsToAlarm: cw.evaluationPeriods,
      ComparisonOperator: cw.comparison,
      Threshold: cw.threshold,
      TreatMissingData: 'missing',
      EvaluateLowSampleCountPercentile: '',
    },
  };
  const messageId = uuidFrom(`${clock.scenarioId}/${signal.id}/${status}`);
  const body = {
    Type: 'Notification',
    MessageId: messageId,
    TopicArn: `arn:aws:sns:${cw.region}:${cw.account}:opx-alarms`,
    Subject: `${firing ? 'ALARM' : 'OK'}: "${name}" in ${REGION_NAMES[cw.region] ?? cw.region}`.slice(0, 100),
    Message: JSON.stringify(message),
    Timestamp: iso(changedAt + 1000),
    SignatureVersion: '1',
    Signature: 'EXAMPLE',
    SigningCertURL: `https://sns.${cw.region}.amazonaws.com/SimpleNotificationService-example.pem`,
    UnsubscribeURL: `https://sns.${cw.region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:${cw.region}:${cw.account}:opx-alarms:${messageId}`,
  };
  // SNS posts its JSON with a text/plain content type.
  return {
    path: '/v1/ingest/cloudwatch',
    contentType: 'text/plain; charset=UTF-8',
    body: JSON.stringify(body),
  };
}

function uuidFrom(text: string): string {
  const hex = createHash('sha256').update(text).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** A change as a CI pipeline or change feed posts it to `POST /v1/changes`. */
export function renderChange(change: ScenarioChange, clock: Clock): Request {
  return {
    path: '/v1/changes',
    contentType: 'application/json',
    body: JSON.stringify({
      kind: change.kind,
      service: change.service,
      environment: clock.environment,
      summary: change.summary,
      startedAt: iso(clock.onset + change.startedAt),
      ...(change.finishedAt !== undefined ? { finishedAt: iso(clock.onset + change.finishedAt) } : {}),
      ...(change.versionFrom ? { versionFrom: change.versionFrom } : {}),
      ...(change.versionTo ? { versionTo: change.versionTo } : {}),
      ...(change.author ? { author: change.author } : {}),
      externalId: `${clock.scenarioId}/${change.id}`,
      source: change.source,
    }),
  };
}

// ---------------------------------------------------------------------------------------------------
// HTTP

/** Posts a rendered request through the typed client, with the body and media type a sender uses. */
export function sendRequest(client: OpxClient, request: Request): Promise<unknown> {
  return client.request('POST', request.path, { body: request.body, contentType: request.contentType });
}
