import type { z } from 'zod';
import { type Link, MAX_TIMESTAMP, parseTimestamp } from './common.js';
import { formatPath } from './errors.js';

/**
 * Reading untrusted payloads (webhook bodies, catalog files): path-aware readers that return the
 * typed value or throw a PayloadProblem naming where the payload is wrong and how to fix it, and
 * bounded text and link cleaning. Pure: no I/O.
 */

/** What is wrong with a payload, for the sender: a 400 (`invalid_request`) or a 415-style refusal. */
export interface PayloadError {
  code: 'invalid_request' | 'unsupported_payload';
  /** Says what the sender should fix, naming the offending field. */
  message: string;
  /** Where in the body the problem is, e.g. `alerts[0].labels`. */
  path?: string;
}

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
  readonly code: PayloadError['code'];
  readonly path: string | undefined;

  constructor(code: PayloadError['code'], message: string, path?: Path | string) {
    super(message);
    this.name = 'PayloadProblem';
    this.code = code;
    const rendered = path === undefined ? '' : typeof path === 'string' ? path : formatPath(path);
    this.path = rendered === '' ? undefined : rendered;
  }
}

/** Aborts the adapter with an already-built error. */
export function raise(error: PayloadError): never {
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

export function toPayloadError(error: unknown): PayloadError {
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

/** Renders the first zod issue as an PayloadError whose path starts with `prefix`. */
export function fromZodError(error: z.ZodError, prefix: Path = []): PayloadError {
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
    if (Number.isSafeInteger(value) && value >= 0 && value <= MAX_TIMESTAMP) return value + 0;
    invalid(
      `${where(path)} must be epoch milliseconds up to ${MAX_TIMESTAMP} (year 275760) or an ISO-8601 timestamp (got ${value})`,
      path,
    );
  }
  if (typeof value !== 'string') {
    invalid(`${where(path)} must be an ISO-8601 timestamp (got ${describeValue(value)})`, path);
  }
  if (value.trim() === '' || value.startsWith('0001-01-01')) return undefined;
  const parsed = parseTimestamp(value);
  if (parsed === undefined || parsed < 0 || !Number.isSafeInteger(parsed) || parsed > MAX_TIMESTAMP) {
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
  return parsed !== undefined && parsed >= 0 && Number.isSafeInteger(parsed) && parsed <= MAX_TIMESTAMP
    ? parsed
    : undefined;
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

export function sliceWholeCharacters(text: string, end: number): string {
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

/** How deep a request body may nest: real payloads stay under a dozen levels. */
export const MAX_JSON_DEPTH = 100;

/** A NUL character stands for itself nowhere a person reads; the store keeps U+FFFD in its place. */
const withoutNul = (text: string): string => text.replaceAll('\0', '\uFFFD');

/**
 * Readies a parsed request body in place and says what is wrong with it, if anything, in one walk with
 * a stack of its own (no recursion, so no depth breaks it):
 * - nesting deeper than `limit` arrays and objects is refused: the recursive code after parsing
 *   (serializing, redacting) would exhaust the call stack on a value thousands of levels deep;
 * - a NUL character (U+0000) in a string or a key becomes U+FFFD, as a lone surrogate does. PostgreSQL
 *   text cannot hold a NUL, so otherwise one backend would refuse what the other stores.
 */
export function normalizeBody(value: unknown, limit: number = MAX_JSON_DEPTH): string | undefined {
  const pending: { value: unknown; depth: number }[] = [{ value, depth: 0 }];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const current = next.value;
    if (current === null || typeof current !== 'object') continue;
    if (next.depth >= limit) return `the body nests deeper than ${limit} levels`;
    const node = current as Record<string, unknown>;
    for (const key of Object.keys(node)) {
      let child = node[key];
      if (typeof child === 'string' && child.includes('\0')) node[key] = child = withoutNul(child);
      if (key.includes('\0') && !Array.isArray(node)) {
        delete node[key];
        node[withoutNul(key)] = child;
      }
      if (child !== null && typeof child === 'object') pending.push({ value: child, depth: next.depth + 1 });
    }
  }
  return undefined;
}
