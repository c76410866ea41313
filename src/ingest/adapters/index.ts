import { parseAlertmanagerWebhook } from './alertmanager.js';
import { parseCloudWatchSns } from './cloudwatch.js';
import { parseEventBridgeAlarm } from './eventbridge.js';
import { parseGenericSignals } from './generic.js';
import { parsePagerDutyChange, parsePagerDutyEvent } from './pagerduty.js';
import { parsePrometheusAlerts } from './prometheus.js';
import type { Adapter } from './types.js';

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
