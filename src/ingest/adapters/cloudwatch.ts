import type { SignalDraft } from '../../domain/signal.js';
import { type AlarmMetric, alarmToDraft, arnField } from './cloudwatch-alarm.js';
import { eventBridgeAlarmDraft, isAlarmStateChange } from './eventbridge.js';
import {
  type AdapterOutput,
  clip,
  guard,
  invalid,
  isRecord,
  makeDraft,
  type Path,
  preview,
  readArray,
  readOptionalNumber,
  readOptionalRecord,
  readOptionalString,
  readOptionalTimestamp,
  readRecord,
  readString,
  tryParseJson,
  unsupported,
  where,
} from './normalize.js';
import type { SubscriptionConfirmation } from './types.js';

/** Only AWS's own SNS endpoints may appear as a confirmation link; anything else would be an SSRF lure. */
const SNS_HOST = /^sns\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?$/;

function looksLikeAlarm(value: unknown): value is Record<string, unknown> {
  return isRecord(value) && typeof value.AlarmName === 'string' && 'NewStateValue' in value;
}

/** CloudWatch writes dimensions as `{name, value}`; tolerate the API's `{Name, Value}` too. */
function readDimensions(value: unknown, path: Path): [string, string][] {
  if (value === undefined || value === null) return [];
  return readArray(value, path).flatMap((item, index) => {
    const dimension = readRecord(item, [...path, index]);
    const name = readOptionalString(dimension.name ?? dimension.Name, [...path, index, 'name']);
    const dimensionValue = readOptionalString(dimension.value ?? dimension.Value, [...path, index, 'value']);
    return name === undefined || dimensionValue === undefined
      ? []
      : [[name, dimensionValue] as [string, string]];
  });
}

function readReturnData(value: unknown, path: Path): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean')
    invalid(`${where(path)} must be true or false (got ${preview(value)})`, path);
  return value;
}

function readTriggerMetrics(trigger: Record<string, unknown>, path: Path): AlarmMetric[] {
  if (trigger.Metrics !== undefined && trigger.Metrics !== null) {
    return readArray(trigger.Metrics, [...path, 'Metrics']).map((item, index) => {
      const itemPath = [...path, 'Metrics', index];
      const entry = readRecord(item, itemPath);
      const stat = readOptionalRecord(entry.MetricStat, [...itemPath, 'MetricStat']);
      const metric = readOptionalRecord(stat?.Metric, [...itemPath, 'MetricStat', 'Metric']);
      return {
        id: readOptionalString(entry.Id, [...itemPath, 'Id']),
        name: readOptionalString(metric?.MetricName, [...itemPath, 'MetricStat', 'Metric', 'MetricName']),
        namespace: readOptionalString(metric?.Namespace, [...itemPath, 'MetricStat', 'Metric', 'Namespace']),
        stat: readOptionalString(stat?.Stat, [...itemPath, 'MetricStat', 'Stat']),
        unit: readOptionalString(stat?.Unit, [...itemPath, 'MetricStat', 'Unit']),
        dimensions: readDimensions(metric?.Dimensions, [...itemPath, 'MetricStat', 'Metric', 'Dimensions']),
        expression: readOptionalString(entry.Expression, [...itemPath, 'Expression']),
        label: readOptionalString(entry.Label, [...itemPath, 'Label']),
        returnData: readReturnData(entry.ReturnData, [...itemPath, 'ReturnData']),
      };
    });
  }
  const name = readOptionalString(trigger.MetricName, [...path, 'MetricName']);
  if (name === undefined) return [];
  return [
    {
      name,
      namespace: readOptionalString(trigger.Namespace, [...path, 'Namespace']),
      stat:
        readOptionalString(trigger.Statistic, [...path, 'Statistic']) ??
        readOptionalString(trigger.ExtendedStatistic, [...path, 'ExtendedStatistic']),
      unit: readOptionalString(trigger.Unit, [...path, 'Unit']),
      dimensions: readDimensions(trigger.Dimensions, [...path, 'Dimensions']),
      returnData: true,
    },
  ];
}

/** An account id is a string of digits, but a hand-written message may carry it as a number. */
function readAccountId(value: unknown, path: Path): string | undefined {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  return readOptionalString(value, path);
}

/** Maps the alarm JSON CloudWatch publishes to SNS (found at `path`) to a draft. */
function snsAlarmDraft(
  alarm: Record<string, unknown>,
  path: Path,
  fallbackTime: number,
  raw: unknown,
): SignalDraft {
  const trigger = readOptionalRecord(alarm.Trigger, [...path, 'Trigger']) ?? {};
  const triggerPath = [...path, 'Trigger'];
  return alarmToDraft({
    source: 'cloudwatch',
    alarmName: readString(alarm.AlarmName, [...path, 'AlarmName']),
    alarmArn: readOptionalString(alarm.AlarmArn, [...path, 'AlarmArn']),
    accountId: readAccountId(alarm.AWSAccountId, [...path, 'AWSAccountId']),
    // `Region` here is a display name ("US East (N. Virginia)"), so the code comes from the ARN instead.
    description: readOptionalString(alarm.AlarmDescription, [...path, 'AlarmDescription']),
    state: readString(alarm.NewStateValue, [...path, 'NewStateValue']),
    statePath: [...path, 'NewStateValue'],
    previousState: readOptionalString(alarm.OldStateValue, [...path, 'OldStateValue']),
    reason: readOptionalString(alarm.NewStateReason, [...path, 'NewStateReason']),
    changedAt: readOptionalTimestamp(alarm.StateChangeTime, [...path, 'StateChangeTime']) ?? fallbackTime,
    metrics: readTriggerMetrics(trigger, triggerPath),
    rawMetrics: trigger.Metrics ?? undefined,
    threshold: readOptionalNumber(trigger.Threshold, [...triggerPath, 'Threshold']),
    comparison: readOptionalString(trigger.ComparisonOperator, [...triggerPath, 'ComparisonOperator']),
    raw,
  });
}

/**
 * A notification that is not an alarm still becomes a low-severity signal, so a message published to
 * the topic by something else is seen rather than silently dropped.
 */
function plainNotificationDraft(
  sns: Record<string, unknown>,
  path: Path,
  message: string,
  at: number,
): SignalDraft {
  const messageId = readString(sns.MessageId, [...path, 'MessageId']);
  const topicArn = readOptionalString(sns.TopicArn, [...path, 'TopicArn']);
  const topicName = topicArn?.split(':').at(-1)?.trim();
  const firstLine = message.trim() === '' ? undefined : clip(message.trim(), 200);
  return makeDraft({
    source: 'cloudwatch',
    fingerprint: messageId,
    status: 'firing',
    severity: 'info',
    service: topicName,
    region: arnField(topicArn, 3),
    title: readOptionalString(sns.Subject, [...path, 'Subject']) ?? firstLine,
    fallbackTitle: `SNS notification ${messageId}`,
    description: message,
    labels: topicArn === undefined ? {} : { topic_arn: topicArn },
    startsAt: at,
    raw: sns,
  });
}

function readSubscribeUrl(sns: Record<string, unknown>, path: Path): string {
  // The HTTPS body spells it SubscribeURL; the Lambda record style would be SubscribeUrl.
  const key =
    sns.SubscribeURL === undefined && sns.SubscribeUrl !== undefined ? 'SubscribeUrl' : 'SubscribeURL';
  const text = readString(sns[key], [...path, key]);
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (url === undefined || url.protocol !== 'https:' || !SNS_HOST.test(url.hostname)) {
    invalid(
      `${where([...path, key])} must be an https://sns.<region>.amazonaws.com/ URL (got ${preview(text)}); other links are not recorded`,
      [...path, key],
    );
  }
  return text;
}

function readSnsMessage(
  sns: Record<string, unknown>,
  path: Path,
  now: number,
  output: Required<AdapterOutput>,
): void {
  const type = readString(sns.Type, [...path, 'Type']);
  switch (type) {
    case 'SubscriptionConfirmation': {
      const confirmation: SubscriptionConfirmation = {
        topicArn: readString(sns.TopicArn, [...path, 'TopicArn']),
        subscribeUrl: readSubscribeUrl(sns, path),
        token: readString(sns.Token, [...path, 'Token']),
        messageId: readString(sns.MessageId, [...path, 'MessageId']),
        receivedAt: now,
      };
      output.confirmations.push(confirmation);
      return;
    }
    case 'UnsubscribeConfirmation':
      return;
    case 'Notification': {
      if (typeof sns.Message !== 'string') {
        invalid(`${where([...path, 'Message'])} must be a string (got ${preview(sns.Message)})`, [
          ...path,
          'Message',
        ]);
      }
      const sentAt = readOptionalTimestamp(sns.Timestamp, [...path, 'Timestamp']) ?? now;
      const messagePath = [...path, 'Message'];
      const message = tryParseJson(sns.Message);
      if (looksLikeAlarm(message)) {
        output.signals.push(snsAlarmDraft(message, messagePath, sentAt, sns));
      } else if (isAlarmStateChange(message)) {
        output.signals.push(eventBridgeAlarmDraft(message, messagePath, sentAt, sns));
      } else {
        output.signals.push(plainNotificationDraft(sns, path, sns.Message, sentAt));
      }
      return;
    }
    default:
      unsupported(
        `${where([...path, 'Type'])} must be Notification, SubscriptionConfirmation or UnsubscribeConfirmation (got ${preview(type)})`,
        [...path, 'Type'],
      );
  }
}

/**
 * CloudWatch alarms delivered through SNS: the HTTPS subscription body, the Lambda event
 * (`Records[].Sns`), or the bare alarm JSON that raw message delivery sends.
 */
export const parseCloudWatchSns = guard((body, context) => {
  // SNS posts HTTPS bodies as text/plain, so the route may hand over the unparsed text.
  const parsed = typeof body === 'string' ? tryParseJson(body) : body;
  if (typeof body === 'string' && parsed === undefined) invalid('the body is not valid JSON');
  const root = readRecord(parsed, []);
  const output: Required<AdapterOutput> = { signals: [], changes: [], confirmations: [], dedupKeys: [] };
  if ('Records' in root) {
    readArray(root.Records, ['Records']).forEach((record, index) => {
      const sns = readRecord(readRecord(record, ['Records', index]).Sns, ['Records', index, 'Sns']);
      readSnsMessage(sns, ['Records', index, 'Sns'], context.now, output);
    });
  } else if ('Type' in root) {
    readSnsMessage(root, [], context.now, output);
  } else if (looksLikeAlarm(root)) {
    output.signals.push(snsAlarmDraft(root, [], context.now, root));
  } else if (isAlarmStateChange(root)) {
    unsupported('this is an EventBridge event; use the eventbridge format');
  } else {
    unsupported(
      'expected an SNS HTTPS body (with Type), a Lambda SNS event (with Records[].Sns) or a CloudWatch alarm message (with AlarmName and NewStateValue)',
    );
  }
  return output;
});
