import type { NormalizedChangeInput } from '../../domain/change.js';
import { type Link, MAX_LABELS, type Severity } from '../../domain/common.js';
import { clip, invalid, LIMITS, sliceWholeCharacters, toPayloadError } from '../../domain/payload.js';
import type { Metric, SignalDraft, SignalSource, SignalStatus } from '../../domain/signal.js';
import { sha256 } from '../../util/hash.js';
import type { Adapter, SubscriptionConfirmation } from './types.js';

// The readers live in domain/payload.ts (the catalog importer reads untrusted files too); adapters
// take them from here with the rest of the normalization.
export {
  cleanLinks,
  clip,
  clipOptional,
  describeValue,
  fromZodError,
  invalid,
  isRecord,
  LIMITS,
  type LinkCandidate,
  lenientTimestamp,
  MAX_BATCH,
  type Path,
  PayloadProblem,
  preview,
  raise,
  readArray,
  readOptionalNumber,
  readOptionalRecord,
  readOptionalString,
  readOptionalTimestamp,
  readRecord,
  readString,
  readStringMap,
  safeJson,
  sliceWholeCharacters,
  toPayloadError,
  tryParseJson,
  unsupported,
  where,
} from '../../domain/payload.js';

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
      return { ok: false, error: toPayloadError(error) };
    }
  };
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

export function clipLabels(labels: Readonly<Record<string, string>>, field: string): Record<string, string> {
  const count = Object.keys(labels).length;
  if (count > MAX_LABELS) invalid(`${count} ${field}; a signal carries at most ${MAX_LABELS}`, [field]);
  return Object.fromEntries(
    Object.entries(labels)
      .filter(([key]) => key !== '__proto__')
      .map(([key, value]) => [clip(key, LIMITS.labelKey), clip(value, LIMITS.labelValue)]),
  );
}

/**
 * Keeps a source identifier as the fingerprint when it fits the schema; a longer one (an AlarmArn may
 * be 1,600 characters) keeps a readable prefix plus a hash of the whole, so distinct ids stay distinct.
 */
export function boundedFingerprint(identifier: string): string {
  if (identifier.length > 0 && identifier.length <= LIMITS.fingerprint) return identifier;
  return `${sliceWholeCharacters(identifier, 180)}~${sha256(identifier)}`;
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
    labels: clipLabels(fields.labels ?? {}, 'labels'),
    annotations: clipLabels(fields.annotations ?? {}, 'annotations'),
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
