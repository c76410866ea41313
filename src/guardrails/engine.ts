/**
 * The guardrail engine: runs the recognizer table over a text, resolves overlapping matches, applies
 * a policy (BLOCK or ANONYMIZE per entity type) and produces the redacted text.
 */

import { createHmac } from 'node:crypto';
import { ENTITY_TYPES, type EntityType, isSecretType, RECOGNIZERS, type Recognizer } from './recognizers.js';
import { vendorMatches } from './vendor.js';

export type EntityMode = 'BLOCK' | 'ANONYMIZE' | 'OFF';

export interface Policy {
  /** Mode per entity type; a type not listed is OFF. */
  entities: Partial<Record<EntityType, EntityMode>>;
  /** Matches scoring below this are dropped (default 0.5). */
  minScore?: number;
  /** Longer texts are refused (an error, hence `block` under guard()); default 4 MiB. */
  maxLength?: number;
}

export interface Entity {
  type: EntityType;
  /** Offsets into the original text: text.slice(start, end) is the matched value. */
  start: number;
  end: number;
  score: number;
  mode: Exclude<EntityMode, 'OFF'>;
  recognizer: string;
  /** The placeholder that replaced the value in `redacted`. */
  placeholder: string;
}

export interface ScanResult {
  action: 'allow' | 'anonymize' | 'block';
  entities: Entity[];
  redacted: string;
  /** Set when the decision comes from a guardrail failure (guard()). */
  reason?: string;
}

/**
 * The default policy: credentials BLOCK, personal data ANONYMIZE. URL is OFF: URLs in logs are
 * mostly endpoints and are evidence; the ones carrying credentials are caught as PASSWORD.
 */
export const DEFAULT_POLICY: Policy = {
  entities: Object.fromEntries(
    ENTITY_TYPES.map((type) => [type, isSecretType(type) ? 'BLOCK' : type === 'URL' ? 'OFF' : 'ANONYMIZE']),
  ) as Record<EntityType, EntityMode>,
  minScore: 0.5,
};

const DEFAULT_WINDOW = 48;
const DEFAULT_MAX_LENGTH = 4 * 1024 * 1024;

/** Where scan() gets the placeholder that replaces a value. */
export interface PlaceholderSource {
  placeholder(type: EntityType, value: string): string;
}

/**
 * Hands out stable placeholders: within one Anonymizer the same (type, value) always gets the same
 * `<TYPE_n>`, and distinct values get distinct numbers. Share one across the evidence strings of an
 * investigation so two lines about the same user keep pointing at the same placeholder.
 */
export class Anonymizer implements PlaceholderSource {
  readonly #byValue = new Map<string, string>();
  readonly #counters = new Map<string, number>();

  placeholder(type: EntityType, value: string): string {
    const key = `${type}\u0000${value}`;
    const known = this.#byValue.get(key);
    if (known) return known;
    const next = (this.#counters.get(type) ?? 0) + 1;
    this.#counters.set(type, next);
    const placeholder = `<${type}_${next}>`;
    this.#byValue.set(key, placeholder);
    return placeholder;
  }

  /** Distinct values seen so far. */
  get size(): number {
    return this.#byValue.size;
  }

  /** Scans `text` with this session's placeholders. */
  scan(text: string, policy: Policy = DEFAULT_POLICY): ScanResult {
    return scan(text, policy, this);
  }
}

/**
 * Placeholders derived from a keyed hash of the value, `<EMAIL_3f9a0c1b7e>`: the same value gets the
 * same placeholder in every text, process and restart that shares the key, so stored evidence can
 * still be grouped by user or card without holding the value. Used where text is stored (ingest);
 * an LLM prompt uses an Anonymizer's short counters instead.
 */
export class HashedPlaceholders implements PlaceholderSource {
  readonly #key: string | Buffer;

  constructor(key: string | Buffer) {
    if (key.length === 0) throw new Error('HashedPlaceholders: the key must not be empty');
    this.#key = key;
  }

  placeholder(type: EntityType, value: string): string {
    return `<${type}_${keyedHash(value, this.#key).slice(0, 10)}>`;
  }
}

interface Candidate {
  type: EntityType;
  start: number;
  end: number;
  score: number;
  recognizer: string;
}

function escapeWords(words: readonly string[]): string {
  return words.map((word) => word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
}

function wordsPattern(words: readonly string[]): RegExp {
  return new RegExp(`(?<![a-z])(?:${escapeWords(words)})s?(?![a-z])`, 'i');
}

interface Compiled {
  recognizer: Recognizer;
  /** Highest score a match can reach without a context word (base plus bonus). */
  bareMax: number;
  /** This module's own copy of the pattern; `candidates` resets its lastIndex before each use. */
  pattern: RegExp;
  context: RegExp | null;
  /** Any context word anywhere, ignoring word boundaries: the prefilter for context-only rows. */
  contextAnywhere: RegExp | null;
  negative: RegExp | null;
}

const COMPILED: readonly Compiled[] = RECOGNIZERS.map((recognizer) => {
  if (!recognizer.pattern.global) throw new Error(`recognizer ${recognizer.id}: pattern needs the g flag`);
  if (recognizer.group && !recognizer.pattern.hasIndices)
    throw new Error(`recognizer ${recognizer.id}: a group needs the d flag`);
  return {
    recognizer,
    bareMax: recognizer.baseScore + (recognizer.bonus?.amount ?? 0),
    pattern: new RegExp(recognizer.pattern.source, recognizer.pattern.flags),
    context: recognizer.context ? wordsPattern(recognizer.context.words) : null,
    contextAnywhere: recognizer.context ? new RegExp(escapeWords(recognizer.context.words), 'i') : null,
    negative: recognizer.negative ? wordsPattern(recognizer.negative.words) : null,
  };
});

function clamp(score: number): number {
  return Math.round(Math.min(1, Math.max(0, score)) * 1000) / 1000;
}

/**
 * Every match of every enabled recognizer, scored, before overlap resolution. `prefilter: false`
 * runs every row's pattern regardless (for tests that check the prefilters change nothing).
 */
export function candidates(
  text: string,
  policy: Policy = DEFAULT_POLICY,
  options: { prefilter?: boolean } = {},
): Candidate[] {
  const minScore = policy.minScore ?? 0.5;
  const prefilter = options.prefilter ?? true;
  const out: Candidate[] = [];
  for (const { recognizer, bareMax, pattern, context, contextAnywhere, negative } of COMPILED) {
    const mode = policy.entities[recognizer.type] ?? 'OFF';
    if (mode === 'OFF') continue;
    // Prefilters, each a necessary condition for a match, so skipping changes no result: the row's
    // anchor must occur somewhere, and a row that cannot reach minScore without a context word needs
    // one of its words somewhere in the text (a window is a part of the text).
    if (prefilter) {
      if (recognizer.anchor && !recognizer.anchor.test(text)) continue;
      if (clamp(bareMax) < minScore && !contextAnywhere?.test(text)) continue;
    }
    // Compiled once (compiling per call cost more than matching on short texts). The loop below runs
    // synchronously to the end, so resetting lastIndex is all the sharing needs.
    pattern.lastIndex = 0;
    for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
      if (match[0].length === 0) {
        pattern.lastIndex += 1;
        continue;
      }
      let start = match.index;
      let end = start + match[0].length;
      if (recognizer.group) {
        const span = match.indices?.groups?.[recognizer.group];
        if (!span) continue;
        [start, end] = span;
      }
      const value = text.slice(start, end);
      if (recognizer.validate && !recognizer.validate(value)) {
        // Retry from the next character: a shorter candidate may start inside this one.
        pattern.lastIndex = match.index + 1;
        continue;
      }
      let score = recognizer.baseScore;
      if (recognizer.bonus?.test(value)) score += recognizer.bonus.amount;
      const window = recognizer.window ?? DEFAULT_WINDOW;
      if (context || negative) {
        const around = `${text.slice(Math.max(0, start - window), start)} ${text.slice(end, end + window)}`;
        if (context?.test(around)) score += recognizer.context!.amount;
        if (negative?.test(around)) score -= recognizer.negative!.amount;
      }
      score = clamp(score);
      if (score < minScore) continue;
      out.push({ type: recognizer.type, start, end, score, recognizer: recognizer.id });
    }
  }
  for (const match of vendorMatches(text, (type) => (policy.entities[type] ?? 'OFF') !== 'OFF', prefilter)) {
    if (match.score >= minScore) out.push(match);
  }
  return out;
}

/**
 * Overlapping matches: the higher score wins, then the longer span, then the earlier one. Score
 * first so a checksum-validated card number beats a looser phone-shaped match of the same digits,
 * and a password inside a URL beats the URL around it.
 */
export function resolveOverlaps<T extends { start: number; end: number; score: number }>(
  items: readonly T[],
): T[] {
  const ranked = [...items].sort(
    (a, b) => b.score - a.score || b.end - b.start - (a.end - a.start) || a.start - b.start,
  );
  const kept: T[] = [];
  for (const item of ranked) {
    if (kept.some((other) => item.start < other.end && other.start < item.end)) continue;
    kept.push(item);
  }
  return kept.sort((a, b) => a.start - b.start);
}

/** Policies already checked (a policy is a configuration object, checked once, not per text). */
const CHECKED = new WeakSet<Policy>();

function checkPolicy(policy: Policy): void {
  if (CHECKED.has(policy)) return;
  for (const [type, mode] of Object.entries(policy.entities)) {
    if (!(ENTITY_TYPES as readonly string[]).includes(type))
      throw new Error(`policy: unknown entity type ${type}`);
    if (mode !== 'BLOCK' && mode !== 'ANONYMIZE' && mode !== 'OFF')
      throw new Error(`policy: mode for ${type} must be BLOCK, ANONYMIZE or OFF (got ${String(mode)})`);
  }
  const minScore = policy.minScore ?? 0.5;
  if (!(minScore >= 0 && minScore <= 1)) throw new Error(`policy: minScore must be within [0, 1]`);
  CHECKED.add(policy);
}

/** Characters that render as nothing: pasted between a key's characters, they hide it from a regex. */
const INVISIBLE = /[\u00AD\u200B-\u200D\u2060\uFEFF]/g;

/**
 * candidates(), on the text as a reader sees it: invisible characters are removed before matching and
 * each match is mapped back onto the original text, so `AKIA\u200BIOSFODNN7EXAMPLE` is found and its
 * placeholder covers the invisible characters too.
 */
function candidatesThroughInvisibles(text: string, policy: Policy): Candidate[] {
  INVISIBLE.lastIndex = 0;
  if (!INVISIBLE.test(text)) return candidates(text, policy);
  const origin: number[] = [];
  let visible = '';
  for (let index = 0; index < text.length; index += 1) {
    const char = text[index]!;
    if (/[\u00AD\u200B-\u200D\u2060\uFEFF]/.test(char)) continue;
    origin.push(index);
    visible += char;
  }
  origin.push(text.length);
  return candidates(visible, policy).map((candidate) => ({
    ...candidate,
    start: origin[candidate.start]!,
    end: origin[candidate.end - 1]! + 1,
  }));
}

/**
 * Scans `text` under `policy`. Every kept entity is replaced in `redacted` by its placeholder
 * (BLOCK entities too, so a blocked text can still be logged). The action is `block` when any
 * entity's mode is BLOCK, `anonymize` when there are entities, `allow` otherwise. Throws on a bad
 * policy or an oversized text; guard() turns that into a block.
 */
export function scan(
  text: string,
  policy: Policy = DEFAULT_POLICY,
  session: PlaceholderSource = new Anonymizer(),
): ScanResult {
  if (typeof text !== 'string') throw new TypeError('scan: text must be a string');
  checkPolicy(policy);
  const maxLength = policy.maxLength ?? DEFAULT_MAX_LENGTH;
  if (text.length > maxLength)
    throw new Error(`text of ${text.length} characters exceeds the limit of ${maxLength}`);
  const kept = resolveOverlaps(candidatesThroughInvisibles(text, policy));
  const entities: Entity[] = [];
  const parts: string[] = [];
  let cursor = 0;
  for (const candidate of kept) {
    const mode = policy.entities[candidate.type] as Exclude<EntityMode, 'OFF'>;
    const placeholder = session.placeholder(candidate.type, text.slice(candidate.start, candidate.end));
    entities.push({ ...candidate, mode, placeholder });
    parts.push(text.slice(cursor, candidate.start), placeholder);
    cursor = candidate.end;
  }
  parts.push(text.slice(cursor));
  const action = entities.some((entity) => entity.mode === 'BLOCK')
    ? 'block'
    : entities.length > 0
      ? 'anonymize'
      : 'allow';
  return { action, entities, redacted: parts.join('') };
}

/**
 * Fail closed: scan(), but any error inside the guardrail (a bad policy, an oversized text, a bug)
 * becomes a `block` decision with the reason, and no text is passed on.
 */
export function guard(
  text: string,
  policy: Policy = DEFAULT_POLICY,
  session?: PlaceholderSource,
  scanner: typeof scan = scan,
): ScanResult {
  try {
    return scanner(text, policy, session);
  } catch (error) {
    return {
      action: 'block',
      entities: [],
      redacted: '',
      reason: `guardrail error: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
}

/** HMAC-SHA256 of `value` under `key`, hex: lets a violation be recorded and correlated without the raw value. */
export function keyedHash(value: string, key: string | Buffer): string {
  if (key.length === 0) throw new Error('keyedHash: the key must not be empty');
  return createHmac('sha256', key).update(value, 'utf8').digest('hex');
}

export interface Violation {
  type: EntityType;
  mode: Exclude<EntityMode, 'OFF'>;
  start: number;
  end: number;
  hash: string;
}

/** The record of a scan's entities: type, location and keyed hash, never the raw value. */
export function violations(text: string, result: ScanResult, key: string | Buffer): Violation[] {
  return result.entities.map((entity) => ({
    type: entity.type,
    mode: entity.mode,
    start: entity.start,
    end: entity.end,
    hash: keyedHash(text.slice(entity.start, entity.end), key),
  }));
}
