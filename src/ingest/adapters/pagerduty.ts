import { randomUUID } from 'node:crypto';
import { CHANGE_KINDS, type ChangeKind, type NormalizedChangeInput } from '../../domain/change.js';
import { SEVERITIES, type Severity } from '../../domain/common.js';
import type { SignalDraft } from '../../domain/signal.js';
import { sha256 } from '../../util/hash.js';
import {
  cleanLinks,
  clip,
  clipOptional,
  environmentFromLabels,
  guard,
  invalid,
  isRecord,
  LIMITS,
  type LinkCandidate,
  lenientTimestamp,
  makeDraft,
  type Path,
  preview,
  readArray,
  readOptionalRecord,
  readOptionalString,
  readOptionalTimestamp,
  readRecord,
  readString,
  regionFromLabels,
  safeJson,
  where,
} from './normalize.js';

/** PagerDuty's documented limits; matching them means a sender that works against PagerDuty works here. */
const ROUTING_KEY_LENGTH = 32;
const SUMMARY_MAX = 1024;
const DEDUP_KEY_MAX = 255;
const EVENT_ACTIONS = ['trigger', 'acknowledge', 'resolve'] as const;
type EventAction = (typeof EVENT_ACTIONS)[number];

/** Checked for shape only: it is a credential, so it is never stored or echoed back. */
function checkRoutingKey(value: unknown): void {
  if (typeof value !== 'string' || value.length !== ROUTING_KEY_LENGTH) {
    invalid(
      `routing_key must be the ${ROUTING_KEY_LENGTH}-character integration key (got ${typeof value === 'string' ? `${value.length} characters` : preview(value)})`,
      ['routing_key'],
    );
  }
}

function withoutRoutingKey(event: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(event).filter(([key]) => key !== 'routing_key'));
}

/** custom_details is free-form JSON; annotations hold strings, so nested values are kept as JSON text. */
function detailsToAnnotations(details: unknown): Record<string, string> {
  if (details === undefined || details === null) return {};
  if (!isRecord(details)) return { details: typeof details === 'string' ? details : safeJson(details) };
  const entries: [string, string][] = [];
  for (const [key, value] of Object.entries(details)) {
    if (value === undefined) continue;
    entries.push([key, typeof value === 'string' ? value : safeJson(value)]);
  }
  return Object.fromEntries(entries);
}

function readLinkList(
  value: unknown,
  path: Path,
  toCandidate: (entry: Record<string, unknown>) => LinkCandidate,
) {
  if (value === undefined || value === null) return [];
  return readArray(value, path).flatMap((item) => (isRecord(item) ? [toCandidate(item)] : []));
}

function eventLinks(event: Record<string, unknown>) {
  return cleanLinks([
    ...readLinkList(event.links, ['links'], (link) => ({ href: link.href, text: link.text })),
    ...readLinkList(event.images, ['images'], (image) => ({
      href: image.href ?? image.src,
      text: image.alt,
    })),
    { href: event.client_url, text: typeof event.client === 'string' ? event.client : 'client' },
  ]);
}

function stringDetail(
  details: Record<string, unknown> | undefined,
  keys: readonly string[],
): string | undefined {
  if (details === undefined) return undefined;
  for (const key of keys) {
    if (!Object.hasOwn(details, key)) continue;
    const value = details[key];
    if (typeof value === 'string' && value.trim() !== '') return value.trim();
    if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  }
  return undefined;
}

function readSeverity(value: unknown, path: Path): Severity {
  const found = SEVERITIES.find((severity) => severity === value);
  if (found === undefined) {
    invalid(`${where(path)} must be one of ${SEVERITIES.join(', ')} (got ${preview(value)})`, path);
  }
  return found;
}

function readAction(value: unknown): EventAction {
  const found = EVENT_ACTIONS.find((action) => action === value);
  if (found === undefined) {
    invalid(`event_action must be one of ${EVENT_ACTIONS.join(', ')} (got ${preview(value)})`, [
      'event_action',
    ]);
  }
  return found;
}

function triggerDraft(event: Record<string, unknown>, dedupKey: string, now: number): SignalDraft {
  const payload = readRecord(event.payload, ['payload']);
  const summary = readString(payload.summary, ['payload', 'summary'], SUMMARY_MAX);
  const source = readString(payload.source, ['payload', 'source']);
  const severity = readSeverity(payload.severity, ['payload', 'severity']);
  const component = readOptionalString(payload.component, ['payload', 'component']);
  const group = readOptionalString(payload.group, ['payload', 'group']);
  const eventClass = readOptionalString(payload.class, ['payload', 'class']);
  const details = isRecord(payload.custom_details) ? payload.custom_details : undefined;
  const labels: [string, string][] = [];
  if (eventClass !== undefined) labels.push(['class', eventClass]);
  if (group !== undefined) labels.push(['group', group]);
  if (component !== undefined) labels.push(['component', component]);
  labels.push(['source', source]);
  return makeDraft({
    source: 'pagerduty',
    fingerprint: dedupKey,
    status: 'firing',
    severity,
    service: stringDetail(details, ['service']) ?? component ?? group ?? source,
    environment: details === undefined ? undefined : environmentFromLabels(details),
    region: details === undefined ? undefined : regionFromLabels(details),
    title: summary,
    fallbackTitle: summary,
    // The title holds 500 characters; PagerDuty allows 1,024, so a long summary survives here in full.
    description:
      stringDetail(details, ['description']) ?? (summary.length > LIMITS.title ? summary : undefined),
    labels: Object.fromEntries(labels),
    annotations: detailsToAnnotations(payload.custom_details),
    startsAt: readOptionalTimestamp(payload.timestamp, ['payload', 'timestamp']) ?? now,
    links: eventLinks(event),
    raw: withoutRoutingKey(event),
  });
}

/**
 * PagerDuty ignores the payload of acknowledge and resolve, so it is read leniently here: whatever is
 * usable names the signal, and the pipeline only updates a signal that already has this dedup_key.
 */
function followUpDraft(
  event: Record<string, unknown>,
  action: 'acknowledge' | 'resolve',
  dedupKey: string,
  now: number,
): SignalDraft {
  const payload = isRecord(event.payload) ? event.payload : {};
  const details = isRecord(payload.custom_details) ? payload.custom_details : undefined;
  const text = (value: unknown) => (typeof value === 'string' && value.trim() !== '' ? value : undefined);
  return makeDraft({
    source: 'pagerduty',
    fingerprint: dedupKey,
    status: action === 'resolve' ? 'resolved' : 'firing',
    severity: SEVERITIES.find((severity) => severity === payload.severity) ?? 'warning',
    service:
      stringDetail(details, ['service']) ??
      text(payload.component) ??
      text(payload.group) ??
      text(payload.source) ??
      'unknown',
    title: text(payload.summary),
    fallbackTitle: `PagerDuty ${action} ${dedupKey}`,
    startsAt: lenientTimestamp(payload.timestamp) ?? now,
    endsAt: action === 'resolve' ? now : undefined,
    links: [],
    acknowledged: action === 'acknowledge' ? true : undefined,
    raw: withoutRoutingKey(event),
  });
}

/** PagerDuty Events API v2 (`/v2/enqueue`): trigger, acknowledge or resolve one alert. */
export const parsePagerDutyEvent = guard((body, context) => {
  const event = readRecord(body, []);
  checkRoutingKey(event.routing_key);
  const action = readAction(event.event_action);
  const given =
    action === 'trigger'
      ? readOptionalString(event.dedup_key, ['dedup_key'])
      : readString(event.dedup_key, ['dedup_key'], DEDUP_KEY_MAX);
  if (given !== undefined && given.length > DEDUP_KEY_MAX) {
    invalid(`dedup_key is ${given.length} characters long; the limit is ${DEDUP_KEY_MAX}`, ['dedup_key']);
  }
  // PagerDuty generates a key when a trigger has none and returns it, so later events can refer to it.
  const dedupKey = given ?? randomUUID().replaceAll('-', '');
  const signal =
    action === 'trigger'
      ? triggerDraft(event, dedupKey, context.now)
      : followUpDraft(event, action, dedupKey, context.now);
  return { signals: [signal], dedupKeys: [dedupKey] };
});

function changeKind(details: Record<string, unknown> | undefined): ChangeKind {
  const word = stringDetail(details, ['kind', 'type'])?.toLowerCase().replace(/[\s-]/g, '_');
  return CHANGE_KINDS.find((kind) => kind === word) ?? 'deploy';
}

/** PagerDuty change events (`/v2/change/enqueue`): a deploy or other change worth correlating with alerts. */
export const parsePagerDutyChange = guard((body, context) => {
  const event = readRecord(body, []);
  checkRoutingKey(event.routing_key);
  const payload = readRecord(event.payload, ['payload']);
  const summary = readString(payload.summary, ['payload', 'summary'], SUMMARY_MAX);
  const source = readOptionalString(payload.source, ['payload', 'source']);
  const details = readOptionalRecord(payload.custom_details, ['payload', 'custom_details']);
  const service = stringDetail(details, ['service']) ?? source?.trim();
  if (service === undefined) {
    invalid('name the changed service in payload.custom_details.service or payload.source', [
      'payload',
      'source',
    ]);
  }
  const timestamp = readOptionalTimestamp(payload.timestamp, ['payload', 'timestamp']);
  const startedAt = timestamp ?? context.now;
  const explicitId = stringDetail(details, ['change_id', 'external_id', 'id']);
  // Without an id, a timestamped change still has a stable identity, so a retried delivery is recognised.
  const externalId =
    explicitId ??
    (timestamp === undefined
      ? undefined
      : `pd-${sha256(safeJson([service, summary, timestamp])).slice(0, 32)}`);
  const change: NormalizedChangeInput = {
    kind: changeKind(details),
    service: clip(service, LIMITS.service),
    environment: clip(
      (details === undefined ? undefined : environmentFromLabels(details)) ?? 'production',
      LIMITS.environment,
    ),
    summary: clip(summary, 2000),
    startedAt,
    links: cleanLinks(readLinkList(event.links, ['links'], (link) => ({ href: link.href, text: link.text }))),
    source: 'pagerduty',
  };
  const versionTo = clipOptional(stringDetail(details, ['version', 'version_to']), 200);
  if (versionTo !== undefined) change.versionTo = versionTo;
  const versionFrom = clipOptional(stringDetail(details, ['previous_version', 'version_from']), 200);
  if (versionFrom !== undefined) change.versionFrom = versionFrom;
  const author = clipOptional(stringDetail(details, ['author']), 200);
  if (author !== undefined) change.author = author;
  if (externalId !== undefined) change.externalId = clip(externalId, 256);
  return { changes: [change] };
});
