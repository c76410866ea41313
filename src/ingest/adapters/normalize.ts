import { createHash } from 'node:crypto';
import type { z } from 'zod';
import {
  formatPath,
  type Link,
  type Metric,
  type NormalizedChangeInput,
  parseTimestamp,
  type Severity,
  type SignalDraft,
  type SignalSource,
  type SignalStatus,
} from '../../domain/index.js';
import type { Adapter, AdapterError, SubscriptionConfirmation } from './types.js';

/** Bounds the work one request can cause; senders batch below this anyway. */
export const MAX_BATCH = 1000;

/** The schema maxima in domain/signal.ts and domain/common.ts, restated so clipping matches validation. */
export const LIMITS = {
  title: 500,
  description: 10_000,
  service: 200,
  environment: 100,
  region: 100,
  labelKey: 256,
  labelValue: 4096,
  fingerprint: 256,
  linkHref: 2048,
  linkText: 256,
  links: 20,
  metricName: 256,
  metricShort: 64,
} as const;

export type Path = readonly PropertyKey[];

/** Thrown inside an adapter and turned into `{ ok: false }` by `guard`, so parsing code can stay linear. */
export class PayloadProblem extends Error {
  readonly code: AdapterError['code'];
  readonly path: string | undefined;

  constructor(code: AdapterError['code'], message: string, path?: Path | string) {
    super(message);
    this.name = 'PayloadProblem';
    this.code = code;
    const rendered = path === undefined ? '' : typeof path === 'string' ? path : formatPath(path);
    this.path = rendered === '' ? undefined : rendered;
  }
}

/** Aborts the adapter with an already-built error. */
export function raise(error: AdapterError): never {
  throw new PayloadProblem(error.code, error.message, error.path);
}

export function invalid(message: string, path?: Path): never {
  throw new PayloadProblem('invalid_request', message, path);
}

export function unsupported(message: string, path?: Path): never {
  throw new PayloadProblem('unsupported_payload', message, path);
}

/** Names a location for a message: `alerts[0].labels`, or "the body" for the root. */
export function where(path: Path): string {
  const rendered = formatPath(path);
  return rendered === '' ? 'the body' : rendered;
}

export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return value.trim() === '' ? 'an empty string' : 'a string';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

/** A short rendering of a received value for error messages; never throws (unlike JSON.stringify on a bigint). */
export function preview(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(clip(value, 64));
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return describeValue(value);
}

export function toAdapterError(error: unknown): AdapterError {
  if (error instanceof PayloadProblem) {
    return error.path === undefined
      ? { code: error.code, message: error.message }
      : { code: error.code, message: error.message, path: error.path };
  }
  // Anything else is a payload shape we did not foresee (or one too deep to walk); the sender still
  // deserves an answer rather than a 500.
  const detail = error instanceof Error ? error.message : describeValue(error);
  return { code: 'invalid_request', message: `the payload could not be read: ${detail}` };
}

/** Renders the first zod issue as an AdapterError whose path starts with `prefix`. */
export function fromZodError(error: z.ZodError, prefix: Path = []): AdapterError {
  const issue = error.issues[0];
  if (issue === undefined) return { code: 'invalid_request', message: `${where(prefix)} is invalid` };
  const path: PropertyKey[] = [...prefix, ...issue.path];
  let message = issue.message;
  if (issue.code === 'unrecognized_keys' && issue.keys[0] !== undefined) {
    path.push(issue.keys[0]);
    message = 'unknown field; remove it or check its spelling';
  } else if (issue.code === 'invalid_union') {
    // A union reports every branch; the one that got past the type check says what is actually wrong.
    const specific = issue.errors
      .map((branch) => branch[0])
      .find((sub) => sub !== undefined && sub.code !== 'invalid_type');
    if (specific !== undefined) {
      path.push(...specific.path);
      message = specific.message;
    }
  }
  const rendered = formatPath(path);
  return rendered === ''
    ? { code: 'invalid_request', message: `the body: ${message}` }
    : { code: 'invalid_request', message: `${rendered}: ${message}`, path: rendered };
}

export interface AdapterOutput {
  signals?: SignalDraft[];
  changes?: NormalizedChangeInput[];
  confirmations?: SubscriptionConfirmation[];
  dedupKeys?: string[];
}

/** Wraps parsing code so the adapter contract holds: no throw escapes, every list is present. */
export function guard(parse: (body: unknown, context: { now: number }) => AdapterOutput): Adapter {
  return (body, context) => {
    try {
      const output = parse(body, context);
      return {
        ok: true,
        signals: output.signals ?? [],
        changes: output.changes ?? [],
        confirmations: output.confirmations ?? [],
        dedupKeys: output.dedupKeys ?? [],
      };
    } catch (error) {
      return { ok: false, error: toAdapterError(error) };
    }
  };
}

// ---------------------------------------------------------------------------------------------------
// Readers: each returns the typed value or throws a PayloadProblem naming the path and the fix.

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function readRecord(value: unknown, path: Path): Record<string, unknown> {
  if (!isRecord(value)) invalid(`${where(path)} must be an object (got ${describeValue(value)})`, path);
  return value;
}

export function readOptionalRecord(value: unknown, path: Path): Record<string, unknown> | undefined {
  return value === undefined || value === null ? undefined : readRecord(value, path);
}

export function readArray(value: unknown, path: Path, max: number = MAX_BATCH): unknown[] {
  if (!Array.isArray(value)) invalid(`${where(path)} must be an array (got ${describeValue(value)})`, path);
  if (value.length > max) {
    invalid(`${where(path)} holds ${value.length} items; send at most ${max} per request`, path);
  }
  return value;
}

/** A required, non-blank string. */
export function readString(value: unknown, path: Path, max?: number): string {
  if (typeof value !== 'string' || value.trim() === '') {
    invalid(`${where(path)} must be a non-empty string (got ${describeValue(value)})`, path);
  }
  if (max !== undefined && value.length > max) {
    invalid(`${where(path)} is ${value.length} characters long; the limit is ${max}`, path);
  }
  return value;
}

/** An optional string: absent, null and blank all mean "not given". */
export function readOptionalString(value: unknown, path: Path): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string')
    invalid(`${where(path)} must be a string (got ${describeValue(value)})`, path);
  return value.trim() === '' ? undefined : value;
}

export function readOptionalNumber(value: unknown, path: Path): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    invalid(`${where(path)} must be a finite number (got ${describeValue(value)})`, path);
  }
  return value;
}

/** A label-style map of string values; absent or null reads as empty. */
export function readStringMap(value: unknown, path: Path): Record<string, string> {
  if (value === undefined || value === null) return {};
  const record = readRecord(value, path);
  const entries: [string, string][] = [];
  for (const [key, entry] of Object.entries(record)) {
    if (typeof entry !== 'string') {
      invalid(`${where([...path, key])} must be a string (got ${describeValue(entry)})`, [...path, key]);
    }
    // Dropped rather than stored: it would rewrite the prototype of a plain object downstream.
    if (key !== '__proto__') entries.push([key, entry]);
  }
  return Object.fromEntries(entries);
}

/**
 * Epoch milliseconds from an ISO-8601 string or a non-negative integer of milliseconds. Absent, blank
 * and Go's zero time (`0001-01-01T00:00:00Z`, Alertmanager's "no end") read as undefined.
 */
export function readOptionalTimestamp(value: unknown, path: Path): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number') {
    // `+ 0` turns -0 into 0, which would otherwise slip past the non-negative check.
    if (Number.isSafeInteger(value) && value >= 0) return value + 0;
    invalid(`${where(path)} must be epoch milliseconds or an ISO-8601 timestamp (got ${value})`, path);
  }
  if (typeof value !== 'string') {
    invalid(`${where(path)} must be an ISO-8601 timestamp (got ${describeValue(value)})`, path);
  }
  if (value.trim() === '' || value.startsWith('0001-01-01')) return undefined;
  const parsed = parseTimestamp(value);
  if (parsed === undefined || parsed < 0 || !Number.isSafeInteger(parsed)) {
    invalid(
      `${where(path)} must be an ISO-8601 timestamp after 1970 such as 2024-05-01T12:00:00Z (got ${preview(value)})`,
      path,
    );
  }
  return parsed;
}

/** Like readOptionalTimestamp, but for advisory fields: anything unusable reads as undefined. */
export function lenientTimestamp(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const parsed = parseTimestamp(value);
  return parsed !== undefined && parsed >= 0 && Number.isSafeInteger(parsed) ? parsed : undefined;
}

/** JSON text for a value taken from a body; never throws, even on what JSON cannot encode. */
export function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? describeValue(value);
  } catch {
    return describeValue(value);
  }
}

/** Parses a JSON string without throwing; undefined when it is not JSON. */
export function tryParseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------
// Normalization shared by every source.

const SEVERITY_WORDS = new Map<string, Severity>([
  ...['critical', 'crit', 'page', 'p0', 'p1', 'sev0', 'sev1', 'fatal', 'emergency', 'emerg', 'alert'].map(
    (word) => [word, 'critical'] as const,
  ),
  ...['error', 'err', 'high', 'major', 'p2', 'sev2'].map((word) => [word, 'error'] as const),
  ...['warning', 'warn', 'medium', 'moderate', 'minor', 'p3', 'sev3'].map(
    (word) => [word, 'warning'] as const,
  ),
  ...['info', 'informational', 'low', 'none', 'ok', 'notice', 'debug', 'p4', 'p5', 'sev4', 'sev5'].map(
    (word) => [word, 'info'] as const,
  ),
]);

/** The severity a word names, or undefined when the word is not one we know. */
export function severityFromWord(word: unknown): Severity | undefined {
  if (typeof word !== 'string') return undefined;
  return SEVERITY_WORDS.get(
    word
      .trim()
      .toLowerCase()
      .replace(/[\s_-]/g, ''),
  );
}

/** Unknown words map to warning: loud enough to be seen, not loud enough to page on a typo. */
export function normalizeSeverity(word: unknown): Severity {
  return severityFromWord(word) ?? 'warning';
}

export const SERVICE_LABELS = [
  'service',
  'app',
  'app_kubernetes_io_name',
  'application',
  'job',
  'namespace',
] as const;
export const ENVIRONMENT_LABELS = ['env', 'environment', 'stage'] as const;
export const REGION_LABELS = ['region', 'aws_region'] as const;

/** The first non-blank value among `keys`, in order. */
export function pickLabel(
  labels: Readonly<Record<string, unknown>>,
  keys: readonly string[],
): string | undefined {
  for (const key of keys) {
    if (!Object.hasOwn(labels, key)) continue;
    const value = labels[key];
    if (typeof value === 'string' && value.trim() !== '') return value.trim();
  }
  return undefined;
}

export function serviceFromLabels(labels: Readonly<Record<string, unknown>>): string | undefined {
  return pickLabel(labels, SERVICE_LABELS);
}

export function environmentFromLabels(labels: Readonly<Record<string, unknown>>): string | undefined {
  return pickLabel(labels, ENVIRONMENT_LABELS);
}

export function regionFromLabels(labels: Readonly<Record<string, unknown>>): string | undefined {
  return pickLabel(labels, REGION_LABELS);
}

function sliceWholeCharacters(text: string, end: number): string {
  const last = text.charCodeAt(end - 1);
  // Cutting between the halves of a surrogate pair would leave invalid UTF-16 behind.
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? end - 1 : end);
}

/** Shortens text to `max` UTF-16 units, marking the cut with an ellipsis so readers know it was clipped. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${sliceWholeCharacters(text, max - 1)}…`;
}

export function clipOptional(text: string | undefined, max: number): string | undefined {
  return text === undefined ? undefined : clip(text, max);
}

export function clipLabels(labels: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(labels)
      .filter(([key]) => key !== '__proto__')
      .map(([key, value]) => [clip(key, LIMITS.labelKey), clip(value, LIMITS.labelValue)]),
  );
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * Keeps a source identifier as the fingerprint when it fits the schema; a longer one (an AlarmArn may
 * be 1,600 characters) keeps a readable prefix plus a hash of the whole, so distinct ids stay distinct.
 */
export function boundedFingerprint(identifier: string): string {
  if (identifier.length > 0 && identifier.length <= LIMITS.fingerprint) return identifier;
  return `${sliceWholeCharacters(identifier, 180)}~${sha256Hex(identifier)}`;
}

export interface LinkCandidate {
  href?: unknown;
  text?: unknown;
}

/**
 * Keeps http(s) links only (other schemes such as `javascript:` are a hazard once rendered), drops
 * duplicates and over-long URLs (a truncated URL points somewhere else), and caps the count.
 */
export function cleanLinks(candidates: readonly LinkCandidate[], max: number = LIMITS.links): Link[] {
  const seen = new Set<string>();
  const links: Link[] = [];
  for (const candidate of candidates) {
    if (typeof candidate.href !== 'string') continue;
    const href = candidate.href.trim();
    if (href.length > LIMITS.linkHref || !/^https?:\/\/\S/i.test(href) || seen.has(href)) continue;
    seen.add(href);
    const text =
      typeof candidate.text === 'string' && candidate.text.trim() !== '' ? candidate.text.trim() : undefined;
    links.push(text === undefined ? { href } : { href, text: clip(text, LIMITS.linkText) });
    if (links.length === max) break;
  }
  return links;
}

export interface MetricFields {
  name?: string | undefined;
  namespace?: string | undefined;
  statistic?: string | undefined;
  value?: number | undefined;
  threshold?: number | undefined;
  comparison?: string | undefined;
  unit?: string | undefined;
  datapoints?: readonly { at: number; value: number }[] | undefined;
}

/** A metric needs at least a name; numbers that are not finite are dropped rather than stored. */
export function cleanMetric(fields: MetricFields): Metric | undefined {
  if (fields.name === undefined || fields.name.trim() === '') return undefined;
  const metric: Metric = { name: clip(fields.name, LIMITS.metricName) };
  if (fields.namespace !== undefined) metric.namespace = clip(fields.namespace, LIMITS.metricName);
  if (fields.statistic !== undefined) metric.statistic = clip(fields.statistic, LIMITS.metricShort);
  if (fields.value !== undefined && Number.isFinite(fields.value)) metric.value = fields.value;
  if (fields.threshold !== undefined && Number.isFinite(fields.threshold))
    metric.threshold = fields.threshold;
  if (fields.comparison !== undefined) metric.comparison = clip(fields.comparison, LIMITS.metricShort);
  if (fields.unit !== undefined) metric.unit = clip(fields.unit, LIMITS.metricShort);
  const datapoints = (fields.datapoints ?? [])
    .filter((point) => Number.isSafeInteger(point.at) && Number.isFinite(point.value))
    .slice(0, 1000);
  if (datapoints.length > 0) metric.datapoints = datapoints;
  return metric;
}

export interface DraftFields {
  source: SignalSource;
  /** The source's own identifier; bounded here, otherwise kept verbatim. */
  fingerprint: string;
  status: SignalStatus;
  severity: Severity;
  service: string | undefined;
  environment?: string | undefined;
  region?: string | undefined;
  title: string | undefined;
  /** Used when `title` is absent or blank, because the schema requires one. */
  fallbackTitle: string;
  description?: string | undefined;
  labels?: Readonly<Record<string, string>>;
  annotations?: Readonly<Record<string, string>>;
  metric?: Metric | undefined;
  startsAt: number;
  endsAt?: number | undefined;
  links?: Link[];
  acknowledged?: boolean;
  raw?: unknown;
}

function nonBlank(text: string | undefined): string | undefined {
  return text === undefined || text.trim() === '' ? undefined : text.trim();
}

/**
 * Builds a SignalDraft in the schema's output shape: every defaulted field present and every string
 * clipped to its limit, because losing an alert over a long string would be worse than trimming it.
 */
export function makeDraft(fields: DraftFields): SignalDraft {
  const draft: SignalDraft = {
    source: fields.source,
    fingerprint: boundedFingerprint(fields.fingerprint),
    status: fields.status,
    severity: fields.severity,
    service: clip(nonBlank(fields.service) ?? 'unknown', LIMITS.service),
    environment: clip(nonBlank(fields.environment) ?? 'production', LIMITS.environment),
    title: clip(nonBlank(fields.title) ?? fields.fallbackTitle, LIMITS.title),
    labels: clipLabels(fields.labels ?? {}),
    annotations: clipLabels(fields.annotations ?? {}),
    links: fields.links ?? [],
    startsAt: fields.startsAt,
  };
  const region = nonBlank(fields.region);
  if (region !== undefined) draft.region = clip(region, LIMITS.region);
  const description = nonBlank(fields.description);
  if (description !== undefined) draft.description = clip(description, LIMITS.description);
  if (fields.metric !== undefined) draft.metric = fields.metric;
  if (fields.endsAt !== undefined) draft.endsAt = fields.endsAt;
  if (fields.acknowledged !== undefined) draft.acknowledged = fields.acknowledged;
  if (fields.raw !== undefined) draft.raw = fields.raw;
  return draft;
}
