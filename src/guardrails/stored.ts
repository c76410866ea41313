/**
 * Redaction of what OPX stores: signals and changes are scanned as they are ingested, and personal
 * data and credentials are replaced by keyed-hash placeholders before anything is written, so the
 * database never holds them (ARCHITECTURE §2: the raw payload is kept, redacted, for audit).
 *
 * Under the storage policy every type is ANONYMIZE (ingest never drops a signal because of what its
 * text contains), except IP and MAC addresses and URLs, which stay: they are how an engineer finds
 * the host, and URLs carrying credentials are still caught as PASSWORD or GENERIC_SECRET.
 *
 * What is scanned: every text a sender chooses: title, description, label and annotation keys and
 * values, link targets and texts, the fingerprint (and so the dedup key), metric name and namespace,
 * a change's summary, author, versions and external id, the service, environment and region an
 * adapter derived (often from an alarm's name), and every key and string in the raw payload. A
 * redacted value becomes the same keyed placeholder every time, so a redacted fingerprint, label key
 * or service still deduplicates, groups and matches. A label's key is given to the scanner as context, so `ssn: 123456789` is recognised
 * as readily as "SSN 123456789" in prose.
 */

import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { NormalizedChangeInput } from '../domain/change.js';
import { MATCHER_FIELDS, type Matcher } from '../domain/rule.js';
import type { SignalDraft } from '../domain/signal.js';
import {
  DEFAULT_POLICY,
  type EntityMode,
  HashedPlaceholders,
  keyedHash,
  type Policy,
  scan,
} from './engine.js';
import { ENTITY_TYPES, type EntityType } from './recognizers.js';

const KEPT_IN_STORAGE: readonly EntityType[] = ['IP_ADDRESS', 'MAC_ADDRESS', 'URL'];

export const STORAGE_POLICY: Policy = {
  entities: Object.fromEntries(
    ENTITY_TYPES.map((type): [EntityType, EntityMode] => [
      type,
      KEPT_IN_STORAGE.includes(type) ? 'OFF' : 'ANONYMIZE',
    ]),
  ),
  minScore: DEFAULT_POLICY.minScore ?? 0.5,
};

/** One value replaced before storage: where (field path and offsets into that value) and a keyed hash. */
export interface StoredRedaction {
  field: string;
  type: EntityType | 'GUARDRAIL_ERROR';
  start: number;
  end: number;
  hash: string;
}

/** A text field as the walk meets it: where it is, the word that gives it context, its value. */
type Visit = (field: string, value: string, context?: string) => string;

interface Piece {
  context: string | undefined;
  value: string;
  /** Offset of the value in the joined text. */
  start: number;
  /** The value with its entities replaced, and the entities (offsets into the value). */
  text: string;
  spans: Omit<StoredRedaction, 'field'>[];
}

export class StorageRedactor {
  readonly #key: string;
  readonly #policy: Policy;
  readonly #placeholders: HashedPlaceholders;

  constructor(key: string, policy: Policy = STORAGE_POLICY) {
    this.#key = key;
    this.#policy = policy;
    this.#placeholders = new HashedPlaceholders(key);
  }

  /**
   * A copy of `draft` with its text redacted, and the list of what was replaced. A draft with nothing
   * to redact comes back as the same object.
   */
  signal(draft: SignalDraft): { draft: SignalDraft; redactions: StoredRedaction[] } {
    const walk = (text: Visit): SignalDraft => {
      const out: SignalDraft = {
        ...draft,
        // A sender's id (a PagerDuty dedup_key, a generic fingerprint) can be anything; a redacted one
        // is still the same placeholder each time, so deduplication and resolves keep matching.
        fingerprint: text('fingerprint', draft.fingerprint, 'fingerprint'),
        // Adapters derive these from whatever the sender named (an alarm's name, a dimension's value).
        service: text('service', draft.service, 'service'),
        environment: text('environment', draft.environment, 'environment'),
        title: text('title', draft.title),
        labels: record('labels', draft.labels, text),
        annotations: record('annotations', draft.annotations, text),
        links: links(draft.links, text),
      };
      if (draft.description !== undefined) out.description = text('description', draft.description);
      if (draft.region !== undefined) out.region = text('region', draft.region, 'region');
      if (draft.metric !== undefined) {
        const metric = { ...draft.metric, name: text('metric.name', draft.metric.name) };
        if (draft.metric.namespace !== undefined)
          metric.namespace = text('metric.namespace', draft.metric.namespace);
        out.metric = metric;
      }
      if (draft.raw !== undefined) out.raw = json('raw', draft.raw, undefined, text);
      return out;
    };
    const redacted = this.#redact(walk);
    return redacted ? { draft: redacted.result, redactions: redacted.redactions } : { draft, redactions: [] };
  }

  change(change: NormalizedChangeInput): { change: NormalizedChangeInput; redactions: StoredRedaction[] } {
    const walk = (text: Visit): NormalizedChangeInput => {
      const out: NormalizedChangeInput = {
        ...change,
        summary: text('summary', change.summary),
        links: links(change.links, text),
      };
      if (change.author !== undefined) out.author = text('author', change.author, 'author');
      if (change.versionFrom !== undefined)
        out.versionFrom = text('versionFrom', change.versionFrom, 'version');
      if (change.versionTo !== undefined) out.versionTo = text('versionTo', change.versionTo, 'version');
      if (change.externalId !== undefined) out.externalId = text('externalId', change.externalId, 'id');
      return out;
    };
    const redacted = this.#redact(walk);
    return redacted
      ? { change: redacted.result, redactions: redacted.redactions }
      : { change, redactions: [] };
  }

  /**
   * A silence's comment and the values its matchers compare, redacted as the signals they match were:
   * an equality value becomes the same placeholder the stored label value became (its field is the
   * context, as a label's key is), so the silence still matches. A label name is redacted like a
   * label key. Regular expressions are kept: a pattern redacted would no longer match anything.
   */
  silence<T extends { matchers: Matcher[]; comment: string }>(silence: T): T {
    const walk = (text: Visit): T => ({
      ...silence,
      comment: text('comment', silence.comment),
      matchers: silence.matchers.map((matcher, index): Matcher => {
        const field = (MATCHER_FIELDS as readonly string[]).includes(matcher.field)
          ? matcher.field
          : text(`matchers[${index}].field`, matcher.field);
        if (matcher.op === '=' || matcher.op === '!=')
          return { ...matcher, field, value: text(`matchers[${index}].value`, matcher.value, matcher.field) };
        if (matcher.op === 'in')
          return {
            ...matcher,
            field,
            values: matcher.values.map((value, at) =>
              text(`matchers[${index}].values[${at}]`, value, matcher.field),
            ),
          };
        if (matcher.op === '>=') return matcher;
        return { ...matcher, field };
      }),
    });
    return this.#redact(walk)?.result ?? silence;
  }

  /**
   * Walks the object twice: first to collect its distinct texts, which are scanned as one joined text
   * (one pass per recognizer instead of one per field: an alert has dozens of short fields, and the raw
   * payload repeats most of them), then, only when something was found, to put the redacted texts back.
   */
  #redact<T>(walk: (text: Visit) => T): { result: T; redactions: StoredRedaction[] } | undefined {
    const byContext = new Map<string | undefined, Map<string, Piece>>();
    const pieces: Piece[] = [];
    let length = 0;
    walk((_field, value, context) => {
      if (value.length === 0) return value;
      let values = byContext.get(context);
      if (!values) {
        values = new Map();
        byContext.set(context, values);
      }
      if (!values.has(value)) {
        const prefix = context === undefined ? 0 : context.length + 2;
        const piece: Piece = { context, value, start: length + prefix, text: value, spans: [] };
        values.set(value, piece);
        pieces.push(piece);
        length += prefix + value.length + 1;
      }
      return value;
    });
    if (pieces.length === 0 || !this.#scanPieces(pieces)) return undefined;
    const redactions: StoredRedaction[] = [];
    const result = walk((field, value, context) => {
      const piece = value.length === 0 ? undefined : byContext.get(context)?.get(value);
      if (!piece || piece.spans.length === 0) return value;
      for (const span of piece.spans) redactions.push({ field, ...span });
      return piece.text;
    });
    return { result, redactions };
  }

  /**
   * Scans `context: value` lines joined by newlines (the context word only informs scores) and fills
   * in each piece's redacted text; false when nothing was found.
   */
  #scanPieces(pieces: Piece[]): boolean {
    const joined = pieces
      .map((piece) => (piece.context === undefined ? piece.value : `${piece.context}: ${piece.value}`))
      .join('\n');
    let entities: ReturnType<typeof scan>['entities'];
    try {
      entities = scan(joined, this.#policy, this.#placeholders).entities;
    } catch (error) {
      // Fail closed: values the guardrail could not scan are not stored.
      const reason = error instanceof Error ? error.message : String(error);
      for (const piece of pieces) {
        const hash = keyedHash(piece.value, this.#key);
        // The hash keeps distinct values distinct: a fingerprint or a label key stays a key.
        piece.text = `[not stored: the guardrail could not scan this value: ${reason}; ${hash.slice(0, 16)}]`;
        piece.spans = [{ type: 'GUARDRAIL_ERROR', start: 0, end: piece.value.length, hash }];
      }
      return true;
    }
    const edits = new Map<Piece, { start: number; end: number; type: EntityType }[]>();
    let index = 0;
    for (const entity of entities) {
      // Entities come sorted by start: advance to the last piece whose line starts at or before it.
      while (index + 1 < pieces.length && lineStart(pieces[index + 1]!) <= entity.start) index += 1;
      const piece = pieces[index]!;
      // Clipped to the value: the key is context, not content, and a match never spans two lines' values.
      const start = Math.max(entity.start, piece.start) - piece.start;
      const end = Math.min(entity.end, piece.start + piece.value.length) - piece.start;
      if (end <= start) continue;
      const list = edits.get(piece) ?? [];
      list.push({ start, end, type: entity.type });
      edits.set(piece, list);
    }
    for (const [piece, list] of edits) {
      const parts: string[] = [];
      let cursor = 0;
      for (const { start, end, type } of list) {
        const original = piece.value.slice(start, end);
        parts.push(piece.value.slice(cursor, start), this.#placeholders.placeholder(type, original));
        piece.spans.push({ type, start, end, hash: keyedHash(original, this.#key) });
        cursor = end;
      }
      parts.push(piece.value.slice(cursor));
      piece.text = parts.join('');
    }
    return edits.size > 0;
  }
}

function lineStart(piece: Piece): number {
  return piece.context === undefined ? piece.start : piece.start - piece.context.length - 2;
}

function record(field: string, values: Record<string, string>, text: Visit): Record<string, string> {
  const out: Record<string, string> = {};
  // Keys are scanned too (a label named after a user's email is still the email); a redacted key is a
  // stable placeholder, so the same label keeps the same key.
  // The value's path names the key as stored, so a violation's location holds no raw key either.
  for (const [key, value] of Object.entries(values)) {
    const stored = text(`${field}{}`, key);
    out[stored] = text(`${field}.${stored}`, value, key);
  }
  return out;
}

function links<T extends { href: string; text?: string | undefined }>(list: readonly T[], text: Visit): T[] {
  return list.map((link, index) => ({
    ...link,
    href: text(`links[${index}].href`, link.href),
    ...(link.text === undefined ? {} : { text: text(`links[${index}].text`, link.text) }),
  }));
}

/**
 * Strings anywhere in a JSON value; object keys are kept and serve as context for their values. The
 * walk keeps its own stack, so no depth of nesting can exhaust the call stack; it visits keys and
 * values in the order a recursive walk would (a key, then everything under it, then the next key).
 */
function json(field: string, value: unknown, context: string | undefined, text: Visit): unknown {
  interface Frame {
    field: string;
    value: unknown;
    context: string | undefined;
    assign: (result: unknown) => void;
    /** An object entry: its key is redacted when the entry is visited, and names the field. */
    entry?: { out: Record<string, unknown>; key: string };
  }
  let result: unknown;
  const stack: Frame[] = [{ field, value, context, assign: (item) => (result = item) }];
  while (stack.length > 0) {
    const frame = stack.pop()!;
    if (frame.entry) {
      const { out, key } = frame.entry;
      const stored = text(`${frame.field}{}`, key);
      frame.field = `${frame.field}.${stored}`;
      frame.assign = (item) => (out[stored] = item);
    }
    const current = frame.value;
    if (typeof current === 'string') frame.assign(text(frame.field, current, frame.context));
    else if (Array.isArray(current)) {
      const out: unknown[] = new Array(current.length);
      frame.assign(out);
      for (let index = current.length - 1; index >= 0; index -= 1)
        stack.push({
          field: `${frame.field}[${index}]`,
          value: current[index],
          context: frame.context,
          assign: (item) => (out[index] = item),
        });
    } else if (current !== null && typeof current === 'object') {
      const out: Record<string, unknown> = {};
      frame.assign(out);
      const entries = Object.entries(current);
      for (let index = entries.length - 1; index >= 0; index -= 1) {
        const [key, item] = entries[index]!;
        stack.push({ field: frame.field, value: item, context: key, assign: () => {}, entry: { out, key } });
      }
    } else frame.assign(current);
  }
  return result;
}

/**
 * The guardrail hash key: `guardrailHashKey` from the configuration, else the one in
 * `<dataDir>/guardrail.key`, created (mode 0600) on first use. Processes that share a database must
 * share the key (set OPX_GUARDRAIL_HASH_KEY on every host) for placeholders and violation hashes to
 * agree.
 */
export function guardrailKey(configured: string | undefined, dataDir: string): string {
  if (configured) return configured;
  const file = path.resolve(dataDir, 'guardrail.key');
  try {
    const stored = readFileSync(file, 'utf8').trim();
    if (stored.length >= 16) return stored;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const key = randomBytes(32).toString('hex');
  mkdirSync(path.dirname(file), { recursive: true });
  // Written whole under a temporary name, then linked into place: a process starting at the same
  // moment either sees no file or the complete key, and the first link wins.
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(temporary, `${key}\n`, { mode: 0o600 });
  try {
    linkSync(temporary, file);
    return key;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return readFileSync(file, 'utf8').trim();
    throw error;
  } finally {
    unlinkSync(temporary);
  }
}
