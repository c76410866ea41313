import { type CompiledMatcher, compileMatchers } from '../detect/matcher.js';
import { type CompiledRule, groupKey, groupValues, maxSeverity, renderTitle } from '../detect/rules.js';
import { type IncidentSeverity, newId } from '../domain/common.js';
import type { Silence } from '../domain/rule.js';
import type { SignalDraft, SignalSource } from '../domain/signal.js';
import { planTransition } from '../incidents/lifecycle.js';
import { type EventDraft, GENESIS_HASH, type StoreScope } from '../store/index.js';
import type { CandidateRow, DetectionRow } from '../store/repositories/detections.js';
import type { IncidentRow } from '../store/repositories/incidents.js';
import type { SignalRow } from '../store/repositories/signals.js';

export interface IngestSettings {
  /** Move an incident to RESOLVED when its last firing signal resolves. */
  autoResolve: boolean;
  /** A firing signal re-opens a RESOLVED incident with its correlation key within this many ms. */
  reopenGraceMs: number;
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
  return `${DEDUP_FAMILY[source]}:${fingerprint}`;
}

/** Per-incident changes gathered during one batch and written once at the end. */
interface IncidentWork {
  row: IncidentRow;
  created: boolean;
  values: Partial<IncidentRow>;
  events: EventDraft[];
  attached: string[];
  services: Set<string>;
}

/**
 * Stores a batch of normalized signals and correlates them, inside the caller's transaction: when
 * it commits, every acknowledged signal is already deduplicated, detected and attached to its incident.
 */
export async function ingestSignals(
  scope: StoreScope,
  drafts: readonly SignalDraft[],
  context: IngestContext,
): Promise<IngestResult> {
  const { now, principal } = context;
  const keys = drafts.map((draft) => dedupKey(draft.source, draft.fingerprint));
  const firing = new Map<string, SignalRow>();
  for (const row of await scope.signals.findFiring([...new Set(keys)])) firing.set(row.dedup_key, row);

  const outcomes: SignalOutcome[] = [];
  const inserts: SignalRow[] = [];
  const newFiring: SignalRow[] = [];
  const resolvedIds: string[] = [];
  const resolves = new Map<string, number>();
  const repeats = new Map<
    string,
    { lastSeenAt: number; acknowledgedAt?: number | null; severity?: string; title?: string }
  >();

  drafts.forEach((draft, index) => {
    const key = keys[index]!;
    const open = firing.get(key);
    const base = { fingerprint: draft.fingerprint, incidentIds: [] as string[] };
    if (draft.status === 'firing') {
      if (open) {
        const previous = repeats.get(open.id);
        const update: {
          lastSeenAt: number;
          acknowledgedAt?: number | null;
          severity?: string;
          title?: string;
        } = {
          ...previous,
          lastSeenAt: now,
        };
        if (draft.acknowledged) update.acknowledgedAt = open.acknowledged_at ?? now;
        if (draft.source !== 'pagerduty' || !draft.acknowledged) {
          update.severity = draft.severity;
          update.title = draft.title;
        }
        repeats.set(open.id, update);
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
    // A resolve.
    if (open) {
      const endsAt = draft.endsAt ?? now;
      if (inserts.includes(open)) {
        open.status = 'resolved';
        open.open_key = null;
        open.ends_at = endsAt;
      } else {
        resolvedIds.push(open.id);
        repeats.delete(open.id);
        resolves.set(open.id, endsAt);
      }
      firing.delete(key);
      outcomes.push({ ...base, id: open.id, action: 'resolved', status: 'resolved' });
      return;
    }
    if (draft.source === 'pagerduty') {
      outcomes.push({ ...base, id: null, action: 'ignored', status: 'resolved' });
      return;
    }
    // A resolve we never saw fire (OPX started after it fired): keep it for the record.
    const row = signalRow(draft, key, now, context.silences);
    row.status = 'resolved';
    row.open_key = null;
    row.ends_at = draft.endsAt ?? now;
    inserts.push(row);
    outcomes.push({ ...base, id: row.id, action: 'created', status: 'resolved' });
  });

  await scope.signals.insertMany(inserts);
  for (const [id, update] of repeats) await scope.signals.recordRepeat(id, update);
  for (const [id, endsAt] of resolves) await scope.signals.markResolved(id, endsAt, now);

  const work = new Map<string, IncidentWork>();
  const loadIncident = async (id: string): Promise<IncidentWork> => {
    let entry = work.get(id);
    if (!entry) {
      const row = await scope.incidents.getRow(id, { forUpdate: true });
      if (!row) throw new Error(`incident ${id} vanished during ingest`);
      entry = { row, created: false, values: {}, events: [], attached: [], services: new Set() };
      work.set(id, entry);
    }
    return entry;
  };

  const signalIncidents = await correlate(scope, newFiring, context, work, loadIncident);
  for (const outcome of outcomes) {
    if (outcome.id && outcome.action === 'created')
      outcome.incidentIds = signalIncidents.get(outcome.id) ?? [];
  }

  // Incidents whose last firing signal just resolved.
  const resolvedLinks = await scope.incidents.activeIncidentsForSignals(resolvedIds);
  for (const outcome of outcomes) {
    if (outcome.action !== 'resolved') continue;
    outcome.incidentIds = resolvedLinks
      .filter((link) => link.signalId === outcome.id)
      .map((link) => link.incidentId);
  }
  for (const incidentId of new Set(resolvedLinks.map((link) => link.incidentId))) {
    const entry = await loadIncident(incidentId);
    const current = { ...entry.row, ...entry.values };
    if (current.signals_resolved_at !== null) continue;
    if ((await scope.incidents.firingSignalCount(incidentId)) > 0) continue;
    entry.values.signals_resolved_at = now;
    entry.events.push({ type: 'signals_resolved', principal, at: now, data: {} });
    if (context.settings.autoResolve && current.status !== 'RESOLVED') {
      const plan = planTransition(current, 'RESOLVED', {
        principal: 'system:auto-resolve',
        at: now,
        reason: 'all signals resolved',
      });
      Object.assign(entry.values, plan.values);
      entry.events.push(plan.event);
    }
  }
  const created: string[] = [];
  const updated: string[] = [];
  for (const entry of work.values()) {
    if (!(await flushIncident(scope, entry, now))) continue;
    (entry.created ? created : updated).push(entry.row.id);
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

function asMatchable(row: SignalRow) {
  return {
    source: row.source,
    severity: row.severity as 'critical',
    service: row.service,
    environment: row.environment,
    region: row.region,
    status: row.status,
    title: row.title,
    labels: JSON.parse(row.labels) as Record<string, string>,
  };
}

/**
 * Runs the rules over new firing signals: detections, candidates per (rule, group), and an incident once a
 * candidate meets its threshold. Returns the incidents each signal joined.
 */
async function correlate(
  scope: StoreScope,
  signals: readonly SignalRow[],
  context: IngestContext,
  work: Map<string, IncidentWork>,
  loadIncident: (id: string) => Promise<IncidentWork>,
): Promise<Map<string, string[]>> {
  const joined = new Map<string, string[]>();
  if (signals.length === 0 || context.rules.length === 0) return joined;
  const { now, principal } = context;

  interface Hit {
    signal: SignalRow;
    rule: CompiledRule;
    values: Record<string, string>;
    key: string;
  }
  const hits: Hit[] = [];
  for (const signal of signals) {
    const matchable = asMatchable(signal);
    for (const compiled of context.rules) {
      if (!compiled.matches(matchable)) continue;
      const values = groupValues(compiled.rule, matchable);
      hits.push({ signal, rule: compiled, values, key: groupKey(values) });
    }
  }
  if (hits.length === 0) return joined;

  const openKeyOf = (hit: Hit) => `${hit.rule.rule.id}|${hit.key}`;
  const candidates = new Map<string, CandidateRow>();
  for (const row of await scope.detections.findOpenCandidates([...new Set(hits.map(openKeyOf))])) {
    candidates.set(row.open_key!, row);
  }
  const touched = new Map<string, { candidate: CandidateRow; hits: Hit[]; isNew: boolean }>();
  const detectionRows: DetectionRow[] = [];

  for (const hit of hits) {
    const openKey = openKeyOf(hit);
    const at = hit.signal.starts_at;
    const windowMs = hit.rule.rule.windowSeconds * 1000;
    let candidate = candidates.get(openKey);
    if (candidate && candidate.status === 'open' && at - candidate.last_at > windowMs) {
      // The old candidate's window passed without reaching the threshold.
      candidate.status = 'expired';
      candidate.open_key = null;
      const entry = touched.get(candidate.id);
      if (entry) entry.candidate = candidate;
      else await scope.detections.updateCandidate(candidate.id, { status: 'expired', open_key: null });
      candidate = undefined;
    }
    if (!candidate) {
      candidate = {
        id: newId('candidate', now),
        rule_id: hit.rule.rule.id,
        group_key: hit.key,
        group_values: JSON.stringify(hit.values),
        status: 'open',
        open_key: openKey,
        first_at: at,
        last_at: at,
        detection_count: 0,
        incident_id: null,
        created_at: now,
      };
      candidates.set(openKey, candidate);
      touched.set(candidate.id, { candidate, hits: [], isNew: true });
    }
    let entry = touched.get(candidate.id);
    if (!entry) {
      entry = { candidate, hits: [], isNew: false };
      touched.set(candidate.id, entry);
    }
    entry.hits.push(hit);
    candidate.detection_count += 1;
    candidate.first_at = Math.min(candidate.first_at, at);
    candidate.last_at = Math.max(candidate.last_at, at);
    detectionRows.push({
      id: newId('detection', now),
      rule_id: hit.rule.rule.id,
      rule_version: hit.rule.rule.version,
      signal_id: hit.signal.id,
      candidate_id: candidate.id,
      incident_id: candidate.incident_id,
      service: hit.signal.service,
      at,
      created_at: now,
    });
  }

  for (const { candidate, isNew } of touched.values()) {
    if (isNew) await scope.detections.insertCandidate(candidate);
  }
  await scope.detections.insertDetections(detectionRows);

  const incidentForKey = new Map<string, string>();
  for (const { candidate, hits: candidateHits, isNew } of touched.values()) {
    const rule = candidateHits[0]!.rule.rule;
    let signalIds: string[];
    if (candidate.status === 'promoted' && candidate.incident_id) {
      signalIds = candidateHits.map((hit) => hit.signal.id);
    } else if (candidate.status === 'open') {
      const stats = await scope.detections.windowStats(
        candidate.id,
        candidate.last_at - rule.windowSeconds * 1000,
      );
      const measured = rule.threshold.kind === 'count' ? stats.count : stats.services;
      const correlationKey = candidate.group_key;
      // Thresholds gate opening an incident, not joining one: below-threshold signals on a key that
      // already has an active incident are context for it.
      const joinActive =
        measured < rule.threshold.value &&
        (incidentForKey.has(correlationKey) ||
          (await activeIncidentFor(scope, correlationKey, work)) !== undefined);
      if (measured < rule.threshold.value && !joinActive) {
        if (!isNew) {
          await scope.detections.updateCandidate(candidate.id, {
            detection_count: candidate.detection_count,
            first_at: candidate.first_at,
            last_at: candidate.last_at,
          });
        }
        continue;
      }
      let incidentId = incidentForKey.get(correlationKey);
      if (!incidentId) {
        incidentId = await promotionTarget(scope, correlationKey, context, work, loadIncident);
        if (!incidentId) {
          const first = candidateHits[0]!.signal;
          const title = renderTitle(rule.titleTemplate, {
            ...JSON.parse(candidate.group_values),
            service: first.service,
            environment: first.environment,
            title: first.title,
            count: stats.count,
            services: stats.services,
          });
          incidentId = createIncident(work, {
            title,
            severity: rule.severity,
            correlationKey,
            environment: JSON.parse(candidate.group_values).environment ?? first.environment,
            ruleId: rule.id,
            startedAt: candidate.first_at,
            now,
            principal,
            ruleName: rule.name,
          });
        }
        incidentForKey.set(correlationKey, incidentId);
      }
      candidate.status = 'promoted';
      candidate.incident_id = incidentId;
      signalIds = stats.signalIds;
      const entry = work.get(incidentId)!;
      const severity = (entry.values.severity ?? entry.row.severity) as IncidentSeverity;
      const escalated = maxSeverity(severity, rule.severity);
      if (escalated !== severity) {
        entry.values.severity = escalated;
        entry.events.push({
          type: 'severity_changed',
          principal,
          at: now,
          data: { from: severity, to: escalated, rule: rule.name },
        });
      }
    } else {
      continue;
    }
    await scope.detections.updateCandidate(candidate.id, {
      status: candidate.status,
      incident_id: candidate.incident_id,
      detection_count: candidate.detection_count,
      first_at: candidate.first_at,
      last_at: candidate.last_at,
    });
    await scope.detections.setDetectionIncident(candidate.id, candidate.incident_id!);
    const entry = await loadIncident(candidate.incident_id!);
    entry.attached.push(...signalIds);
    for (const id of signalIds) {
      const list = joined.get(id) ?? [];
      if (!list.includes(entry.row.id)) list.push(entry.row.id);
      joined.set(id, list);
    }
  }

  // Services and start times come from the signals themselves.
  const byId = new Map(signals.map((signal) => [signal.id, signal]));
  for (const entry of work.values()) {
    if (entry.attached.length === 0) continue;
    const missing = entry.attached.filter((id) => !byId.has(id));
    const known = [...entry.attached.filter((id) => byId.has(id)).map((id) => byId.get(id)!)];
    const loaded = missing.length > 0 ? await scope.signals.getMany(missing) : [];
    for (const signal of known) {
      entry.services.add(signal.service);
      entry.values.started_at = Math.min(entry.values.started_at ?? entry.row.started_at, signal.starts_at);
    }
    for (const signal of loaded) {
      entry.services.add(signal.service);
      entry.values.started_at = Math.min(entry.values.started_at ?? entry.row.started_at, signal.startsAt);
    }
  }
  return joined;
}

/** An active incident with this correlation key, or a recently resolved one that a new signal re-opens. */
async function activeIncidentFor(
  scope: StoreScope,
  correlationKey: string,
  work: Map<string, IncidentWork>,
): Promise<string | undefined> {
  for (const entry of work.values()) {
    if ({ ...entry.row, ...entry.values }.active_key === correlationKey) return entry.row.id;
  }
  const [active] = await scope.incidents.findActive([correlationKey]);
  return active?.id;
}

async function promotionTarget(
  scope: StoreScope,
  correlationKey: string,
  context: IngestContext,
  work: Map<string, IncidentWork>,
  loadIncident: (id: string) => Promise<IncidentWork>,
): Promise<string | undefined> {
  const active = await activeIncidentFor(scope, correlationKey, work);
  if (active) return (await loadIncident(active)).row.id;
  if (context.settings.reopenGraceMs <= 0) return undefined;
  const resolved = await scope.incidents.findRecentlyResolved(
    correlationKey,
    context.now - context.settings.reopenGraceMs,
  );
  if (!resolved) return undefined;
  const entry = await loadIncident(resolved.id);
  const plan = planTransition({ ...entry.row, ...entry.values }, 'OPEN', {
    principal: 'system:reopen',
    at: context.now,
    reason: 'a new signal fired within the re-open grace window',
  });
  Object.assign(entry.values, plan.values, { signals_resolved_at: null });
  entry.events.push({ ...plan.event, type: 'reopened' });
  return entry.row.id;
}

function createIncident(
  work: Map<string, IncidentWork>,
  spec: {
    title: string;
    severity: IncidentSeverity;
    correlationKey: string;
    environment: string | null;
    ruleId: string;
    ruleName: string;
    startedAt: number;
    now: number;
    principal: string;
  },
): string {
  const id = newId('incident', spec.now);
  const row: IncidentRow = {
    id,
    title: spec.title,
    severity: spec.severity,
    status: 'OPEN',
    services: '[]',
    environment: spec.environment,
    correlation_key: spec.correlationKey,
    active_key: spec.correlationKey,
    rule_id: spec.ruleId,
    started_at: spec.startedAt,
    detected_at: spec.now,
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
    created_at: spec.now,
    updated_at: spec.now,
  };
  work.set(id, {
    row,
    created: true,
    values: {},
    events: [
      {
        type: 'created',
        principal: spec.principal,
        at: spec.now,
        data: {
          title: spec.title,
          severity: spec.severity,
          rule: spec.ruleName,
          correlationKey: spec.correlationKey,
        },
      },
    ],
    attached: [],
    services: new Set(),
  });
  return id;
}

/** Writes one incident's batch of changes; false when there was nothing to write. */
async function flushIncident(scope: StoreScope, entry: IncidentWork, now: number): Promise<boolean> {
  const id = entry.row.id;
  if (entry.created) await scope.incidents.insert(entry.row);
  const fresh = await scope.incidents.attachSignals(id, entry.attached, now);
  const current = { ...entry.row, ...entry.values };
  if (fresh.length > 0) {
    const services = [...new Set([...(JSON.parse(current.services) as string[]), ...entry.services])].sort();
    await scope.incidents.addServices(id, services);
    entry.values.services = JSON.stringify(services);
    entry.values.signal_count = current.signal_count + fresh.length;
    if (current.signals_resolved_at !== null && !entry.created) {
      entry.values.signals_resolved_at = null;
      entry.events.push({
        type: 'signals_refiring',
        principal: 'system',
        at: now,
        data: { signalIds: fresh },
      });
    }
    // One event per batch, not per signal: a storm must not flood the timeline.
    entry.events.splice(entry.created ? 1 : 0, 0, {
      type: 'signal_attached',
      principal: 'system',
      at: now,
      data: { signalIds: fresh, count: fresh.length },
    });
  }
  if (entry.events.length === 0 && Object.keys(entry.values).length === 0) return false;
  const chain = await scope.incidents.appendEvents({ ...entry.row, ...entry.values }, entry.events);
  if (entry.values.active_key === null || entry.values.status === 'CLOSED') {
    await scope.detections.closeCandidatesOfIncident(id);
  }
  await scope.incidents.update(id, {
    ...entry.values,
    last_event_seq: chain.lastSeq,
    last_event_hash: chain.lastHash,
    updated_at: now,
  });
  return true;
}
