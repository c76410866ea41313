/**
 * Redaction of what OPX stores: signals and changes are scanned as they are ingested, and personal
 * data and credentials are replaced by keyed-hash placeholders before anything is written, so the
 * database never holds them (ARCHITECTURE §2: the raw payload is kept, redacted, for audit).
 *
 * Under the storage policy every type is ANONYMIZE (ingest never drops a signal because of what its
 * text contains), except IP and MAC addresses and URLs, which stay: they are how an engineer finds
 * the host, and URLs carrying credentials are still caught as PASSWORD or GENERIC_SECRET.
 *
 * What is scanned: every free-text field (title, description, label and annotation values, link
 * targets and texts, a change's summary and author) and every string in the raw payload. Identifiers
 * OPX routes by (service, environment, region, fingerprint, metric names, label keys) are not
 * changed. A label's key is given to the scanner as context, so `ssn: 123456789` is recognised as
 * readily as "SSN 123456789" in prose.
 */

import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { NormalizedChangeInput } from '../domain/change.js';
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

interface Redacted {
  text: string;
  spans: Omit<StoredRedaction, 'field'>[];
}

/** Texts scanned per redactor are remembered (repeats of an alert carry the same strings). */
const MEMO_LIMIT = 10_000;
const MEMO_MAX_TEXT = 1024;

export class StorageRedactor {
  readonly #key: string;
  readonly #policy: Policy;
  readonly #placeholders: HashedPlaceholders;
  readonly #memo = new Map<string, Redacted>();

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
    const redactions: StoredRedaction[] = [];
    const text = (field: string, value: string, context?: string) =>
      this.#value(field, value, context, redactions);
    const out: SignalDraft = {
      ...draft,
      title: text('title', draft.title),
      labels: this.#record('labels', draft.labels, redactions),
      annotations: this.#record('annotations', draft.annotations, redactions),
      links: draft.links.map((link, index) => ({
        ...link,
        href: text(`links[${index}].href`, link.href),
        ...(link.text === undefined ? {} : { text: text(`links[${index}].text`, link.text) }),
      })),
    };
    if (draft.description !== undefined) out.description = text('description', draft.description);
    if (draft.raw !== undefined) out.raw = this.#json('raw', draft.raw, undefined, redactions);
    return { draft: redactions.length === 0 ? draft : out, redactions };
  }

  change(change: NormalizedChangeInput): { change: NormalizedChangeInput; redactions: StoredRedaction[] } {
    const redactions: StoredRedaction[] = [];
    const text = (field: string, value: string, context?: string) =>
      this.#value(field, value, context, redactions);
    const out: NormalizedChangeInput = {
      ...change,
      summary: text('summary', change.summary),
      links: change.links.map((link, index) => ({
        ...link,
        href: text(`links[${index}].href`, link.href),
        ...(link.text === undefined ? {} : { text: text(`links[${index}].text`, link.text) }),
      })),
    };
    if (change.author !== undefined) out.author = text('author', change.author, 'author');
    return { change: redactions.length === 0 ? change : out, redactions };
  }

  #record(field: string, record: Record<string, string>, into: StoredRedaction[]): Record<string, string> {
    let out: Record<string, string> | undefined;
    for (const [key, value] of Object.entries(record)) {
      const redacted = this.#value(`${field}.${key}`, value, key, into);
      if (redacted !== value) {
        out ??= { ...record };
        out[key] = redacted;
      }
    }
    return out ?? record;
  }

  /** Strings anywhere in a JSON value; object keys are kept and serve as context for their values. */
  #json(field: string, value: unknown, context: string | undefined, into: StoredRedaction[]): unknown {
    if (typeof value === 'string') return this.#value(field, value, context, into);
    if (Array.isArray(value))
      return value.map((item, index) => this.#json(`${field}[${index}]`, item, context, into));
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value))
        out[key] = this.#json(`${field}.${key}`, item, key, into);
      return out;
    }
    return value;
  }

  #value(field: string, value: string, context: string | undefined, into: StoredRedaction[]): string {
    if (value.length === 0) return value;
    const redacted = this.#scan(value, context);
    for (const span of redacted.spans) into.push({ field, ...span });
    return redacted.text;
  }

  /** Scans `context: value` (the context word only informs scores) and rewrites the value part. */
  #scan(value: string, context: string | undefined): Redacted {
    const prefix = context === undefined ? '' : `${context}: `;
    const memoKey = `${prefix.length}\u0000${prefix}${value}`;
    const known = this.#memo.get(memoKey);
    if (known) return known;
    let result: Redacted;
    try {
      const scanned = scan(prefix + value, this.#policy, this.#placeholders);
      const parts: string[] = [];
      const spans: Redacted['spans'] = [];
      let cursor = 0;
      for (const entity of scanned.entities) {
        const start = Math.max(0, entity.start - prefix.length);
        const end = entity.end - prefix.length;
        if (end <= 0) continue; // inside the key: keys are not rewritten
        const original = value.slice(start, end);
        parts.push(value.slice(cursor, start), this.#placeholders.placeholder(entity.type, original));
        spans.push({ type: entity.type, start, end, hash: keyedHash(original, this.#key) });
        cursor = end;
      }
      parts.push(value.slice(cursor));
      result = { text: spans.length === 0 ? value : parts.join(''), spans };
    } catch (error) {
      // Fail closed: a value the guardrail could not scan is not stored.
      const reason = error instanceof Error ? error.message : String(error);
      result = {
        text: `[not stored: the guardrail could not scan this value: ${reason}]`,
        spans: [{ type: 'GUARDRAIL_ERROR', start: 0, end: value.length, hash: keyedHash(value, this.#key) }],
      };
    }
    if (value.length <= MEMO_MAX_TEXT) {
      if (this.#memo.size >= MEMO_LIMIT) this.#memo.clear();
      this.#memo.set(memoKey, result);
    }
    return result;
  }
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
