import { sql } from 'kysely';
import { asMatchable, correlate } from '../detect/correlate.js';
import { type CompiledMatcher, compileMatchers } from '../detect/matcher.js';
import { type CompiledRuleSet, sustainedFor } from '../detect/rules.js';
import type { DependencyGraph } from '../detect/topology.js';
import { newId, SEVERITIES, SEVERITY_RANK, type Severity, wellFormed } from '../domain/common.js';
import { INVESTIGATE_JOB } from '../domain/jobs.js';
import type { Matcher, Silence } from '../domain/rule.js';
import type { SignalDraft, SignalSource } from '../domain/signal.js';
import { IncidentBatch } from '../incidents/batch.js';
import type { SignalRow } from '../store/repositories/signals.js';
import type { StoreScope } from '../store/store.js';
import { isStandIn } from './repeats.js';

export interface IngestSettings {
  /** Move an incident to RESOLVED when its last firing signal resolves. */
  autoResolve: boolean;
  /** A firing signal re-opens a RESOLVED incident with its correlation key within this many ms. */
  reopenGraceMs: number;
  /**
   * Queue an `investigate` job, due after `delayMs`, for each incident a batch creates or re-opens; and
   * one for an incident that materially changed (a service joined, the origin moved, severity rose, an
   * incident merged into it), at most one per `rerunDebounceMs` window, due when the window closes.
   */
  investigate?: { maxAttempts: number; delayMs: number; rerunDebounceMs?: number } | undefined;
}

export interface CompiledSilence {
  silence: Silence;
  matches: CompiledMatcher;
}

export function compileSilences(silences: readonly Silence[]): CompiledSilence[] {
  return silences.map((silence) => ({ silence, matches: compileMatchers(silence.matchers) }));
}

export interface IngestContext {
  principal: string;
  /**
   * W3C trace headers of the request being ingested (src/telemetry/tracing.ts), stored with the
   * investigation job so its spans continue that trace. Passed in: the group-commit writer runs the
   * work outside the request's async context.
   */
  trace?: Record<string, string> | undefined;
  now: number;
  settings: IngestSettings;
  rules: CompiledRuleSet;
  /** The dependency graph for the topology rule; absent, it joins nothing. */
  graph?: DependencyGraph | undefined;
  silences: readonly CompiledSilence[];
  /**
   * The whole redacted draft for a repeat's stand-in (src/ingest/repeats.ts) whose signal is no longer
   * open when the batch's firing rows are read: resolved since, or earlier in the same batch.
   */
  restore?: ((index: number) => SignalDraft) | undefined;
}

export type SignalAction = 'created' | 'repeated' | 'acknowledged' | 'resolved' | 'ignored';

export interface SignalOutcome {
  id: string | null;
  fingerprint: string;
  action: SignalAction;
  status: 'firing' | 'resolved';
  suppressedBy?: string;
  incidentIds: string[];
}

export interface IngestResult {
  signals: SignalOutcome[];
  incidentsCreated: string[];
  incidentsUpdated: string[];
}

/**
 * Sources that describe the same alert share a dedup namespace: Prometheus posts the alert that
 * Alertmanager later forwards, with the same label-set fingerprint; a CloudWatch alarm arrives through
 * SNS or EventBridge with the same ARN.
 */
const DEDUP_FAMILY: Record<SignalSource, string> = {
  alertmanager: 'prom',
  prometheus: 'prom',
  cloudwatch: 'aws',
  eventbridge: 'aws',
  pagerduty: 'pd',
  generic: 'gen',
};

export function dedupKey(source: SignalSource, fingerprint: string): string {
  // Well-formed: the firing row is found by comparing this key with the stored one.
  return `${DEDUP_FAMILY[source]}:${wellFormed(fingerprint)}`;
}

/**
 * Stores a batch of normalized signals and correlates them inside the caller's transaction: when it
 * commits, every acknowledged signal is already deduplicated, detected and attached to its incident.
 * Work is gathered in memory and written with a handful of multi-row statements per table, so the
 * cost per batch does not grow with the number of incidents it touches.
 */
export async function ingestSignals(
  scope: StoreScope,
  drafts: readonly SignalDraft[],
  context: IngestContext,
): Promise<IngestResult> {
  const { now } = context;
  const keys = drafts.map((draft) => dedupKey(draft.source, draft.fingerprint));
  const firing = new Map<string, SignalRow>();
  for (const row of await scope.signals.findFiring([...new Set(keys)])) firing.set(row.dedup_key, row);
  // Resolves with nothing firing may be re-sends of a resolve already stored.
  const resolvedBefore = new Map<string, SignalRow>();
  const lateResolves = drafts.flatMap((draft, index) =>
    draft.status === 'resolved' && !firing.has(keys[index]!)
      ? [{ dedupKey: keys[index]!, startsAt: draft.startsAt ?? now }]
      : [],
  );
  for (const row of await scope.signals.findResolved(lateResolves))
    resolvedBefore.set(`${row.dedup_key}|${row.starts_at}`, row);

  const outcomes: SignalOutcome[] = [];
  const changed = new Map<string, SignalRow>();
  // Rows whose repeat moved only their last-seen time and count: a narrower write (signals.touch).
  const touched = new Map<string, SignalRow>();
  const inserts: SignalRow[] = [];
  const inserted = new Set<string>();
  const newFiring: SignalRow[] = [];
  const resolvedIds: string[] = [];

  drafts.forEach((given, index) => {
    const key = keys[index]!;
    const open = firing.get(key);
    // A stand-in carries no text to store: restored in full when it would become a new row.
    const becomesRow =
      !open &&
      (given.status === 'firing' ||
        (given.source !== 'pagerduty' && !resolvedBefore.has(`${key}|${given.startsAt ?? now}`)));
    const draft = isStandIn(given) && becomesRow && context.restore ? context.restore(index) : given;
    const base = { fingerprint: draft.fingerprint, incidentIds: [] as string[] };
    if (draft.status === 'firing') {
      if (open) {
        const counted = draft.acknowledged
          ? open.acknowledged_at !== null
          : open.severity === draft.severity && open.title === draft.title;
        open.last_seen_at = now;
        open.occurrences += 1;
        if (draft.acknowledged) open.acknowledged_at ??= now;
        else {
          open.severity = draft.severity;
          open.title = draft.title;
        }
        if (!inserted.has(open.id)) (counted ? touched : changed).set(open.id, open);
        outcomes.push({
          ...base,
          id: open.id,
          action: draft.acknowledged ? 'acknowledged' : 'repeated',
          status: 'firing',
        });
        return;
      }
      if (draft.acknowledged) {
        // PagerDuty drops an acknowledge for a dedup_key it has no open alert for; so do we.
        outcomes.push({ ...base, id: null, action: 'ignored', status: 'firing' });
        return;
      }
      const row = newRow(draft, key, now, context.silences);
      inserts.push(row);
      inserted.add(row.id);
      firing.set(key, row);
      if (row.suppressed_by === null) newFiring.push(row);
      outcomes.push({
        ...base,
        id: row.id,
        action: 'created',
        status: 'firing',
        ...(row.suppressed_by ? { suppressedBy: row.suppressed_by } : {}),
      });
      return;
    }
    if (open) {
      open.status = 'resolved';
      open.open_key = null;
      open.ends_at = draft.endsAt ?? now;
      open.last_seen_at = now;
      if (!inserted.has(open.id)) {
        changed.set(open.id, open);
        resolvedIds.push(open.id);
      }
      firing.delete(key);
      resolvedBefore.set(`${key}|${open.starts_at}`, open);
      outcomes.push({ ...base, id: open.id, action: 'resolved', status: 'resolved' });
      return;
    }
    if (draft.source === 'pagerduty') {
      outcomes.push({ ...base, id: null, action: 'ignored', status: 'resolved' });
      return;
    }
    const stored = resolvedBefore.get(`${key}|${draft.startsAt ?? now}`);
    if (stored) {
      stored.last_seen_at = now;
      stored.occurrences += 1;
      if (!inserted.has(stored.id)) touched.set(stored.id, stored);
      outcomes.push({ ...base, id: stored.id, action: 'repeated', status: 'resolved' });
      return;
    }
    // A resolve we never saw fire (OPX started after it fired): keep it for the record.
    const row = newRow(draft, key, now, context.silences);
    row.status = 'resolved';
    row.open_key = null;
    row.ends_at = draft.endsAt ?? now;
    inserts.push(row);
    inserted.add(row.id);
    resolvedBefore.set(`${key}|${row.starts_at}`, row);
    outcomes.push({ ...base, id: row.id, action: 'created', status: 'resolved' });
  });

  await lockEnvironments(scope, newFiring, context);
  // State changes first: a resolve frees its open key for a new firing row inserted just after.
  await scope.signals.upsertState([...changed.values()]);
  await scope.signals.touch(
    [...touched.values()].filter((row) => !changed.has(row.id)),
    now,
  );
  await scope.signals.insertMany(inserts);

  const { joined, resolvedLinks, created, updated } = await correlateAndRecord(
    scope,
    newFiring,
    resolvedIds,
    context,
  );
  for (const outcome of outcomes) {
    if (outcome.id && outcome.action === 'created') outcome.incidentIds = joined.get(outcome.id) ?? [];
    if (outcome.action === 'resolved')
      outcome.incidentIds = resolvedLinks
        .filter((link) => link.signalId === outcome.id)
        .map((link) => link.incidentId);
  }
  return { signals: outcomes, incidentsCreated: created, incidentsUpdated: updated };
}

/**
 * On PostgreSQL, topology joins read other incidents than the signal's own key: concurrent writers (a
 * fleet of API processes, the workers' sweeps) take turns per environment, so a cascade split across
 * them still opens one incident.
 */
async function lockEnvironments(
  scope: StoreScope,
  firing: readonly SignalRow[],
  context: Pick<IngestContext, 'rules' | 'graph'>,
): Promise<void> {
  if (scope.dialect !== 'postgres' || firing.length === 0) return;
  if (!(context.rules.topology && context.graph) && !context.rules.threshold.some(isSustained)) return;
  const environments = [...new Set(firing.map((row) => row.environment))].sort();
  for (const environment of environments)
    await sql`select pg_advisory_xact_lock(hashtext(${`opx:correlate:${environment}`}))`.execute(scope.db);
}

const isSustained = (compiled: { rule: { sustainedSeconds?: number | null } }) =>
  (compiled.rule.sustainedSeconds ?? null) !== null;

/**
 * Correlates firing signals already stored (`firing`) and records what follows: incidents opened,
 * joined and merged; incidents whose last firing signal is among `resolvedIds` resolved, blips split
 * off; investigations queued for new, re-opened and materially changed incidents.
 */
async function correlateAndRecord(
  scope: StoreScope,
  firing: readonly SignalRow[],
  resolvedIds: readonly string[],
  context: Omit<IngestContext, 'silences'>,
): Promise<{
  joined: Map<string, string[]>;
  resolvedLinks: { signalId: string; incidentId: string }[];
  created: string[];
  updated: string[];
}> {
  const { now } = context;
  const topology = context.rules.topology && context.graph ? context.rules.topology : undefined;
  const incidents = new IncidentBatch(scope, {
    principal: context.principal,
    now,
    reopenGraceMs: context.settings.reopenGraceMs,
    autoResolve: context.settings.autoResolve,
    topology:
      topology && context.graph
        ? {
            rule: topology.rule.name,
            graph: context.graph,
            hops: topology.rule.hops,
            windowMs: topology.rule.windowSeconds * 1000,
          }
        : undefined,
  });
  const joined = await correlate(
    scope,
    firing,
    { now, rules: context.rules, graph: topology ? context.graph : undefined },
    incidents,
  );
  await incidents.mergeConnected();
  await incidents.attach();

  // Incidents whose last firing signal just resolved.
  const resolvedLinks =
    resolvedIds.length > 0 ? await scope.incidents.activeIncidentsForSignals(resolvedIds) : [];
  const resolvedIncidents = resolvedLinks.map((link) => link.incidentId);
  const blips = await incidents.detachBlips(resolvedIncidents);
  await incidents.noteResolutions([...resolvedIncidents, ...blips]);

  const { created, updated, changed: material } = await incidents.flush();
  const { investigate } = context.settings;
  if (investigate) {
    const fresh = new Set([...created, ...incidents.reopened]);
    await scheduleReinvestigation(
      scope,
      material.filter((incidentId) => !fresh.has(incidentId)),
      now,
      investigate,
    );
    const reopened = new Set(incidents.reopened);
    // A blip split off is over and on record; nobody needs it investigated.
    const blipRecords = new Set(incidents.blips);
    for (const incidentId of [...created.filter((id) => !blipRecords.has(id)), ...reopened]) {
      await scope.jobs.enqueue(
        INVESTIGATE_JOB,
        // The trace context lets the investigation's spans continue the ingest trace that opened it.
        {
          incidentId,
          trigger: reopened.has(incidentId) ? 'reopened' : 'created',
          ...(context.trace && Object.keys(context.trace).length > 0 ? { trace: context.trace } : {}),
        },
        {
          dedupKey: `${INVESTIGATE_JOB}:${incidentId}`,
          maxAttempts: investigate.maxAttempts,
          runAt: now + investigate.delayMs,
        },
        now,
      );
    }
  }
  return { joined, resolvedLinks, created, updated };
}

/** Whether a rule's `severity >=` matchers (if any) let a signal of `severity` through. */
function severityMayMatch(matchers: readonly Matcher[], severity: Severity): boolean {
  return matchers.every(
    (matcher) =>
      matcher.field !== 'severity' ||
      matcher.op !== '>=' ||
      SEVERITY_RANK[severity] >= SEVERITY_RANK[matcher.value as Severity],
  );
}

/** How far back a sweep looks for signals that became due: a worker that was down this long catches up. */
export const SUSTAINED_LOOKBACK_MS = 15 * 60_000;

/**
 * The sweep for rules with `sustainedSeconds`: stored signals that no incident holds, still firing,
 * that arrived at least that long before `now` (and no more than SUSTAINED_LOOKBACK_MS before that)
 * and match such a rule, are correlated now, through the topology rule and the sustained rules only
 * (the other threshold rules counted them when they arrived).
 */
export async function correlateSustained(
  scope: StoreScope,
  context: IngestContext,
): Promise<{ incidentsCreated: string[]; incidentsUpdated: string[]; signals: number }> {
  const sustained = context.rules.threshold.filter(isSustained);
  const none = { incidentsCreated: [], incidentsUpdated: [], signals: 0 };
  if (sustained.length === 0) return none;
  const shortest = Math.min(...sustained.map((compiled) => compiled.rule.sustainedSeconds!)) * 1000;
  const { now } = context;
  const severities = SEVERITIES.filter((severity) =>
    sustained.some((compiled) => severityMayMatch(compiled.rule.matchers, severity)),
  );
  const find = async () =>
    (
      await scope.signals.unheldFiringReceived(
        now - shortest - SUSTAINED_LOOKBACK_MS,
        now - shortest,
        severities,
      )
    ).filter((signal) => {
      const matchable = asMatchable(signal);
      // A silence or maintenance window that began after the signal arrived covers it now.
      if (silencing(context.silences, now, matchable)) return false;
      return sustained.some(
        (compiled) => sustainedFor(compiled.rule, signal, now) && compiled.matches(matchable),
      );
    });
  const found = await find();
  if (found.length === 0) return none;
  const rules = { threshold: sustained, topology: context.rules.topology };
  await lockEnvironments(scope, found, { rules, graph: context.graph });
  // Another writer may have taken some of them while this one waited for the locks.
  const due = scope.dialect === 'postgres' ? await find() : found;
  if (due.length === 0) return none;
  const { created, updated } = await correlateAndRecord(scope, due, [], { ...context, rules });
  return { incidentsCreated: created, incidentsUpdated: updated, signals: due.length };
}

/** The silence that covers a signal at `now`, if any. */
function silencing(
  silences: readonly CompiledSilence[],
  now: number,
  signal: Parameters<CompiledMatcher>[0],
): CompiledSilence | undefined {
  return silences.find(
    (candidate) =>
      candidate.silence.startsAt <= now && candidate.silence.endsAt > now && candidate.matches(signal),
  );
}

/** signalRow, for a draft that must carry its text (src/ingest/repeats.ts). */
function newRow(
  draft: SignalDraft,
  key: string,
  now: number,
  silences: readonly CompiledSilence[],
): SignalRow {
  if (isStandIn(draft))
    throw new Error(`internal error: a repeat's stand-in for ${key} would be stored as a new signal`);
  return signalRow(draft, key, now, silences);
}

/** The stored row for a new signal, marked suppressed when a silence covers it now. */
export function signalRow(
  draft: SignalDraft,
  key: string,
  now: number,
  silences: readonly CompiledSilence[],
): SignalRow {
  const suppressor = silencing(silences, now, { ...draft, region: draft.region ?? null });
  return {
    id: newId('signal', now),
    source: draft.source,
    fingerprint: draft.fingerprint,
    dedup_key: key,
    open_key: draft.status === 'firing' ? key : null,
    status: draft.status,
    severity: draft.severity,
    service: draft.service,
    environment: draft.environment,
    region: draft.region ?? null,
    title: draft.title,
    description: draft.description ?? null,
    labels: JSON.stringify(draft.labels),
    annotations: JSON.stringify(draft.annotations),
    metric: draft.metric === undefined ? null : JSON.stringify(draft.metric),
    links: JSON.stringify(draft.links),
    starts_at: draft.startsAt ?? now,
    ends_at: draft.endsAt ?? null,
    received_at: now,
    last_seen_at: now,
    occurrences: 1,
    acknowledged_at: null,
    suppressed_by: suppressor?.silence.id ?? null,
    raw: draft.raw === undefined ? null : JSON.stringify(draft.raw),
  };
}

/**
 * Queues another investigation of incidents that materially changed: one per incident and
 * `rerunDebounceMs` window (30 s by default), due when the window closes, so a storm of joins is one run.
 */
export async function scheduleReinvestigation(
  scope: StoreScope,
  incidentIds: readonly string[],
  now: number,
  investigate: NonNullable<IngestSettings['investigate']>,
): Promise<void> {
  const debounce = investigate.rerunDebounceMs ?? 30_000;
  const window = Math.floor(now / debounce);
  for (const incidentId of new Set(incidentIds)) {
    await scope.jobs.enqueue(
      INVESTIGATE_JOB,
      { incidentId, trigger: 'changed' },
      {
        dedupKey: `${INVESTIGATE_JOB}:${incidentId}:${window}`,
        maxAttempts: investigate.maxAttempts,
        runAt: (window + 1) * debounce,
      },
      now,
    );
  }
}
