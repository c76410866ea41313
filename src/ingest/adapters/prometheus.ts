import type { SignalDraft, SignalSource, SignalStatus } from '../../domain/signal.js';
import {
  cleanLinks,
  environmentFromLabels,
  guard,
  invalid,
  isRecord,
  makeDraft,
  normalizeSeverity,
  type Path,
  readArray,
  readOptionalString,
  readOptionalTimestamp,
  readRecord,
  readStringMap,
  regionFromLabels,
  serviceFromLabels,
  unsupported,
  where,
} from './normalize.js';

const OFFSET_HIGH = 0xcbf29ce4;
const OFFSET_LOW = 0x84222325;
const PRIME_LOW = 0x1b3; // The 64-bit prime is 2^40 + 0x1b3.
const SEPARATOR = 0xff;
const TWO_TO_32 = 0x1_0000_0000;

const encoder = new TextEncoder();

function isAscii(text: string): boolean {
  for (let index = 0; index < text.length; index += 1) if (text.charCodeAt(index) > 0x7f) return false;
  return true;
}

/** FNV-1a 64-bit, kept as two unsigned 32-bit halves so hashing stays in plain number arithmetic. */
class Fnv64 {
  high = OFFSET_HIGH;
  low = OFFSET_LOW;

  byte(value: number): void {
    const low = (this.low ^ value) >>> 0;
    const lowProduct = low * PRIME_LOW; // Below 2^41, so exact in a double.
    const carry = Math.floor(lowProduct / TWO_TO_32);
    // high * 0x1b3 plus the carry plus the low half shifted by 40 bits (i.e. by 8 within the high half).
    this.high = (Math.imul(this.high, PRIME_LOW) + carry + (low << 8)) >>> 0;
    this.low = lowProduct >>> 0;
  }

  /** ASCII text: each char code is its UTF-8 byte. */
  ascii(text: string): void {
    for (let index = 0; index < text.length; index += 1) this.byte(text.charCodeAt(index));
  }

  bytes(values: Uint8Array): void {
    for (const value of values) this.byte(value);
  }

  hex(): string {
    return this.high.toString(16).padStart(8, '0') + this.low.toString(16).padStart(8, '0');
  }
}

function compareBytes(left: Uint8Array, right: Uint8Array): number {
  const length = Math.min(left.length, right.length);
  for (let index = 0; index < length; index += 1) {
    const difference = left[index]! - right[index]!;
    if (difference !== 0) return difference;
  }
  return left.length - right.length;
}

/**
 * Alertmanager's alert fingerprint (Prometheus `model.LabelSet.Fingerprint()`): FNV-1a 64 over the
 * label names in byte order, each name and value followed by a 0xff separator, printed as 16 hex
 * digits. Matching it exactly lets an alert posted by Prometheus and the same alert relayed by
 * Alertmanager land on one signal.
 */
export function alertFingerprint(labels: Readonly<Record<string, string>>): string {
  const hash = new Fnv64();
  const names = Object.keys(labels);
  // For ASCII, UTF-16 order is byte order and no encoding is needed; anything else is encoded, because
  // Go sorts by UTF-8 bytes and JavaScript's default sort compares UTF-16 units.
  if (names.every((name) => isAscii(name) && isAscii(labels[name]!))) {
    for (const name of names.sort()) {
      hash.ascii(name);
      hash.byte(SEPARATOR);
      hash.ascii(labels[name]!);
      hash.byte(SEPARATOR);
    }
    return hash.hex();
  }
  const pairs = names
    .map((name) => [encoder.encode(name), encoder.encode(labels[name]!)] as const)
    .sort((left, right) => compareBytes(left[0], right[0]));
  for (const [name, value] of pairs) {
    hash.bytes(name);
    hash.byte(SEPARATOR);
    hash.bytes(value);
    hash.byte(SEPARATOR);
  }
  return hash.hex();
}

export interface PrometheusStyleAlert {
  source: SignalSource;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  status: SignalStatus;
  startsAt: number;
  endsAt: number | undefined;
  generatorUrl: string | undefined;
  fingerprint: string;
  extraLinks?: { href: string; text: string }[];
  raw: unknown;
  now: number;
}

/** Maps a Prometheus-style alert (shared by Prometheus and Alertmanager) to a draft. */
export function prometheusStyleDraft(alert: PrometheusStyleAlert): SignalDraft {
  const { labels, annotations } = alert;
  return makeDraft({
    source: alert.source,
    fingerprint: alert.fingerprint,
    status: alert.status,
    severity: normalizeSeverity(labels.severity),
    service: serviceFromLabels(labels),
    environment: environmentFromLabels(labels),
    region: regionFromLabels(labels),
    title: annotations.summary?.trim() || labels.alertname,
    fallbackTitle: `alert ${alert.fingerprint}`,
    description: annotations.description ?? annotations.message,
    labels,
    annotations,
    startsAt: alert.startsAt,
    // A firing alert's endsAt is only a resend deadline, not an end; keep it for resolved alerts only.
    endsAt: alert.status === 'resolved' ? (alert.endsAt ?? alert.now) : undefined,
    links: cleanLinks([
      { href: alert.generatorUrl, text: 'source' },
      { href: annotations.runbook_url, text: 'runbook' },
      { href: annotations.runbook, text: 'runbook' },
      { href: annotations.dashboard_url, text: 'dashboard' },
      ...(alert.extraLinks ?? []),
    ]),
    raw: alert.raw,
  });
}

function parseAlert(item: unknown, path: Path, now: number): SignalDraft {
  const alert = readRecord(item, path);
  readRecord(alert.labels, [...path, 'labels']);
  const labels = readStringMap(alert.labels, [...path, 'labels']);
  if (labels.alertname === undefined || labels.alertname.trim() === '') {
    invalid(`${where([...path, 'labels', 'alertname'])} is required: every alert needs a name`, [
      ...path,
      'labels',
      'alertname',
    ]);
  }
  const endsAt = readOptionalTimestamp(alert.endsAt, [...path, 'endsAt']);
  return prometheusStyleDraft({
    source: 'prometheus',
    labels,
    annotations: readStringMap(alert.annotations, [...path, 'annotations']),
    status: endsAt !== undefined && endsAt <= now ? 'resolved' : 'firing',
    startsAt: readOptionalTimestamp(alert.startsAt, [...path, 'startsAt']) ?? now,
    endsAt,
    generatorUrl: readOptionalString(alert.generatorURL, [...path, 'generatorURL']),
    fingerprint: alertFingerprint(labels),
    raw: item,
    now,
  });
}

/** The body Prometheus POSTs to Alertmanager's `/api/v2/alerts`: a bare array of alerts. */
export const parsePrometheusAlerts = guard((body, context) => {
  if (isRecord(body) && Array.isArray(body.alerts)) {
    unsupported(
      'this looks like an Alertmanager webhook (an object with alerts[]); use the alertmanager format',
    );
  }
  const items = readArray(body, []);
  return { signals: items.map((item, index) => parseAlert(item, [index], context.now)) };
});
