import type { IncidentSeverity, Severity } from '../domain/common.js';
import { newId, SEVERITY_RANK } from '../domain/common.js';
import type { JoinReason } from '../domain/incident.js';
import type { CandidateRow, DetectionRow } from '../store/repositories/detections.js';
import type { SignalRow } from '../store/repositories/signals.js';
import type { StoreScope } from '../store/store.js';
import { type CompiledRuleSet, groupKey, groupValues, renderTitle, sustainedFor } from './rules.js';
import {
  type DependencyGraph,
  type GraphPath,
  namedDependencies,
  neighbourhood,
  siblingsOf,
} from './topology.js';

export interface CorrelationContext {
  now: number;
  rules: CompiledRuleSet;
  /** The dependency graph the topology rule walks; absent, topology joins are off. */
  graph: DependencyGraph | undefined;
}

interface Hit {
  signal: SignalRow;
  rule: CompiledRuleSet['threshold'][number];
  values: Record<string, string>;
  key: string;
  openKey: string;
}

export function asMatchable(row: SignalRow) {
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

/** The dependencies a signal's route labels name (src/detect/topology.ts namedDependencies). */
function routeOf(
  graph: DependencyGraph | undefined,
  signal: SignalRow,
  labels: Record<string, string> = JSON.parse(signal.labels) as Record<string, string>,
): string[] {
  return graph ? namedDependencies(graph, signal.service, labels) : [];
}

/** The loaded incident `signal` joins by topology (IncidentTarget.topologyTarget), with its route and severity. */
function topologyTargetOf(
  incidents: IncidentTarget,
  graph: DependencyGraph | undefined,
  signal: SignalRow,
  matchable: ReturnType<typeof asMatchable> = asMatchable(signal),
): { id: string; path: GraphPath } | undefined {
  return incidents.topologyTarget(
    signal.service,
    signal.environment,
    signal.starts_at,
    routeOf(graph, signal, matchable.labels),
    matchable.severity,
  );
}

/** A signal joining an incident: what it contributes and why it is there. */
export interface Attachment {
  service: string;
  at: number;
  severity: Severity;
  title: string;
  reason: JoinReason;
}

/** An incident correlation opens. */
export interface NewIncident {
  title: string;
  severity: IncidentSeverity;
  correlationKey: string;
  environment: string | null;
  rule: { id: string; name: string };
  startedAt: number;
}

/**
 * The incidents of one batch, as correlation sees them: it loads and asks, then decides what opens,
 * what joins where and what escalates. src/incidents/batch.ts (IncidentBatch) keeps these decisions and
 * writes them, so correlation never depends on how an incident is stored.
 */
export interface IncidentTarget {
  /** Loads incidents by id (locked on PostgreSQL), skipping those already loaded. */
  load(ids: readonly string[]): Promise<void>;
  /** Learns which correlation keys have an active incident, loading those incidents. */
  loadActive(keys: readonly string[]): Promise<void>;
  /** Loads the active incidents of an environment that hold any of `services` and are still in window. */
  loadNear(environment: string, services: readonly string[], since: number): Promise<void>;
  /** The active incident for a correlation key, if any. */
  activeFor(key: string): string | undefined;
  /**
   * The loaded incident a signal on `service` joins by topology, with the path that connects them;
   * `via`, the dependencies its route labels name (namedDependencies), when it has any; `severity`,
   * the signal's, without which it never joins as an origin sibling (originSiblingPath).
   */
  topologyTarget(
    service: string,
    environment: string,
    at: number,
    via?: readonly string[],
    severity?: Severity,
  ): { id: string; path: GraphPath } | undefined;
  /** Re-opens the incident that most recently resolved for this key, if within the grace window. */
  reopen(key: string): Promise<string | undefined>;
  /** Opens an incident; returns its id. */
  create(spec: NewIncident): string;
  /** Raises an incident's severity to at least `severity`. */
  escalate(id: string, severity: IncidentSeverity, ruleName: string): void;
  /** Links a signal to an incident. */
  join(id: string, signalId: string, attachment: Attachment): void;
  /** A loaded incident's environment, start and services (those joining in this batch included). */
  describe(id: string): { environment: string | null; startedAt: number; services: readonly string[] };
}
/**
 * Correlates new firing signals into incidents, inside the caller's transaction. First the topology
 * rule: a signal joins an open incident of its environment when its service is near the incident's
 * in the dependency graph (src/detect/topology.ts). The rest go through the threshold rules: a
 * detection per match, grouped into a candidate per (rule, group), and an incident once a candidate
 * meets its threshold or its key already has an active one; an incident about to open joins a nearby
 * one instead when the topology rule allows. Returns the incidents each signal joined.
 */
export async function correlate(
  scope: StoreScope,
  signals: readonly SignalRow[],
  context: CorrelationContext,
  incidents: IncidentTarget,
): Promise<Map<string, string[]>> {
  const joined = new Map<string, string[]>();
  if (signals.length === 0) return joined;
  const link = (incidentId: string, signal: SignalRow, reason: Attachment['reason']) => {
    incidents.join(incidentId, signal.id, {
      service: signal.service,
      at: signal.starts_at,
      severity: signal.severity as Severity,
      title: signal.title,
      reason,
    });
    const list = joined.get(signal.id) ?? [];
    if (!list.includes(incidentId)) list.push(incidentId);
    joined.set(signal.id, list);
  };

  const consumed = await joinByTopology(signals, context, incidents, link);
  const remaining = signals.filter((signal) => !consumed.has(signal.id));
  if (remaining.length === 0) return joined;
  const created = await correlateByThreshold(scope, remaining, context, incidents, link);
  created.push(...(await openCascades(scope, remaining, joined, context, incidents, link)));
  await adoptStrays(scope, created, joined, context, incidents, link);
  return joined;
}

/** Rounds of adoptStrays per incident: each may bring the next hop's strays within reach. */
const MAX_STRAY_ROUNDS = 4;

/** Signals by environment, each list in the order given: signals of different environments never meet. */
function byEnvironment(signals: readonly SignalRow[]): Map<string, SignalRow[]> {
  const out = new Map<string, SignalRow[]>();
  for (const signal of signals) out.set(signal.environment, [...(out.get(signal.environment) ?? []), signal]);
  return out;
}

type Link = (incidentId: string, signal: SignalRow, reason: Attachment['reason']) => void;

/**
 * The threshold rules' pass over the signals no topology join took: a detection per match, grouped
 * into a candidate per (rule, group), and an incident once a candidate meets its threshold or its key
 * already has an active one. Returns the incidents it opened.
 */
async function correlateByThreshold(
  scope: StoreScope,
  remaining: readonly SignalRow[],
  context: CorrelationContext,
  incidents: IncidentTarget,
  link: Link,
): Promise<string[]> {
  const { now } = context;
  const opened: string[] = [];
  if (context.rules.threshold.length === 0) return opened;

  const hits: Hit[] = [];
  for (const signal of remaining) {
    const matchable = asMatchable(signal);
    for (const compiled of context.rules.threshold) {
      if (!compiled.matches(matchable) || !sustainedFor(compiled.rule, signal, now)) continue;
      const values = groupValues(compiled.rule, matchable);
      const key = groupKey(values);
      hits.push({ signal, rule: compiled, values, key, openKey: `${compiled.rule.id}|${key}` });
    }
  }
  if (hits.length === 0) return opened;

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
  const batchSignals = new Map(remaining.map((signal) => [signal.id, signal]));
  const signalsOf = async (ids: readonly string[]): Promise<SignalRow[]> => {
    const missing = ids.filter((id) => !batchSignals.has(id));
    if (missing.length > 0)
      for (const row of await scope.signals.getRows(missing)) batchSignals.set(row.id, row);
    return ids.flatMap((id) => batchSignals.get(id) ?? []);
  };

  for (const entry of touched.values()) {
    const { candidate } = entry;
    const rule = entry.hits[0]!.rule.rule;
    const reason = { kind: 'rule' as const, rule: rule.name };
    if (candidate.status === 'promoted' && candidate.incident_id) {
      for (const detection of entry.fresh)
        link(candidate.incident_id, batchSignals.get(detection.signal_id)!, reason);
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
    const memberSignals = (await signalsOf([...members.keys()])).sort(
      (a, b) => a.starts_at - b.starts_at || a.id.localeCompare(b.id),
    );
    let memberReason: Attachment['reason'] = reason;
    if (!incidentId && context.rules.topology) {
      // An incident about to open joins a nearby open one instead: an earlier candidate of this batch
      // may have opened it, or its members' services may only now be near one.
      for (const member of memberSignals) {
        const target = topologyTargetOf(incidents, context.graph, member);
        if (!target) continue;
        incidentId = target.id;
        memberReason = { kind: 'topology', rule: context.rules.topology.rule.name, ...target.path };
        break;
      }
    }
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
      opened.push(incidentId);
    } else if (measured >= rule.threshold.value) {
      incidents.escalate(incidentId, rule.severity, rule.name);
    }
    candidate.status = 'promoted';
    candidate.incident_id = incidentId;
    for (const detection of entry.fresh) detection.incident_id = incidentId;
    if (!createdCandidates.has(candidate.id)) promotedEarlier.push({ candidateId: candidate.id, incidentId });
    for (const member of memberSignals) link(incidentId, member, memberReason);
  }

  await scope.detections.writeCandidates([...changedCandidates.values()], [...createdCandidates.values()]);
  await scope.detections.insertDetections(detectionRows);
  // Detections stored by earlier batches learn their incident when their candidate is promoted.
  for (const { candidateId, incidentId } of promotedEarlier)
    await scope.detections.setDetectionIncident(candidateId, incidentId);
  return opened;
}

/**
 * The topology rule's own opening (its `opens`, cascadeOpeningSchema): this batch's signals that joined
 * nothing and are at least `minSeverity`, with the stored firing signals no incident holds that are, on
 * their services and the services directly calling or called by them, started within the rule's window
 * before. Services with such signals that call one another directly form a cascade; one of at least
 * `services` services, with a signal of this batch, opens an incident (or joins the active one of its
 * first service's key): a lone error on each of a database and its caller meets no per-service
 * threshold, but together they are an outage. Returns the incidents it opened.
 */
async function openCascades(
  scope: StoreScope,
  remaining: readonly SignalRow[],
  joined: ReadonlyMap<string, string[]>,
  context: CorrelationContext,
  incidents: IncidentTarget,
  link: Link,
): Promise<string[]> {
  const opened: string[] = [];
  const topology = context.rules.topology;
  const opens = topology?.rule.opens;
  if (!topology || !opens || !context.graph) return opened;
  const { graph } = context;
  const minimum = SEVERITY_RANK[opens.minSeverity];
  const qualifies = (signal: SignalRow) =>
    !joined.has(signal.id) &&
    signal.status === 'firing' &&
    SEVERITY_RANK[signal.severity as Severity] >= minimum &&
    topology.matches(asMatchable(signal));
  // A service with no edge in the graph has no caller or dependency to cascade with: no look-up.
  const fresh = remaining.filter(
    (signal) => qualifies(signal) && neighbourhood(graph, signal.service, 1).size > 1,
  );
  for (const [environment, list] of byEnvironment(fresh)) {
    const near = new Set<string>();
    for (const signal of list)
      for (const service of neighbourhood(graph, signal.service, 1)) near.add(service);
    const since = Math.min(...list.map((signal) => signal.starts_at)) - topology.rule.windowSeconds * 1000;
    const pool = new Map(list.map((signal) => [signal.id, signal]));
    for (const signal of await scope.signals.unheldFiring(environment, [...near], since))
      if (!pool.has(signal.id) && qualifies(signal)) pool.set(signal.id, signal);
    const byService = new Map<string, SignalRow[]>();
    for (const signal of pool.values())
      byService.set(signal.service, [...(byService.get(signal.service) ?? []), signal]);
    const freshIds = new Set(list.map((signal) => signal.id));
    const seen = new Set<string>();
    for (const start of [...byService.keys()].sort()) {
      if (seen.has(start)) continue;
      // The services with signals that call one another directly, from this one.
      const component = [start];
      seen.add(start);
      for (let index = 0; index < component.length; index += 1)
        for (const next of neighbourhood(graph, component[index]!, 1))
          if (byService.has(next) && !seen.has(next)) {
            seen.add(next);
            component.push(next);
          }
      const members = component
        .flatMap((service) => byService.get(service)!)
        .sort((a, b) => a.starts_at - b.starts_at || a.id.localeCompare(b.id));
      if (component.length < opens.services || !members.some((signal) => freshIds.has(signal.id))) continue;
      const first = members[0]!;
      const key = groupKey({ environment, service: first.service });
      await incidents.loadActive([key]);
      let incidentId = incidents.activeFor(key);
      if (!incidentId) {
        incidentId = incidents.create({
          title: `${first.service}: ${first.title}`.slice(0, 500),
          severity: opens.severity,
          correlationKey: key,
          environment,
          rule: topology.rule,
          startedAt: first.starts_at,
        });
        opened.push(incidentId);
      }
      for (const member of members) link(incidentId, member, { kind: 'rule', rule: topology.rule.name });
    }
  }
  return opened;
}

/**
 * Signals that fired before an incident opened and joined nothing, because on their own they met no
 * threshold (a lone error on the service that fails first, a warning on its caller), join the incidents
 * this batch opened when the topology rule would have joined them had the incident been open already:
 * same environment, within the rule's hops of the incident's services and its window before the start,
 * and still firing. Without this, the origin's early alert stays outside the incident its callers open.
 */
async function adoptStrays(
  scope: StoreScope,
  opened: readonly string[],
  joined: ReadonlyMap<string, string[]>,
  context: CorrelationContext,
  incidents: IncidentTarget,
  link: Link,
): Promise<void> {
  const topology = context.rules.topology;
  if (!topology || !context.graph || opened.length === 0) return;
  const { graph } = context;
  const { hops, windowSeconds, name } = topology.rule;
  const targets = new Set(opened);
  for (const id of opened) {
    // Each stray that joins brings its own neighbourhood within reach: look again until none joins.
    for (let round = 0; round < MAX_STRAY_ROUNDS; round += 1) {
      const incident = incidents.describe(id);
      if (incident.environment === null) break;
      const near = new Set<string>();
      for (const service of incident.services)
        for (const neighbour of neighbourhood(graph, service, hops)) near.add(neighbour);
      const strays = await scope.signals.unheldFiring(
        incident.environment,
        [...near],
        incident.startedAt - windowSeconds * 1000,
      );
      let adopted = 0;
      for (const signal of strays) {
        if (joined.has(signal.id)) continue;
        const matchable = asMatchable(signal);
        if (!topology.matches(matchable)) continue;
        const target = topologyTargetOf(incidents, graph, signal, matchable);
        if (!target || !targets.has(target.id)) continue;
        link(target.id, signal, { kind: 'topology', rule: name, ...target.path });
        adopted += 1;
      }
      if (adopted === 0) break;
    }
  }
}

/**
 * The topology rule's pass: each matching signal, oldest first, joins the open incident nearest to
 * its service (IncidentTarget.topologyTarget, src/incidents/batch.ts). A critical signal that joins this way still
 * raises the incident's severity as the threshold rules that need only one signal would.
 */
async function joinByTopology(
  signals: readonly SignalRow[],
  context: CorrelationContext,
  incidents: IncidentTarget,
  link: (incidentId: string, signal: SignalRow, reason: Attachment['reason']) => void,
): Promise<Set<string>> {
  const consumed = new Set<string>();
  const topology = context.rules.topology;
  if (!topology || !context.graph) return consumed;
  const { graph } = context;
  const { hops, windowSeconds, name } = topology.rule;
  const eligible = signals
    .filter((signal) => topology.matches(asMatchable(signal)))
    .sort((a, b) => a.starts_at - b.starts_at || a.id.localeCompare(b.id));
  if (eligible.length === 0) return consumed;
  for (const [environment, list] of byEnvironment(eligible)) {
    const near = new Set<string>();
    for (const signal of list) {
      for (const service of neighbourhood(graph, signal.service, hops)) near.add(service);
      // Incidents whose origin may share a silent dependency with it (originSiblingPath).
      for (const service of siblingsOf(graph, signal.service)) near.add(service);
    }
    await incidents.loadNear(environment, [...near], list[0]!.starts_at - windowSeconds * 1000);
  }
  const single = context.rules.threshold.filter(
    (compiled) => compiled.rule.threshold.kind === 'count' && compiled.rule.threshold.value === 1,
  );
  for (const signal of eligible) {
    const matchable = asMatchable(signal);
    const target = topologyTargetOf(incidents, graph, signal, matchable);
    if (!target) continue;
    link(target.id, signal, { kind: 'topology', rule: name, ...target.path });
    consumed.add(signal.id);
    for (const compiled of single)
      if (compiled.matches(matchable) && sustainedFor(compiled.rule, signal, context.now))
        incidents.escalate(target.id, compiled.rule.severity, compiled.rule.name);
  }
  return consumed;
}
