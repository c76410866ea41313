import { type CompiledMatcher, compileMatchers } from '../detect/matcher.js';
import { type CompiledRule, groupKey, groupValues, maxSeverity, renderTitle } from '../detect/rules.js';
import { type IncidentSeverity, newId, type Severity, wellFormed } from '../domain/common.js';
import type { Silence } from '../domain/rule.js';
import type { SignalDraft, SignalSource } from '../domain/signal.js';
import { planTransition } from '../incidents/lifecycle.js';
import { type EventDraft, GENESIS_HASH, type StoreScope } from '../store/index.js';
import type { CandidateRow, DetectionRow } from '../store/repositories/detections.js';
import { chainEvents, type IncidentRow } from '../store/repositories/incidents.js';
import type { SignalRow } from '../store/repositories/signals.js';

export interface IngestSettings {
  /** Move an incident to RESOLVED when its last firing signal resolves. */
  autoResolve: boolean;
  /** A firing signal re-opens a RESOLVED incident with its correlation key within this many ms. */
  reopenGraceMs: number;
  /** Queue an `investigate` job, due after `delayMs`, for each incident a batch creates or re-opens. */
  investigate?: { maxAttempts: number; delayMs: number } | undefined;
}

/** The job kind that runs an investigation (see src/investigate/jobs.ts). */
export const INVESTIGATE_JOB = 'investigate';

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
  rules: readonly CompiledRule[];
  silences: readonly CompiledSilence[];
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
  const inserts: SignalRow[] = [];
  const inserted = new Set<string>();
  const newFiring: SignalRow[] = [];
  const resolvedIds: string[] = [];

  drafts.forEach((draft, index) => {
    const key = keys[index]!;
    const open = firing.get(key);
    const base = { fingerprint: draft.fingerprint, incidentIds: [] as string[] };
    if (draft.status === 'firing') {
      if (open) {
        open.last_seen_at = now;
        open.occurrences += 1;
        if (draft.acknowledged) open.acknowledged_at ??= now;
        else {
          open.severity = draft.severity;
          open.title = draft.title;
        }
        if (!inserted.has(open.id)) changed.set(open.id, open);
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
      const row = signalRow(draft, key, now, context.silences);
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
      if (!inserted.has(stored.id)) changed.set(stored.id, stored);
      outcomes.push({ ...base, id: stored.id, action: 'repeated', status: 'resolved' });
      return;
    }
    // A resolve we never saw fire (OPX started after it fired): keep it for the record.
    const row = signalRow(draft, key, now, context.silences);
    row.status = 'resolved';
    row.open_key = null;
    row.ends_at = draft.endsAt ?? now;
    inserts.push(row);
    inserted.add(row.id);
    resolvedBefore.set(`${key}|${row.starts_at}`, row);
    outcomes.push({ ...base, id: row.id, action: 'created', status: 'resolved' });
  });

  // State changes first: a resolve frees its open key for a new firing row inserted just after.
  await scope.signals.upsertState([...changed.values()]);
  await scope.signals.insertMany(inserts);

  const incidents = new IncidentBatch(scope, context);
  const joined = await correlate(scope, newFiring, context, incidents);
  for (const outcome of outcomes) {
    if (outcome.id && outcome.action === 'created') outcome.incidentIds = joined.get(outcome.id) ?? [];
  }
  await incidents.attach();

  // Incidents whose last firing signal just resolved.
  const resolvedLinks = await scope.incidents.activeIncidentsForSignals(resolvedIds);
  for (const outcome of outcomes) {
    if (outcome.action !== 'resolved') continue;
    outcome.incidentIds = resolvedLinks
      .filter((link) => link.signalId === outcome.id)
      .map((link) => link.incidentId);
  }
  await incidents.noteResolutions(resolvedLinks.map((link) => link.incidentId));

  const { created, updated } = await incidents.flush();
  const { investigate } = context.settings;
  if (investigate) {
    const reopened = new Set(incidents.reopened);
    for (const incidentId of [...created, ...reopened]) {
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
          runAt: context.now + investigate.delayMs,
        },
        context.now,
      );
    }
  }
  return { signals: outcomes, incidentsCreated: created, incidentsUpdated: updated };
}

function signalRow(
  draft: SignalDraft,
  key: string,
  now: number,
  silences: readonly CompiledSilence[],
): SignalRow {
  const suppressor = silences.find(
    (candidate) =>
      candidate.silence.startsAt <= now &&
      candidate.silence.endsAt > now &&
      candidate.matches({ ...draft, region: draft.region ?? null }),
  );
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

/** One incident's pending changes within a batch. `row` is the current state, edited in place. */
interface IncidentWork {
  row: IncidentRow;
  created: boolean;
  dirty: boolean;
  /** Events that open the batch's story for this incident (created, reopened), then the rest. */
  leading: EventDraft[];
  events: EventDraft[];
  /** Signals to link, with the service and start time each contributes. */
  attach: Map<string, { service: string; at: number }>;
  fresh: string[];
  /** Set when this batch found every signal resolved, so fresh links do not count as re-firing. */
  resolvedNow: boolean;
  /** Whether the incident was active before this batch touched it. */
  wasActive: boolean;
}

/** The incidents one batch touches, loaded in bulk and written back in bulk. */
class IncidentBatch {
  readonly #scope: StoreScope;
  readonly #context: IngestContext;
  readonly #work = new Map<string, IncidentWork>();
  /** Correlation key → active incident id, or null when known to have none. */
  readonly #activeByKey = new Map<string, string | null>();
  /** Incidents this batch re-opened. */
  readonly reopened: string[] = [];

  constructor(scope: StoreScope, context: IngestContext) {
    this.#scope = scope;
    this.#context = context;
  }

  get(id: string): IncidentWork {
    const entry = this.#work.get(id);
    if (!entry) throw new Error(`incident ${id} was not loaded`);
    return entry;
  }

  #adopt(row: IncidentRow): IncidentWork {
    const existing = this.#work.get(row.id);
    if (existing) return existing;
    const entry: IncidentWork = {
      row,
      created: false,
      dirty: false,
      leading: [],
      events: [],
      attach: new Map(),
      fresh: [],
      resolvedNow: false,
      wasActive: row.active_key !== null,
    };
    this.#work.set(row.id, entry);
    if (row.active_key !== null) this.#activeByKey.set(row.active_key, row.id);
    return entry;
  }

  /** Loads incidents by id (locked on PostgreSQL), skipping those already loaded. */
  async load(ids: readonly string[]): Promise<void> {
    const missing = [...new Set(ids)].filter((id) => !this.#work.has(id));
    for (const row of await this.#scope.incidents.getRows(missing, { forUpdate: true })) this.#adopt(row);
  }

  /** Learns which correlation keys have an active incident, loading those incidents. */
  async loadActive(keys: readonly string[]): Promise<void> {
    const unknown = [...new Set(keys)].filter((key) => !this.#activeByKey.has(key));
    if (unknown.length === 0) return;
    const rows = await this.#scope.incidents.findActive(unknown);
    for (const key of unknown) this.#activeByKey.set(key, null);
    await this.load(rows.map((row) => row.id));
  }

  activeFor(key: string): string | undefined {
    return this.#activeByKey.get(key) ?? undefined;
  }

  /** Re-opens the incident that most recently resolved for this key, if within the grace window. */
  async reopen(key: string): Promise<string | undefined> {
    const { reopenGraceMs } = this.#context.settings;
    if (reopenGraceMs <= 0) return undefined;
    const resolved = await this.#scope.incidents.findRecentlyResolved(key, this.#context.now - reopenGraceMs);
    if (!resolved) return undefined;
    await this.load([resolved.id]);
    const entry = this.get(resolved.id);
    const plan = planTransition(entry.row, 'OPEN', {
      principal: 'system:reopen',
      at: this.#context.now,
      reason: 'a new signal fired within the re-open grace window',
    });
    Object.assign(entry.row, plan.values, { signals_resolved_at: null });
    entry.leading.push({ ...plan.event, type: 'reopened' });
    entry.dirty = true;
    this.reopened.push(entry.row.id);
    this.#activeByKey.set(key, entry.row.id);
    return entry.row.id;
  }

  create(spec: {
    title: string;
    severity: IncidentSeverity;
    correlationKey: string;
    environment: string | null;
    rule: { id: string; name: string };
    startedAt: number;
  }): string {
    const { now, principal } = this.#context;
    const id = newId('incident', now);
    const row: IncidentRow = {
      id,
      title: spec.title,
      severity: spec.severity,
      status: 'OPEN',
      services: '[]',
      environment: spec.environment,
      correlation_key: spec.correlationKey,
      active_key: spec.correlationKey,
      rule_id: spec.rule.id,
      started_at: spec.startedAt,
      detected_at: now,
      acknowledged_at: null,
      mitigated_at: null,
      resolved_at: null,
      closed_at: null,
      signals_resolved_at: null,
      root_cause: null,
      resolution: null,
      signal_count: 0,
      last_event_seq: 0,
      last_event_hash: GENESIS_HASH,
      created_at: now,
      updated_at: now,
    };
    const entry = this.#adopt(row);
    entry.created = true;
    entry.dirty = true;
    entry.leading.push({
      type: 'created',
      principal,
      at: now,
      data: {
        title: spec.title,
        severity: spec.severity,
        rule: spec.rule.name,
        correlationKey: spec.correlationKey,
      },
    });
    return id;
  }

  escalate(id: string, severity: IncidentSeverity, ruleName: string): void {
    const entry = this.get(id);
    const current = entry.row.severity as IncidentSeverity;
    const next = maxSeverity(current, severity);
    if (next === current) return;
    entry.row.severity = next;
    entry.dirty = true;
    entry.events.push({
      type: 'severity_changed',
      principal: this.#context.principal,
      at: this.#context.now,
      data: { from: current, to: next, rule: ruleName },
    });
  }

  /** Writes the signal links gathered so far and notes which were new. */
  async attach(): Promise<void> {
    const links: { incidentId: string; signalId: string }[] = [];
    for (const entry of this.#work.values()) {
      for (const signalId of entry.attach.keys()) links.push({ incidentId: entry.row.id, signalId });
    }
    for (const link of await this.#scope.incidents.attachSignalsMany(links, this.#context.now)) {
      this.get(link.incidentId).fresh.push(link.signalId);
    }
  }

  /** Marks incidents whose every signal has now resolved, and auto-resolves them when configured. */
  async noteResolutions(incidentIds: readonly string[]): Promise<void> {
    if (incidentIds.length === 0) return;
    await this.load(incidentIds);
    const candidates = [...new Set(incidentIds)].filter(
      (id) => this.get(id).row.signals_resolved_at === null,
    );
    const stillFiring = await this.#scope.incidents.withFiringSignals(candidates);
    const { now, principal, settings } = this.#context;
    for (const id of candidates) {
      const entry = this.get(id);
      if (stillFiring.has(id)) continue;
      entry.row.signals_resolved_at = now;
      entry.resolvedNow = true;
      entry.events.push({ type: 'signals_resolved', principal, at: now, data: {} });
      entry.dirty = true;
      if (settings.autoResolve && entry.row.status !== 'RESOLVED') {
        const plan = planTransition(entry.row, 'RESOLVED', {
          principal: 'system:auto-resolve',
          at: now,
          reason: 'all signals resolved',
        });
        Object.assign(entry.row, plan.values);
        entry.events.push(plan.event);
      }
    }
  }

  async flush(): Promise<{ created: string[]; updated: string[] }> {
    const { now } = this.#context;
    const created: string[] = [];
    const updated: string[] = [];
    const events = [];
    const serviceLinks: { incidentId: string; service: string }[] = [];
    const rows: IncidentRow[] = [];
    const deactivated: string[] = [];
    for (const entry of this.#work.values()) {
      const { row } = entry;
      const attachedEvents: EventDraft[] = [];
      if (entry.fresh.length > 0) {
        const services = new Set<string>(JSON.parse(row.services) as string[]);
        for (const signalId of entry.fresh) {
          const contribution = entry.attach.get(signalId)!;
          services.add(contribution.service);
          row.started_at = Math.min(row.started_at, contribution.at);
        }
        const sorted = [...services].sort();
        for (const service of sorted) serviceLinks.push({ incidentId: row.id, service });
        row.services = JSON.stringify(sorted);
        row.signal_count += entry.fresh.length;
        if (row.signals_resolved_at !== null && !entry.resolvedNow) {
          row.signals_resolved_at = null;
          attachedEvents.push({
            type: 'signals_refiring',
            principal: 'system',
            at: now,
            data: { signalIds: entry.fresh },
          });
        }
        // One event per batch, not per signal: a storm must not flood the timeline.
        attachedEvents.unshift({
          type: 'signal_attached',
          principal: 'system',
          at: now,
          data: { signalIds: entry.fresh, count: entry.fresh.length },
        });
        entry.dirty = true;
      }
      if (!entry.dirty) continue;
      const chain = chainEvents(row, [...entry.leading, ...attachedEvents, ...entry.events]);
      events.push(...chain.events);
      row.last_event_seq = chain.lastSeq;
      row.last_event_hash = chain.lastHash;
      row.updated_at = now;
      rows.push(row);
      if (entry.wasActive && row.active_key === null) deactivated.push(row.id);
      (entry.created ? created : updated).push(row.id);
    }
    await this.#scope.incidents.upsertRows(rows);
    await this.#scope.incidents.insertEvents(events);
    await this.#scope.incidents.addServicesMany(serviceLinks);
    for (const id of deactivated) await this.#scope.detections.closeCandidatesOfIncident(id);
    return { created, updated };
  }
}

interface Hit {
  signal: SignalRow;
  rule: CompiledRule;
  values: Record<string, string>;
  key: string;
  openKey: string;
}

function asMatchable(row: SignalRow) {
  return {
    source: row.source,
    severity: row.severity as Severity,
    service: row.service,
    environment: row.environment,
    region: row.region,
    status: row.status,
    title: row.title,
    labels: JSON.parse(row.labels) as Record<string, string>,
  };
}

/**
 * Runs the rules over new firing signals: a detection per match, grouped into a candidate per (rule,
 * group), and an incident once a candidate meets its threshold or its key already has an active one.
 * Returns the incidents each signal joined.
 */
async function correlate(
  scope: StoreScope,
  signals: readonly SignalRow[],
  context: IngestContext,
  incidents: IncidentBatch,
): Promise<Map<string, string[]>> {
  const joined = new Map<string, string[]>();
  if (signals.length === 0 || context.rules.length === 0) return joined;
  const { now } = context;

  const hits: Hit[] = [];
  for (const signal of signals) {
    const matchable = asMatchable(signal);
    for (const compiled of context.rules) {
      if (!compiled.matches(matchable)) continue;
      const values = groupValues(compiled.rule, matchable);
      const key = groupKey(values);
      hits.push({ signal, rule: compiled, values, key, openKey: `${compiled.rule.id}|${key}` });
    }
  }
  if (hits.length === 0) return joined;

  const candidates = new Map<string, CandidateRow>();
  for (const row of await scope.detections.findOpenCandidates([...new Set(hits.map((hit) => hit.openKey))])) {
    candidates.set(row.open_key!, row);
  }
  const touched = new Map<string, { candidate: CandidateRow; hits: Hit[]; fresh: DetectionRow[] }>();
  const changedCandidates = new Map<string, CandidateRow>();
  const createdCandidates = new Map<string, CandidateRow>();
  const detectionRows: DetectionRow[] = [];

  for (const hit of hits) {
    const at = hit.signal.starts_at;
    const windowMs = hit.rule.rule.windowSeconds * 1000;
    let candidate = candidates.get(hit.openKey);
    if (candidate && candidate.status === 'open' && at - candidate.last_at > windowMs) {
      // The old candidate's window passed without reaching the threshold.
      candidate.status = 'expired';
      candidate.open_key = null;
      if (!createdCandidates.has(candidate.id)) changedCandidates.set(candidate.id, candidate);
      candidate = undefined;
    }
    if (!candidate) {
      candidate = {
        id: newId('candidate', now),
        rule_id: hit.rule.rule.id,
        group_key: hit.key,
        group_values: JSON.stringify(hit.values),
        status: 'open',
        open_key: hit.openKey,
        first_at: at,
        last_at: at,
        detection_count: 0,
        incident_id: null,
        created_at: now,
      };
      candidates.set(hit.openKey, candidate);
      createdCandidates.set(candidate.id, candidate);
    }
    let entry = touched.get(candidate.id);
    if (!entry) {
      entry = { candidate, hits: [], fresh: [] };
      touched.set(candidate.id, entry);
    }
    candidate.detection_count += 1;
    candidate.first_at = Math.min(candidate.first_at, at);
    candidate.last_at = Math.max(candidate.last_at, at);
    if (!createdCandidates.has(candidate.id)) changedCandidates.set(candidate.id, candidate);
    const detection: DetectionRow = {
      id: newId('detection', now),
      rule_id: hit.rule.rule.id,
      rule_version: hit.rule.rule.version,
      signal_id: hit.signal.id,
      candidate_id: candidate.id,
      incident_id: candidate.incident_id,
      service: hit.signal.service,
      at,
      created_at: now,
    };
    entry.hits.push(hit);
    entry.fresh.push(detection);
    detectionRows.push(detection);
  }

  // Window contents of candidates still accumulating: stored detections plus this batch's.
  const open = [...touched.values()].filter((entry) => entry.candidate.status === 'open');
  const storedOpen = open.filter((entry) => !createdCandidates.has(entry.candidate.id));
  const since = (entry: { candidate: CandidateRow; hits: Hit[] }) =>
    entry.candidate.last_at - entry.hits[0]!.rule.rule.windowSeconds * 1000;
  const stored = storedOpen.length
    ? await scope.detections.windowDetections(
        storedOpen.map((entry) => entry.candidate.id),
        Math.min(...storedOpen.map(since)),
      )
    : [];
  await incidents.loadActive(open.map((entry) => entry.candidate.group_key));
  await incidents.load(
    [...touched.values()].flatMap((entry) =>
      entry.candidate.status === 'promoted' && entry.candidate.incident_id
        ? [entry.candidate.incident_id]
        : [],
    ),
  );

  const promotedEarlier: { candidateId: string; incidentId: string }[] = [];
  const link = (incidentId: string, signalId: string, service: string, at: number) => {
    incidents.get(incidentId).attach.set(signalId, { service, at });
    const list = joined.get(signalId) ?? [];
    if (!list.includes(incidentId)) list.push(incidentId);
    joined.set(signalId, list);
  };

  for (const entry of touched.values()) {
    const { candidate } = entry;
    const rule = entry.hits[0]!.rule.rule;
    if (candidate.status === 'promoted' && candidate.incident_id) {
      for (const detection of entry.fresh)
        link(candidate.incident_id, detection.signal_id, detection.service, detection.at);
      continue;
    }
    if (candidate.status !== 'open') continue;
    const windowStart = since(entry);
    const members = new Map<string, { service: string; at: number }>();
    for (const detection of stored) {
      if (detection.candidateId === candidate.id && detection.at >= windowStart)
        members.set(detection.signalId, detection);
    }
    for (const detection of entry.fresh) {
      if (detection.at >= windowStart) members.set(detection.signal_id, detection);
    }
    const services = new Set([...members.values()].map((member) => member.service));
    const measured = rule.threshold.kind === 'count' ? members.size : services.size;
    let incidentId = incidents.activeFor(candidate.group_key);
    // Thresholds gate opening an incident, not joining one: below-threshold signals on a key that
    // already has an active incident are context for it.
    if (measured < rule.threshold.value && !incidentId) continue;
    if (!incidentId) incidentId = await incidents.reopen(candidate.group_key);
    if (!incidentId) {
      const first = entry.hits[0]!.signal;
      incidentId = incidents.create({
        title: renderTitle(rule.titleTemplate, {
          ...entry.hits[0]!.values,
          service: first.service,
          environment: first.environment,
          title: first.title,
          count: members.size,
          services: services.size,
        }),
        severity: rule.severity,
        correlationKey: candidate.group_key,
        environment: entry.hits[0]!.values.environment ?? first.environment,
        rule,
        startedAt: candidate.first_at,
      });
    } else if (measured >= rule.threshold.value) {
      incidents.escalate(incidentId, rule.severity, rule.name);
    }
    candidate.status = 'promoted';
    candidate.incident_id = incidentId;
    for (const detection of entry.fresh) detection.incident_id = incidentId;
    if (!createdCandidates.has(candidate.id)) promotedEarlier.push({ candidateId: candidate.id, incidentId });
    for (const [signalId, member] of members) link(incidentId, signalId, member.service, member.at);
  }

  await scope.detections.writeCandidates([...changedCandidates.values()], [...createdCandidates.values()]);
  await scope.detections.insertDetections(detectionRows);
  // Detections stored by earlier batches learn their incident when their candidate is promoted.
  for (const { candidateId, incidentId } of promotedEarlier)
    await scope.detections.setDetectionIncident(candidateId, incidentId);
  return joined;
}
