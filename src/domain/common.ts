import { monotonicFactory } from 'ulid';
import { z } from 'zod';
import { randomByteFraction } from '../util/random.js';

/** Prefixes make an id's kind obvious in logs and URLs; ULIDs make ids sort by creation time. */
export const ID_PREFIXES = {
  signal: 'sig',
  incident: 'inc',
  change: 'chg',
  detection: 'det',
  candidate: 'cand',
  event: 'evt',
  rule: 'rule',
  bundle: 'bun',
  graph: 'egr',
  token: 'tok',
  silence: 'sil',
  service: 'svc',
  job: 'job',
  recommendation: 'rec',
  investigation: 'inv',
  document: 'doc',
  chunk: 'chk',
  trace: 'trc',
  validation: 'val',
  violation: 'gv',
  alarmEvent: 'alm',
  channel: 'nch',
  route: 'nrt',
  delivery: 'dlv',
} as const;
export type IdKind = keyof typeof ID_PREFIXES;

// Randomness from a pool (src/util/random.ts): ulid would otherwise ask the CSPRNG once per character.
const nextUlid = monotonicFactory(randomByteFraction);

/**
 * A new id whose time part is `at` (the record's own time), never later than now: the id factory is
 * monotonic, so one far-future time from a client would otherwise stamp every later id of the process
 * with it, and a time past ULID's range (2^48 ms) would make every later id fail.
 */
export function newId(kind: IdKind, at: number = Date.now()): string {
  const time = Number.isFinite(at) ? Math.max(0, Math.min(at, Date.now())) : Date.now();
  return `${ID_PREFIXES[kind]}_${nextUlid(time).toLowerCase()}`;
}

/** The latest time a JavaScript Date can hold (year 275760); a later one cannot be stored or shown. */
export const MAX_TIMESTAMP = 8.64e15;

export const SEVERITIES = ['critical', 'error', 'warning', 'info'] as const;
export const severitySchema = z.enum(SEVERITIES);
export type Severity = z.infer<typeof severitySchema>;

/** Rank used by "severity at least" matchers: higher is more severe. */
export const SEVERITY_RANK: Record<Severity, number> = { critical: 4, error: 3, warning: 2, info: 1 };

export const INCIDENT_SEVERITIES = ['SEV1', 'SEV2', 'SEV3', 'SEV4'] as const;
export const incidentSeveritySchema = z.enum(INCIDENT_SEVERITIES);
export type IncidentSeverity = z.infer<typeof incidentSeveritySchema>;

/**
 * Accepts any ISO-8601 timestamp with a zone (or epoch milliseconds) and yields epoch milliseconds. A
 * number past what a Date can hold is refused: stored, it could never be shown again.
 */
export const timestampSchema = z.union([
  z.number().int().nonnegative().max(MAX_TIMESTAMP, 'a time past year 275760 (epoch milliseconds ≤ 8.64e15)'),
  z
    .string()
    .min(1)
    .transform((value, context) => {
      const parsed = parseTimestamp(value);
      if (parsed === undefined) {
        context.addIssue({ code: 'custom', message: `not an ISO-8601 timestamp: ${JSON.stringify(value)}` });
        return z.NEVER;
      }
      return parsed;
    }),
]);

/**
 * Parses the timestamp spellings monitoring sources send: ISO-8601 with `Z`, `+00:00` or `+0000`
 * (CloudWatch), and Go's zero time `0001-01-01T00:00:00Z` (Alertmanager's "no end"), which yields undefined.
 */
export function parseTimestamp(value: string): number | undefined {
  if (value.startsWith('0001-01-01')) return undefined;
  const normalized = value.replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
  const date = /^(\d{4})-(\d{2})-(\d{2})T\d{2}:\d{2}/.exec(normalized);
  if (!date) return undefined;
  // Date.parse rolls 2026-02-30 over to March 2; a day the month does not have is not a timestamp.
  const [year, month, day] = [Number(date[1]), Number(date[2]), Number(date[3])];
  if (month < 1 || month > 12 || day < 1 || day > new Date(Date.UTC(year, month, 0)).getUTCDate())
    return undefined;
  const parsed = Date.parse(normalized);
  return Number.isFinite(parsed) ? parsed : undefined;
}

/**
 * The text as the store will hold it: a lone surrogate (legal in JSON, not in UTF-8) becomes U+FFFD,
 * as both drivers write it. A key compared in memory with its stored self must be built from this,
 * or it never matches and the insert that follows hits a UNIQUE constraint.
 */
export function wellFormed(text: string): string {
  return text.replace(/[\uD800-\uDFFF]/gu, '\uFFFD');
}

/** ISO-8601 in UTC; a time that is always set gives a string, an optional one may give null. */
export function toIso(epochMs: number): string;
export function toIso(epochMs: number | null | undefined): string | null;
export function toIso(epochMs: number | null | undefined): string | null {
  if (epochMs === null || epochMs === undefined) return null;
  // A row stored before times were bounded may hold one a Date cannot show: it is shown at the bound
  // rather than failing every list it appears in.
  const shown = Number.isFinite(epochMs) ? Math.min(MAX_TIMESTAMP, Math.max(-MAX_TIMESTAMP, epochMs)) : 0;
  return new Date(shown).toISOString();
}

/**
 * Labels or annotations on one signal: real alerts carry a few dozen. The cap keeps one request from
 * holding the event loop for seconds (100,000 labels took about 3 s to redact and store).
 */
export const MAX_LABELS = 256;

export const labelsSchema = z
  .record(z.string().max(256), z.string().max(4096))
  .refine((labels) => Object.keys(labels).length <= MAX_LABELS, {
    message: `more than ${MAX_LABELS} entries; send at most ${MAX_LABELS}`,
  });
export type Labels = z.infer<typeof labelsSchema>;

export const linkSchema = z.object({ href: z.string().max(2048), text: z.string().max(256).optional() });
export type Link = z.infer<typeof linkSchema>;

export const principalSchema = z.string().min(1).max(200);
