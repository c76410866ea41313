import { parseAlertmanagerWebhook } from './alertmanager.js';
import { parseCloudWatchSns } from './cloudwatch.js';
import { parseEventBridgeAlarm } from './eventbridge.js';
import { parseGenericSignals } from './generic.js';
import { parsePagerDutyChange, parsePagerDutyEvent } from './pagerduty.js';
import { parsePrometheusAlerts } from './prometheus.js';
import type { Adapter } from './types.js';

export { parseAlertmanagerWebhook } from './alertmanager.js';
export { parseCloudWatchSns } from './cloudwatch.js';
export { type AlarmFacts, type AlarmMetric, alarmToDraft, arnField } from './cloudwatch-alarm.js';
export { checkAdapterResult } from './contract.js';
export { ALARM_STATE_CHANGE, eventBridgeAlarmDraft, parseEventBridgeAlarm } from './eventbridge.js';
export { genericFingerprint, parseGenericSignals } from './generic.js';
export * from './normalize.js';
export { parsePagerDutyChange, parsePagerDutyEvent } from './pagerduty.js';
export { alertFingerprint, parsePrometheusAlerts, prometheusStyleDraft } from './prometheus.js';
export type * from './types.js';

export const INGEST_FORMATS = [
  'generic',
  'alertmanager',
  'prometheus',
  'cloudwatch',
  'eventbridge',
  'pagerduty',
  'pagerduty-change',
] as const;
export type IngestFormat = (typeof INGEST_FORMATS)[number];

export const ADAPTERS: Record<IngestFormat, Adapter> = {
  generic: parseGenericSignals,
  alertmanager: parseAlertmanagerWebhook,
  prometheus: parsePrometheusAlerts,
  cloudwatch: parseCloudWatchSns,
  eventbridge: parseEventBridgeAlarm,
  pagerduty: parsePagerDutyEvent,
  'pagerduty-change': parsePagerDutyChange,
};

export function isIngestFormat(value: unknown): value is IngestFormat {
  return typeof value === 'string' && (INGEST_FORMATS as readonly string[]).includes(value);
}
