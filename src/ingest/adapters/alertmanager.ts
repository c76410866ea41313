import type { SignalDraft, SignalStatus } from '../../domain/signal.js';
import {
  guard,
  invalid,
  type Path,
  preview,
  readArray,
  readOptionalString,
  readOptionalTimestamp,
  readRecord,
  readStringMap,
  unsupported,
  where,
} from './normalize.js';
import { alertFingerprint, prometheusStyleDraft } from './prometheus.js';

function readStatus(value: unknown, path: Path): SignalStatus | undefined {
  if (value === undefined || value === null) return undefined;
  if (value === 'firing' || value === 'resolved') return value;
  return invalid(`${where(path)} must be "firing" or "resolved" (got ${preview(value)})`, path);
}

function parseAlert(
  item: unknown,
  path: Path,
  groupStatus: SignalStatus | undefined,
  externalUrl: string | undefined,
  now: number,
): SignalDraft {
  const alert = readRecord(item, path);
  readRecord(alert.labels, [...path, 'labels']);
  const labels = readStringMap(alert.labels, [...path, 'labels']);
  const status = readStatus(alert.status, [...path, 'status']) ?? groupStatus;
  if (status === undefined) {
    invalid(`${where([...path, 'status'])} must be "firing" or "resolved" (got nothing)`, [
      ...path,
      'status',
    ]);
  }
  return prometheusStyleDraft({
    source: 'alertmanager',
    labels,
    annotations: readStringMap(alert.annotations, [...path, 'annotations']),
    status,
    startsAt: readOptionalTimestamp(alert.startsAt, [...path, 'startsAt']) ?? now,
    endsAt: readOptionalTimestamp(alert.endsAt, [...path, 'endsAt']),
    generatorUrl: readOptionalString(alert.generatorURL, [...path, 'generatorURL']),
    // Alertmanager already computed it; recomputing only covers senders that leave it out.
    fingerprint:
      readOptionalString(alert.fingerprint, [...path, 'fingerprint'])?.trim() ?? alertFingerprint(labels),
    extraLinks: externalUrl === undefined ? [] : [{ href: externalUrl, text: 'alertmanager' }],
    raw: item,
    now,
  });
}

/** Alertmanager's webhook receiver body (version 4), one signal per alert in the group. */
export const parseAlertmanagerWebhook = guard((body, context) => {
  if (Array.isArray(body)) {
    unsupported(
      'the body is an array, which is what Prometheus sends; use the prometheus format or send the Alertmanager webhook object',
    );
  }
  const webhook = readRecord(body, []);
  if (webhook.version !== '4') {
    unsupported(
      `version must be "4" (the Alertmanager webhook format this adapter reads; got ${preview(webhook.version)})`,
      ['version'],
    );
  }
  const items = readArray(webhook.alerts, ['alerts']);
  const groupStatus = readStatus(webhook.status, ['status']);
  const externalUrl = readOptionalString(webhook.externalURL, ['externalURL']);
  return {
    signals: items.map((item, index) =>
      parseAlert(item, ['alerts', index], groupStatus, externalUrl, context.now),
    ),
  };
});
