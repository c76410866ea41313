import type { SignalDraft } from '../../domain/signal.js';
import { type AlarmMetric, alarmToDraft } from './cloudwatch-alarm.js';
import {
  guard,
  isRecord,
  type Path,
  preview,
  readArray,
  readOptionalRecord,
  readOptionalString,
  readOptionalTimestamp,
  readRecord,
  readString,
  readStringMap,
  tryParseJson,
  unsupported,
} from './normalize.js';

export const ALARM_STATE_CHANGE = 'CloudWatch Alarm State Change';

function readReturnData(value: unknown, path: Path): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'boolean') return value;
  return readString(value, path) === 'true';
}

function readMetric(item: unknown, path: Path): AlarmMetric {
  const entry = readRecord(item, path);
  const stat = readOptionalRecord(entry.metricStat, [...path, 'metricStat']);
  const metric = readOptionalRecord(stat?.metric, [...path, 'metricStat', 'metric']);
  const dimensions = readStringMap(metric?.dimensions, [...path, 'metricStat', 'metric', 'dimensions']);
  return {
    id: readOptionalString(entry.id, [...path, 'id']),
    name: readOptionalString(metric?.name, [...path, 'metricStat', 'metric', 'name']),
    namespace: readOptionalString(metric?.namespace, [...path, 'metricStat', 'metric', 'namespace']),
    stat: readOptionalString(stat?.stat, [...path, 'metricStat', 'stat']),
    unit: readOptionalString(stat?.unit, [...path, 'metricStat', 'unit']),
    dimensions: Object.entries(dimensions),
    expression: readOptionalString(entry.expression, [...path, 'expression']),
    label: readOptionalString(entry.label, [...path, 'label']),
    returnData: readReturnData(entry.returnData, [...path, 'returnData']),
  };
}

/**
 * Maps one "CloudWatch Alarm State Change" event at `path` (the root, or an SNS Message that carries
 * an EventBridge event) to a draft.
 */
export function eventBridgeAlarmDraft(
  event: Record<string, unknown>,
  path: Path,
  now: number,
  raw: unknown,
): SignalDraft {
  const detail = readRecord(event.detail, [...path, 'detail']);
  const detailPath = [...path, 'detail'];
  const state = readRecord(detail.state, [...detailPath, 'state']);
  const previousState = readOptionalRecord(detail.previousState, [...detailPath, 'previousState']);
  const configuration = readOptionalRecord(detail.configuration, [...detailPath, 'configuration']);
  const metricsValue = configuration?.metrics ?? [];
  const metrics = readArray(metricsValue, [...detailPath, 'configuration', 'metrics']).map((item, index) =>
    readMetric(item, [...detailPath, 'configuration', 'metrics', index]),
  );
  const reasonDataText = readOptionalString(state.reasonData, [...detailPath, 'state', 'reasonData']);
  const reasonData = reasonDataText === undefined ? undefined : tryParseJson(reasonDataText);
  const resources = Array.isArray(event.resources) ? event.resources : [];
  const alarmArn = resources.find(
    (resource): resource is string => typeof resource === 'string' && resource.startsWith('arn:'),
  );
  return alarmToDraft({
    source: 'eventbridge',
    alarmName: readString(detail.alarmName, [...detailPath, 'alarmName']),
    alarmArn,
    accountId: readOptionalString(event.account, [...path, 'account']),
    region: readOptionalString(event.region, [...path, 'region']),
    description: readOptionalString(configuration?.description, [
      ...detailPath,
      'configuration',
      'description',
    ]),
    state: readString(state.value, [...detailPath, 'state', 'value']),
    statePath: [...detailPath, 'state', 'value'],
    previousState: readOptionalString(previousState?.value, [...detailPath, 'previousState', 'value']),
    reason: readOptionalString(state.reason, [...detailPath, 'state', 'reason']),
    reasonData: isRecord(reasonData) ? reasonData : undefined,
    changedAt:
      readOptionalTimestamp(state.timestamp, [...detailPath, 'state', 'timestamp']) ??
      readOptionalTimestamp(event.time, [...path, 'time']) ??
      now,
    metrics,
    rawMetrics: metricsValue,
    tags:
      detail.alarmTags === undefined
        ? undefined
        : readStringMap(detail.alarmTags, [...detailPath, 'alarmTags']),
    raw,
  });
}

export function isAlarmStateChange(value: unknown): value is Record<string, unknown> {
  return isRecord(value) && value['detail-type'] === ALARM_STATE_CHANGE;
}

/** An EventBridge "CloudWatch Alarm State Change" event, as an API destination or a bus target sends it. */
export const parseEventBridgeAlarm = guard((body, context) => {
  const event = readRecord(body, []);
  if (event['detail-type'] !== ALARM_STATE_CHANGE) {
    unsupported(
      `detail-type must be "${ALARM_STATE_CHANGE}" (got ${preview(event['detail-type'])}); route only alarm state changes here`,
      ['detail-type'],
    );
  }
  return { signals: [eventBridgeAlarmDraft(event, [], context.now, body)] };
});
