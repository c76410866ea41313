/**
 * Grounding: is every statement of a finding backed by the evidence it cites? A deterministic check,
 * the same for the engine's findings and a model's. It is a heuristic (pattern extraction, not
 * understanding) and is measured by `npm run bench -- trust`.
 *
 * A finding's claims are split into atomic statements (sentences and `;`-separated clauses). Each
 * statement inherits its claim's citations; the summary's statements are checked against everything the
 * finding's claims cite. In each statement these must match:
 *
 * - ids (`sig_…`, `chg_…`, `inc_…`, `chk_…`, `service:…`): they exist in the evidence bundle;
 * - times (ISO-8601): within 60 s of the time of a cited item;
 * - versions (`v2.15.0`, `2.15`): in the text of a cited item;
 * - service names (lowercase words joined by hyphens that name a service: `auth-service`, or any such
 *   word right after or before "service"): a service of the bundle's topology, or text of a cited item;
 * - numbers: a number in the cited evidence (values, thresholds, counts, the finding's own computed
 *   data) within 5 % (or ±1 for whole numbers under 20), or a time gap between cited items within
 *   10 % or one unit;
 * - quoted or `code` spans: verbatim in a cited runbook or postmortem section, or in any cited item.
 *
 * A statement with a mismatch is unsupported, and so is a claim statement that cites nothing that
 * exists. The finding's grounding score is supported ÷ all statements.
 */

import type { EvidenceBundle } from '../domain/evidence.js';
import { SERVICE_EVIDENCE_PREFIX, serviceEvidenceId } from '../domain/evidence-id.js';
import type { Finding } from '../domain/finding.js';

export interface StatementCheck {
  /** `claims[i]` or `summary`. */
  source: string;
  text: string;
  supported: boolean;
  /** Why not, one entry per mismatch. */
  problems: string[];
}

export interface FindingGrounding {
  score: number;
  statements: number;
  unsupported: StatementCheck[];
}

const TIME_TOLERANCE_MS = 60_000;
const ID_PATTERN = new RegExp(
  `\\b(?:(?:sig|chg|inc|chk|det|bun|rec|inv)_[0-9a-z]{6,40}|${SERVICE_EVIDENCE_PREFIX}[a-z0-9][a-z0-9._-]{0,120})\\b`,
  'g',
);
const ISO_PATTERN = /\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?Z\b/g;
const VERSION_PATTERN = /(?<![\w.])v?\d+\.\d+(?:\.\d+)?(?:-[0-9a-z.]+)?(?![\w.])/gi;
const QUOTED_PATTERN = /`([^`]{3,200})`|"([^"]{3,200})"/g;
const NUMBER_PATTERN = /(?<![\w.:/-])-?\d+(?:[.,]\d+)*(?:\.\d+)?(?![\w.]*[a-z_]{2})/gi;
const HYPHENATED = /\b[a-z][a-z0-9]*(?:-[a-z0-9]+){1,5}\b/g;
/** Endings that make a hyphenated word a service name. */
const SERVICE_SUFFIX =
  /-(?:service|svc|api|gateway|bff|frontend|backend|worker|db|database|cache|queue|broker|proxy|server|store|search|auth|web|app|cluster|lb)$/;
const DURATION = /^(ms|milliseconds?|s|sec|secs|seconds?|min|mins|minutes?|h|hr|hrs|hours?|d|days?)\b/i;

export interface GroundingContext {
  /** Every id the bundle holds. */
  ids: Set<string>;
  /** Service names of the topology around the incident. */
  services: Set<string>;
  /** Text and time of each evidence item by id. */
  items: Map<string, { text: string; at: number | null }>;
  /** All runbook and postmortem text of the bundle, lowercase. */
  knowledge: string;
  /** Counts a statement may report: signals, their services, the neighbourhood, past incidents, changes. */
  counts: number[];
}

/** Contexts by bundle: a frozen bundle never changes, and each of an investigation's agents asks. */
const CONTEXTS = new WeakMap<EvidenceBundle, GroundingContext>();

/** What grounding checks statements against, built once per bundle. */
export function groundingContext(bundle: EvidenceBundle): GroundingContext {
  let context = CONTEXTS.get(bundle);
  if (!context) {
    context = buildContext(bundle);
    CONTEXTS.set(bundle, context);
  }
  return context;
}

function buildContext(bundle: EvidenceBundle): GroundingContext {
  const items = new Map<string, { text: string; at: number | null }>();
  const add = (id: string, text: string, at: number | null) => items.set(id, { text, at });
  const incident = bundle.incident;
  add(
    bundle.incidentId,
    `${incident.title} ${incident.severity} ${incident.services.join(' ')}`,
    incident.startedAt,
  );
  for (const signal of bundle.signals) {
    const metric = signal.metric
      ? ` ${signal.metric.name} ${signal.metric.value ?? ''} ${signal.metric.threshold ?? ''} ${signal.metric.unit ?? ''} ${(signal.metric.datapoints ?? []).map((point) => point.value).join(' ')}`
      : '';
    add(
      signal.id,
      `${signal.title} ${signal.description ?? ''} ${signal.service} ${signal.severity} ${Object.values(signal.labels).join(' ')} ${Object.values(signal.annotations).join(' ')}${metric}`,
      signal.startsAt,
    );
  }
  for (const change of bundle.changes)
    add(
      change.id,
      `${change.kind} ${change.service} ${change.versionFrom ?? ''} ${change.versionTo ?? ''} ${change.summary} ${change.author ?? ''}`,
      change.startedAt,
    );
  const services = new Set<string>([...incident.services]);
  for (const service of bundle.services) services.add(service.name);
  for (const entry of bundle.neighbourhood) services.add(entry.service);
  for (const signal of bundle.signals) services.add(signal.service);
  for (const change of bundle.changes) services.add(change.service);
  for (const service of services) {
    const node = bundle.services.find((candidate) => candidate.name === service);
    add(
      serviceEvidenceId(service),
      `${service} ${node ? `tier ${node.tier} ${node.dependsOn.join(' ')}` : ''}`,
      null,
    );
  }
  for (const past of bundle.history)
    add(
      past.id,
      `${past.title} ${past.severity} ${past.services.join(' ')} ${past.rootCause ?? ''} ${past.resolution ?? ''} ${past.alerts.join(' ')}`,
      past.detectedAt,
    );
  for (const section of bundle.knowledge)
    add(section.chunkId, `${section.path} ${section.title} ${section.heading} ${section.text}`, null);
  const knowledge = bundle.knowledge
    .map((section) => `${section.path} ${section.heading} ${section.text}`)
    .join('\n')
    .toLowerCase();
  const counts = [
    bundle.signals.length,
    new Set(bundle.signals.map((signal) => signal.service)).size,
    bundle.neighbourhood.length,
    bundle.history.length,
    bundle.changes.length,
    incident.services.length,
  ];
  return { ids: new Set(items.keys()), services, items, knowledge, counts };
}

/** Sentences and `;` clauses; a period inside a number, id, version or path does not split. */
export function splitStatements(text: string): string[] {
  return text
    .split(/(?<=[.!?;])\s+(?=[A-Z0-9"`(])|;\s+/)
    .map((part) => part.trim())
    .filter((part) => part.length > 0);
}

function numbersIn(text: string): number[] {
  const out: number[] = [];
  for (const match of text.matchAll(/-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?/g))
    out.push(Number(match[0].replace(/,/g, '')));
  return out;
}

/** Every number in a finding's data, and the length of every list in it (counts a summary may state). */
function collectNumbers(value: unknown, into: number[], depth = 0): void {
  if (depth > 6) return;
  if (typeof value === 'number' && Number.isFinite(value)) into.push(value);
  else if (Array.isArray(value)) {
    into.push(value.length);
    for (const item of value) collectNumbers(item, into, depth + 1);
  } else if (value !== null && typeof value === 'object')
    for (const item of Object.values(value)) collectNumbers(item, into, depth + 1);
}

/** Epoch-millisecond values among numbers (a finding's data records when things happened). */
const isEpochMs = (value: number) => value > 1e12 && value < 1e14;

/**
 * Whether `shown` (as written, e.g. "2.6") is some candidate rounded to the precision it is written
 * with: half a unit of its last digit, plus `relative` of the candidate for values rounded upstream.
 */
function matches(shown: string, candidates: readonly number[], relative: number): boolean {
  const value = Number(shown.replace(/,/g, ''));
  const decimals = shown.includes('.') ? shown.length - shown.indexOf('.') - 1 : 0;
  const half = 0.5 * 10 ** -decimals;
  return candidates.some(
    (candidate) => Math.abs(value - candidate) <= half * 1.001 + Math.abs(candidate) * relative,
  );
}

/** Words after which a number is a 0–1 quantity (the engine's confidences, similarities and scores). */
const UNIT_INTERVAL = /(?:confidence|similarity|probability)\s*(?:of\s*|is\s*|=\s*|:\s*)?$/i;
const PATH_PATTERN = /\b(?:runbooks|postmortems)\/[\w./-]+\.md\b/g;

/** Gaps between the cited items' times, in each unit a statement may use. */
function gaps(times: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < times.length; i += 1)
    for (let j = i + 1; j < times.length; j += 1) {
      const ms = Math.abs(times[i]! - times[j]!);
      out.push(ms, ms / 1000, ms / 60_000, ms / 3_600_000, ms / 86_400_000);
    }
  return out;
}

/**
 * Checks one statement against the items it cites. `computed` are the numbers the finding's own
 * analysis produced (its structured data): a statement may report them.
 */
export function checkStatement(
  text: string,
  cited: readonly string[],
  context: GroundingContext,
  computed: readonly number[],
): string[] {
  const problems: string[] = [];
  const present = cited.filter((id) => context.ids.has(id));
  if (present.length === 0) return ['cites no evidence that exists'];
  const citedItems = present.map((id) => context.items.get(id)!);
  const citedText = citedItems.map((item) => item.text).join('\n');
  const citedLower = citedText.toLowerCase();
  const spans: [number, number][] = [];
  const claim = (start: number, end: number) => spans.push([start, end]);

  for (const match of text.matchAll(ID_PATTERN)) {
    claim(match.index, match.index + match[0].length);
    if (!context.ids.has(match[0])) problems.push(`${match[0]} is not in the evidence`);
  }
  const times = citedItems.flatMap((item) => (item.at === null ? [] : [item.at]));
  for (const match of text.matchAll(ISO_PATTERN)) {
    claim(match.index, match.index + match[0].length);
    const at = Date.parse(match[0]);
    if (!times.some((time) => Math.abs(time - at) <= TIME_TOLERANCE_MS))
      problems.push(`time ${match[0]} matches no cited item`);
  }
  for (const match of text.matchAll(QUOTED_PATTERN)) {
    const quoted = (match[1] ?? match[2])!.toLowerCase();
    claim(match.index, match.index + match[0].length);
    // A quoted step or command must come from the cited evidence or one of the bundle's runbooks.
    if (!citedLower.includes(quoted) && !context.knowledge.includes(quoted))
      problems.push(`"${quoted}" is not in the cited evidence or the runbooks`);
  }
  const overlaps = (start: number, end: number) => spans.some(([a, b]) => start < b && a < end);
  for (const match of text.matchAll(VERSION_PATTERN)) {
    if (overlaps(match.index, match.index + match[0].length)) continue;
    if (!/^v/i.test(match[0]) && !/\d+\.\d+\.\d+/.test(match[0])) continue; // "0.47" is a number, not a version
    claim(match.index, match.index + match[0].length);
    const bare = match[0].replace(/^v/i, '');
    if (!citedLower.includes(bare.toLowerCase()))
      problems.push(`version ${match[0]} is not in the cited evidence`);
  }
  for (const match of text.matchAll(HYPHENATED)) {
    const word = match[0];
    if (overlaps(match.index, match.index + word.length)) continue;
    const before = text.slice(Math.max(0, match.index - 9), match.index).toLowerCase();
    const after = text.slice(match.index + word.length, match.index + word.length + 9).toLowerCase();
    const named =
      SERVICE_SUFFIX.test(word) || /service\s$/.test(before) || /^\s(service|dependency)/.test(after);
    if (!named) continue;
    claim(match.index, match.index + word.length);
    if (!context.services.has(word) && !citedLower.includes(word))
      problems.push(`service ${word} is not in the topology or the cited evidence`);
  }
  for (const match of text.matchAll(PATH_PATTERN)) {
    claim(match.index, match.index + match[0].length);
    if (!citedLower.includes(match[0].toLowerCase()) && !context.knowledge.includes(match[0].toLowerCase()))
      problems.push(`document ${match[0]} is not in the evidence`);
  }
  const textNumbers = numbersIn(citedText);
  const evidenceNumbers = [...textNumbers, ...computed, ...context.counts, present.length];
  const gapNumbers = gaps([...times, ...computed.filter(isEpochMs)]);
  for (const match of text.matchAll(NUMBER_PATTERN)) {
    const end = match.index + match[0].length;
    if (overlaps(match.index, end)) continue;
    const value = Number(match[0].replace(/,/g, ''));
    if (!Number.isFinite(value)) continue;
    if (
      UNIT_INTERVAL.test(text.slice(Math.max(0, match.index - 24), match.index).replace(/\(\s*$/, '')) &&
      value > 1
    ) {
      problems.push(`${match[0]} is out of range for a confidence, similarity or probability (0 to 1)`);
      continue;
    }
    const isDuration = DURATION.test(text.slice(end).trimStart());
    const isPercent = text.slice(end).startsWith('%');
    // A percentage is a value of the evidence or the analysis, as written or as a ratio (0.37 → 37%).
    const candidates = isPercent
      ? [...evidenceNumbers, ...evidenceNumbers.map((number) => number * 100)]
      : evidenceNumbers;
    if (matches(match[0], candidates, 0.005)) continue;
    if (isDuration && matches(match[0], gapNumbers, 0.01)) continue;
    problems.push(`${match[0]}${isPercent ? '%' : ''} matches no number in the cited evidence`);
  }
  return problems;
}

/** Grounds every statement of a finding (claims against their citations, the summary against all). */
export function groundFinding(finding: Finding, context: GroundingContext): FindingGrounding {
  const computed: number[] = [finding.confidence];
  collectNumbers(finding.data, computed);
  for (const claim of finding.claims) computed.push(claim.confidence);
  const checks: StatementCheck[] = [];
  finding.claims.forEach((claim, index) => {
    for (const statement of splitStatements(claim.text)) {
      const problems = checkStatement(statement, claim.evidenceIds, context, computed);
      checks.push({
        source: `claims[${index}]`,
        text: statement,
        supported: problems.length === 0,
        problems,
      });
    }
  });
  const allCited = [...new Set(finding.claims.flatMap((claim) => claim.evidenceIds))];
  // The summary restates the claims; with nothing cited (an honest "insufficient evidence"), it is
  // checked against the incident alone.
  const summaryCited =
    allCited.length > 0 ? allCited : [...context.ids].filter((id) => id.startsWith('inc_'));
  for (const statement of splitStatements(finding.summary)) {
    const problems = checkStatement(statement, summaryCited, context, computed);
    checks.push({ source: 'summary', text: statement, supported: problems.length === 0, problems });
  }
  const unsupported = checks.filter((check) => !check.supported);
  return {
    score:
      checks.length === 0
        ? 1
        : Math.round(((checks.length - unsupported.length) / checks.length) * 1000) / 1000,
    statements: checks.length,
    unsupported,
  };
}

export type GroundingMode = 'flag' | 'downgrade' | 'remove';

/**
 * The finding with its grounding attached and its unsupported claims handled by `mode`:
 * - `flag`: each claim is marked `grounded`; nothing else changes;
 * - `downgrade` (default): an ungrounded claim's confidence is halved, and the finding's confidence
 *   scaled by (1 + score) / 2;
 * - `remove`: ungrounded claims are dropped (a finding left with none says its evidence is insufficient).
 */
export function applyGrounding<F extends Finding>(
  finding: F,
  context: GroundingContext,
  mode: GroundingMode,
): F {
  const grounding = groundFinding(finding, context);
  const bad = new Set(
    grounding.unsupported.flatMap((check) =>
      check.source.startsWith('claims[') ? [Number(check.source.slice(7, -1))] : [],
    ),
  );
  const marked = finding.claims.map((claim, index) => ({ ...claim, grounded: !bad.has(index) }));
  if (mode === 'flag' || grounding.unsupported.length === 0) return { ...finding, claims: marked, grounding };
  if (mode === 'downgrade')
    return {
      ...finding,
      claims: marked.map((claim) =>
        claim.grounded ? claim : { ...claim, confidence: Math.round(claim.confidence * 50) / 100 },
      ),
      confidence: Math.round(finding.confidence * ((1 + grounding.score) / 2) * 100) / 100,
      grounding,
    };
  const kept = marked.filter((claim) => claim.grounded);
  return {
    ...finding,
    claims: kept,
    ...(kept.length === 0
      ? { insufficientEvidence: true, confidence: Math.min(finding.confidence, 0.5) }
      : {}),
    grounding,
  };
}
