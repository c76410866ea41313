import type { Change } from '../../domain/change.js';
import {
  INCIDENT_SEVERITIES,
  type IncidentSeverity,
  SEVERITY_RANK,
  type Severity,
} from '../../domain/common.js';
import type { EvidenceBundle } from '../../domain/evidence.js';
import { serviceEvidenceId } from '../../domain/evidence-id.js';
import type { Claim, FindingOf } from '../../domain/finding.js';
import { DETERMINISTIC_ENGINE, onsetOf } from '../evidence.js';
import { isProxy, servicesBehind } from './proxy.js';
import {
  ANOMALY_Z,
  assessSeries,
  CORROBORATION_Z,
  signalEvidence,
  successRatio,
} from './signal-intelligence.js';

export interface BlastRadius {
  /** Symptoms and the unhealthy services traced from them, in onset order. */
  unhealthy: string[];
  /** Origin candidates, most probable first (see traceOrigins). */
  origins: string[];
  /** Callers (transitively) of unhealthy services: affected without alerting themselves. */
  impacted: string[];
  customerFacing: string[];
  highestTier: number | null;
  recommendedSeverity: IncidentSeverity;
}

export interface TracedService {
  service: string;
  /** 0..1: an unmeasured alert 1; measured, min(1, score / SATURATION_Z). */
  strength: number;
  /** Weakest strength on the best path of unhealthy services from a symptom to it (0..1). */
  trace: number;
  /** How many of its direct callers are symptoms or unhealthy. */
  explains: number;
  /** trace × (1 + explains) × (1 + log10(score / ANOMALY_Z)); the last factor is 1 when unmeasured. */
  weight: number;
  /** Its strongest datapoint score, or null when its evidence is unmeasured alerts. */
  score: number | null;
  onsetAt: number;
  /** No unhealthy service it depends on (transitively) is at least as strongly anomalous. */
  origin: boolean;
  signalId: string;
  /** A load balancer or proxy in front of it showed its fault more sharply (see attributeProxies). */
  behind?: { proxy: string; score: number | null };
}

/** Direction and size of a service's largest deviation in its own series, or null when none can be scored. */
function deviationOf(
  bundle: EvidenceBundle,
  service: string,
): { score: number; worse: boolean; signalId: string; onsetAt: number } | null {
  let best: { score: number; worse: boolean; signalId: string; onsetAt: number } | null = null;
  for (const signal of bundle.signals) {
    if (signal.service !== service || signal.status !== 'firing') continue;
    const assessed = assessSeries(signal);
    if (!assessed || (best && assessed.score <= best.score)) continue;
    // Worse, whichever way that is for the metric: a success ratio fails downwards, the rest upwards.
    const up = assessed.value > assessed.reference;
    best = {
      score: assessed.score,
      worse: successRatio(signal) ? !up : up,
      signalId: signal.id,
      onsetAt: assessed.onsetAt ?? signal.startsAt,
    };
  }
  return best;
}

/**
 * A proxy's anomaly is the service behind it seen more sharply (src/investigate/agents/proxy.ts): when a
 * traced origin is a load balancer or proxy and a service behind it deviates the same way in its own
 * series, at least CORROBORATION_Z, that service is the origin and the proxy is not. A service behind
 * it that was not traced (its deviation alone is faint) joins the candidates with the proxy's trace
 * and strength, marked `behind`, so the answer says how it was reached.
 */
function attributeProxies(
  bundle: EvidenceBundle,
  traced: TracedService[],
  dependsOn: ReadonlyMap<string, readonly string[]>,
  callers: ReadonlyMap<string, readonly string[]>,
): void {
  const types = new Map(bundle.services.map((service) => [service.name, service.type ?? null]));
  for (const proxy of [...traced]) {
    if (!proxy.origin || !isProxy(proxy.service, types.get(proxy.service))) continue;
    const own = deviationOf(bundle, proxy.service);
    const backends = servicesBehind(proxy.service, dependsOn, callers)
      .map((service) => ({ service, deviation: deviationOf(bundle, service) }))
      .filter(
        (entry) =>
          entry.deviation !== null &&
          entry.deviation.score >= CORROBORATION_Z &&
          (own === null || entry.deviation.worse === own.worse),
      )
      .sort((a, b) => b.deviation!.score - a.deviation!.score || a.service.localeCompare(b.service));
    const backend = backends[0];
    if (!backend) continue;
    proxy.origin = false;
    const behind = { proxy: proxy.service, score: proxy.score };
    const existing = traced.find((entry) => entry.service === backend.service);
    if (existing) {
      // Something it depends on may be more anomalous still: then that stays the origin.
      if (existing.origin) {
        existing.behind = behind;
        existing.weight = Math.max(existing.weight, proxy.weight);
      }
      continue;
    }
    const deviation = backend.deviation!;
    traced.push({
      service: backend.service,
      strength: proxy.strength,
      trace: proxy.trace,
      explains: proxy.explains,
      weight: proxy.weight,
      score: deviation.score,
      onsetAt: deviation.onsetAt,
      origin: true,
      signalId: deviation.signalId,
      behind,
    });
  }
}

interface ServiceHealth {
  service: string;
  strength: number;
  score: number | null;
  onsetAt: number;
  signalId: string;
  symptom: boolean;
  /** The most severe of its alerts that count (SEVERITY_RANK). */
  level: number;
}

/**
 * A resolved alert still counts as its service's health when it is an error or worse and was firing
 * when the first alert still firing started: a fault that cleared at the origin (a 43-second
 * partition) while the damage it set off goes on. One that started after the symptoms, or had ended
 * before they began, is another matter.
 */
function causeThatCleared(
  signal: EvidenceBundle['signals'][number],
  firstFiring: number | undefined,
): boolean {
  return (
    signal.status === 'resolved' &&
    firstFiring !== undefined &&
    signal.startsAt <= firstFiring &&
    (signal.endsAt === null || signal.endsAt >= firstFiring) &&
    (signal.severity === 'error' || signal.severity === 'critical')
  );
}

/**
 * Health per service from its firing signals and its causes that cleared (causeThatCleared), read by
 * signal-intelligence's signalEvidence: unhealthy when a signal's datapoints show an anomaly, or an
 * alert has no datapoints to judge by; a symptom when an alert fires and its datapoints, if any, do
 * not contradict it.
 */
function serviceHealth(bundle: EvidenceBundle): Map<string, ServiceHealth> {
  const health = new Map<string, ServiceHealth>();
  const ordered = [...bundle.signals].sort((a, b) => a.startsAt - b.startsAt || a.id.localeCompare(b.id));
  const firstFiring = ordered.find(
    (signal) => signal.status === 'firing' && signal.severity !== 'info',
  )?.startsAt;
  for (const signal of ordered) {
    if (signal.status !== 'firing' && !causeThatCleared(signal, firstFiring)) continue;
    const evidence = signalEvidence(signal);
    const symptom = evidence.alert && evidence.state !== 'normal';
    const strength =
      evidence.state === 'anomalous' || (evidence.alert && evidence.state === 'unmeasured')
        ? evidence.strength
        : 0;
    if (!symptom && strength === 0) continue;
    const level = SEVERITY_RANK[signal.severity as Severity] ?? 0;
    const current = health.get(signal.service);
    if (!current) {
      health.set(signal.service, {
        service: signal.service,
        strength,
        score: strength > 0 ? evidence.score : null,
        onsetAt: evidence.onsetAt,
        signalId: signal.id,
        symptom,
        level,
      });
      continue;
    }
    current.symptom ||= symptom;
    current.level = Math.max(current.level, level);
    current.onsetAt = Math.min(current.onsetAt, evidence.onsetAt);
    const stronger =
      strength > current.strength ||
      (strength === current.strength &&
        strength > 0 &&
        (evidence.score ?? Number.POSITIVE_INFINITY) > (current.score ?? Number.POSITIVE_INFINITY));
    if (stronger) {
      current.strength = strength;
      current.score = evidence.score;
      current.signalId = signal.id;
    }
  }
  return health;
}

/**
 * Whether an unhealthy service below `above` takes the origin from it: it is at least as strongly
 * anomalous, unless it is judged by alerts alone (no datapoints) and its alerts are less severe than
 * those of `above`. A noise warning on a database below a gateway's critical alert is not the cause
 * of it, as correlation's origin does not move to a warning either (src/detect/topology.ts nextOrigin).
 */
function outranks(below: ServiceHealth, above: ServiceHealth): boolean {
  if (below.strength < above.strength) return false;
  return !(below.score === null && below.level < above.level);
}

/**
 * Traces the fault from the symptoms down the dependency graph (a deterministic heuristic,
 * docs/agents.md). Faults flow from a dependency to its callers, so from each symptom (an alert its own
 * datapoints do not contradict) the walk follows dependencies that are unhealthy; what it reaches is
 * relevant. A relevant unhealthy service is an origin candidate when nothing it depends on
 * (transitively) is relevant and outranks it (outranks): the deepest strong anomaly.
 * Ranked: origins first, then by weight = trace (the weakest link between the symptom and the
 * candidate) × (1 + the unhealthy services it explains) × (1 + log10(its score / ANOMALY_Z)); ties by
 * trace, explains, score, onset, name.
 */
export function traceOrigins(bundle: EvidenceBundle): TracedService[] {
  const dependsOn = new Map<string, string[]>();
  const callers = new Map<string, string[]>();
  for (const service of bundle.services) {
    dependsOn.set(service.name, service.dependsOn);
    for (const target of service.dependsOn)
      callers.set(target, [...(callers.get(target) ?? []), service.name]);
  }
  const health = serviceHealth(bundle);
  const unhealthy = (name: string) => (health.get(name)?.strength ?? 0) > 0;
  let symptoms = [...health.values()].filter((entry) => entry.symptom).map((entry) => entry.service);
  // Observations alone (no alert at all): every anomaly is a symptom. Alerts whose datapoints
  // contradict them leave no symptom, so nothing is traced.
  const alerting = bundle.signals.some((signal) => signal.status === 'firing' && signal.severity !== 'info');
  if (symptoms.length === 0 && !alerting)
    symptoms = [...health.values()].filter((entry) => entry.strength > 0).map((entry) => entry.service);
  const symptomSet = new Set(symptoms);

  // Best bottleneck from any symptom: a symptom starts a path at 1 (the alert is given), and each
  // unhealthy dependency on the path caps it at its own strength. A symptom's own trace is its strength.
  const trace = new Map<string, number>();
  for (const symptom of symptoms) if (unhealthy(symptom)) trace.set(symptom, health.get(symptom)!.strength);
  const carried = (name: string) => (symptomSet.has(name) ? 1 : (trace.get(name) ?? 0));
  const frontier = [...symptoms];
  while (frontier.length > 0) {
    frontier.sort((a, b) => carried(b) - carried(a) || a.localeCompare(b));
    const service = frontier.shift()!;
    for (const dependency of dependsOn.get(service) ?? []) {
      if (!unhealthy(dependency) || symptomSet.has(dependency)) continue;
      const through = Math.min(carried(service), health.get(dependency)!.strength);
      if (through <= (trace.get(dependency) ?? -1)) continue;
      trace.set(dependency, through);
      frontier.push(dependency);
    }
  }
  const relevant = new Set(trace.keys());

  const reaches = (start: string, next: Map<string, string[]>, through: (name: string) => boolean) => {
    const seen = new Set<string>();
    const stack = [...(next.get(start) ?? [])];
    while (stack.length > 0) {
      const name = stack.pop()!;
      if (seen.has(name) || name === start) continue;
      seen.add(name);
      if (through(name)) stack.push(...(next.get(name) ?? []));
    }
    return seen;
  };
  // What a candidate explains: its direct callers that are symptoms or unhealthy (related to the walk
  // or not). Independent callers that see the fault corroborate it; a chain of wrappers above it
  // (function → code → runtime) is one caller, not three.
  const involved = (name: string) => unhealthy(name) || symptomSet.has(name);
  const traced = [...relevant].map((service): TracedService => {
    const entry = health.get(service)!;
    const below = reaches(service, dependsOn, () => true);
    const origin = ![...below].some((name) => relevant.has(name) && outranks(health.get(name)!, entry));
    const explains = new Set(
      (callers.get(service) ?? []).filter((name) => name !== service && involved(name)),
    ).size;
    const traceValue = Math.round(trace.get(service)! * 10_000) / 10_000;
    const magnitude = entry.score === null ? 1 : 1 + Math.log10(Math.max(1, entry.score / ANOMALY_Z));
    return {
      service,
      strength: entry.strength,
      trace: traceValue,
      explains,
      weight: Math.round(traceValue * (1 + explains) * magnitude * 10_000) / 10_000,
      score: entry.score,
      onsetAt: entry.onsetAt,
      origin,
      signalId: entry.signalId,
    };
  });
  attributeProxies(bundle, traced, dependsOn, callers);
  return traced.sort(
    (a, b) =>
      Number(b.origin) - Number(a.origin) ||
      b.weight - a.weight ||
      b.trace - a.trace ||
      b.explains - a.explains ||
      (b.score ?? 0) - (a.score ?? 0) ||
      a.onsetAt - b.onsetAt ||
      a.service.localeCompare(b.service),
  );
}

/** Hop distance to every service reachable from `start` along `next` (start itself excluded). */
export function reachable(start: string, next: ReadonlyMap<string, readonly string[]>): Map<string, number> {
  const distance = new Map<string, number>();
  let frontier = [start];
  for (let hops = 1; frontier.length > 0; hops += 1) {
    const following: string[] = [];
    for (const name of frontier) {
      for (const target of next.get(name) ?? []) {
        if (target === start || distance.has(target)) continue;
        distance.set(target, hops);
        following.push(target);
      }
    }
    frontier = following;
  }
  return distance;
}

/** The bundle's dependency graph both ways: what each service depends on, and who calls it. */
export function topologyOf(bundle: EvidenceBundle): {
  dependsOn: Map<string, string[]>;
  callers: Map<string, string[]>;
} {
  const dependsOn = new Map<string, string[]>();
  const callers = new Map<string, string[]>();
  for (const service of bundle.services) {
    dependsOn.set(service.name, service.dependsOn);
    for (const target of service.dependsOn)
      callers.set(target, [...(callers.get(target) ?? []), service.name]);
  }
  return { dependsOn, callers };
}

/** How long before the onset a change on a silent common dependency may be to make it the origin. */
export const INFERRED_ORIGIN_WINDOW_MINUTES = 120;
/**
 * How long before the onset a change beside the outage (basis `neighbour-change`) may be: it reaches
 * the symptoms only through another service, so only a change right before the onset is evidence.
 */
export const NEIGHBOUR_CHANGE_WINDOW_MINUTES = 15;

/**
 * Why an origin that never alerted is inferred: a change on it (`change`); a change on a silent service
 * beside the outage that calls it, which reaches the symptoms only through it (`neighbour-change`); or
 * no change at all, only that it is what separate failing services share (`shared`).
 */
export type InferredBasis = 'change' | 'neighbour-change' | 'shared';

/** An origin that never alerted, inferred from the services that depend on it (and a change, if any). */
export interface InferredOrigin {
  service: string;
  basis: InferredBasis;
  /** The change the inference rests on (the most recent one within the window); null for `shared`. */
  changeId: string | null;
  kind: Change['kind'] | null;
  summary: string | null;
  minutesBeforeOnset: number | null;
  /** The service the change is on: the origin itself, or for `neighbour-change` its silent caller. */
  changedService: string | null;
  /** The alerting services, in onset order: every one depends on the origin, directly or through others. */
  dependents: string[];
  /** The deepest services of the trace (none depends on another): what the origin explains together. */
  roots: string[];
}

/**
 * Origins that never alerted (a deterministic heuristic, docs/agents.md). A service with no firing
 * alert of its own (silent) is the inferred origin when an alert above `warning` fires (warnings alone
 * are the usual shape of noise), every alerting service (and every unhealthy service traced from them)
 * depends on it, directly or transitively, in the bundle's topology, and one of these holds:
 * - `change`: a change on it (not a rollback) started before the onset, at most
 *   INFERRED_ORIGIN_WINDOW_MINUTES earlier, and no alerting service explains the others better: the
 *   deepest services of the trace (none of which depends on another) are at least two. One alerting
 *   dependency that every other alerting service depends on explains them, unless at least two other
 *   alerting services call the silent service directly (they could fail without that dependency: an
 *   agent on every host, a key every sign-in checks) and its change is more recent than any change on
 *   the alerting dependency. A lone alerting service keeps the answer (with or without a change of its
 *   own), its dependency's change is offered as a suspect.
 * - `neighbour-change`: no change on it, but one at most NEIGHBOUR_CHANGE_WINDOW_MINUTES before the
 *   onset on a silent service that calls it directly and that no alerting service depends on (a
 *   command filed against the billing subsystem that removed the index's servers), and at least two
 *   services alert: that change reaches the symptoms only through it. A lone alerting root keeps the
 *   answer when a change of its own is as recent.
 * - `shared`: no change on it or beside it, but the deepest services of the trace are at least two and
 *   not every one of them has a change of its own within the window: separate failures with nothing
 *   of their own to explain them, whose common dependency is silent (a host network under every dyno).
 * Several candidates: by basis in that order, then the most recent change, then the nearest to the
 * trace, then the name.
 */
export function inferOrigin(
  bundle: EvidenceBundle,
  traced: readonly TracedService[] = traceOrigins(bundle),
): InferredOrigin | null {
  const health = serviceHealth(bundle);
  const symptoms = [...health.values()]
    .filter((entry) => entry.symptom)
    .sort((a, b) => a.onsetAt - b.onsetAt || a.service.localeCompare(b.service))
    .map((entry) => entry.service);
  if (symptoms.length === 0) return null;
  const loud = bundle.signals.some(
    (signal) =>
      signal.status === 'firing' &&
      (signal.severity === 'error' || signal.severity === 'critical') &&
      signalEvidence(signal).state !== 'normal',
  );
  if (!loud) return null;
  const { dependsOn, callers } = topologyOf(bundle);
  const involved = new Set([...symptoms, ...traced.map((entry) => entry.service)]);
  const below = new Map([...involved].map((name) => [name, reachable(name, dependsOn)]));
  const roots = [...involved]
    .filter((name) => ![...below.get(name)!.keys()].some((dependency) => involved.has(dependency)))
    .sort();
  if (roots.length === 0) return null;
  // One deepest service that every other alerting service depends on explains them, unless the silent
  // service is also called directly by two other alerting services (see below).
  const loneRoot = roots.length === 1 ? roots[0]! : undefined;
  const onset = onsetOf(bundle);
  const precedes = (change: Change) => change.kind !== 'rollback' && change.startedAt <= onset;
  const withinWindow = (item: Change) =>
    precedes(item) && onset - item.startedAt <= INFERRED_ORIGIN_WINDOW_MINUTES * 60_000;
  const latestOn = (name: string) =>
    bundle.changes
      .filter((item) => item.service === name && withinWindow(item))
      .sort((a, b) => b.startedAt - a.startedAt || a.id.localeCompare(b.id))[0];
  const rootChange = loneRoot === undefined ? undefined : latestOn(loneRoot);
  // Silent: no firing alert of its own, and no datapoints of its own that look normal.
  const silent = (name: string) =>
    !bundle.signals.some(
      (signal) =>
        signal.service === name &&
        signal.status === 'firing' &&
        (signal.severity !== 'info' || signalEvidence(signal).state === 'normal'),
    );
  const inNeighbourhood = new Set(bundle.neighbourhood.map((entry) => entry.service));
  // A silent service beside the outage: it calls `name`, and no alerting service depends on it. Its
  // change counts when it is right before the onset and at least two services alert.
  const neighbourChange = (name: string) =>
    symptoms.length < 2
      ? undefined
      : (callers.get(name) ?? [])
          .filter(
            (caller) =>
              !involved.has(caller) &&
              silent(caller) &&
              ![...involved].some((service) => below.get(service)!.has(caller)),
          )
          .map(latestOn)
          .filter(
            (change): change is Change =>
              change !== undefined && onset - change.startedAt <= NEIGHBOUR_CHANGE_WINDOW_MINUTES * 60_000,
          )
          .sort((a, b) => b.startedAt - a.startedAt || a.id.localeCompare(b.id))[0];
  const rootsExplainThemselves = roots.every((root) => latestOn(root) !== undefined);
  const BASIS_ORDER: InferredBasis[] = ['change', 'neighbour-change', 'shared'];
  const candidates: {
    service: string;
    basis: InferredBasis;
    change: Change | undefined;
    distance: number;
  }[] = [];
  for (const name of below.get(roots[0]!)!.keys()) {
    if (involved.has(name) || !inNeighbourhood.has(name) || !silent(name)) continue;
    if (![...involved].every((service) => below.get(service)!.has(name))) continue;
    const distance = Math.min(...roots.map((root) => below.get(root)!.get(name)!));
    const own = latestOn(name);
    if (own) {
      if (loneRoot !== undefined) {
        // A lone alerting root stands between the silent service and its callers, unless they call it
        // directly as well; and a change on the root itself, as recent, explains its failure as well.
        const direct = [...involved].filter(
          (service) => service !== loneRoot && (dependsOn.get(service) ?? []).includes(name),
        );
        if (symptoms.length < 2 || direct.length < 2) continue;
        if (rootChange && rootChange.startedAt >= own.startedAt) continue;
      }
      candidates.push({ service: name, basis: 'change', change: own, distance });
      continue;
    }
    const beside = neighbourChange(name);
    if (beside) {
      if (rootChange && rootChange.startedAt >= beside.startedAt) continue;
      candidates.push({ service: name, basis: 'neighbour-change', change: beside, distance });
      continue;
    }
    if (loneRoot === undefined && !rootsExplainThemselves)
      candidates.push({ service: name, basis: 'shared', change: undefined, distance });
  }
  candidates.sort(
    (a, b) =>
      BASIS_ORDER.indexOf(a.basis) - BASIS_ORDER.indexOf(b.basis) ||
      (b.change?.startedAt ?? 0) - (a.change?.startedAt ?? 0) ||
      a.distance - b.distance ||
      a.service.localeCompare(b.service),
  );
  const best = candidates[0];
  if (!best) return null;
  const change = best.change;
  return {
    service: best.service,
    basis: best.basis,
    changeId: change?.id ?? null,
    kind: change?.kind ?? null,
    summary: change?.summary ?? null,
    minutesBeforeOnset: change ? Math.round(((onset - change.startedAt) / 60_000) * 10) / 10 : null,
    changedService: change?.service ?? null,
    dependents: symptoms,
    roots,
  };
}

/** The more severe of two incident severities (SEV1 is the most severe). */
export function moreSevere(left: IncidentSeverity, right: IncidentSeverity): IncidentSeverity {
  return INCIDENT_SEVERITIES.indexOf(left) <= INCIDENT_SEVERITIES.indexOf(right) ? left : right;
}

/**
 * The blast radius: symptoms, the services traced from them and an inferred origin are unhealthy; every
 * caller of an unhealthy service that is not unhealthy itself is impacted. Severity from the evidence:
 * SEV1 when a tier-1 customer-facing service is unhealthy or impacted and a critical alert fires; SEV2
 * when tier 1 is touched; SEV3 for tier 2, or whenever a critical alert fires; SEV4 otherwise. A
 * critical alert is one its own datapoints do not contradict. The recommended severity is the more
 * severe of that and the incident's recorded severity: OPX may ask to raise it, never to lower it.
 */
export function blastRadius(
  bundle: EvidenceBundle,
  traced: TracedService[] = traceOrigins(bundle),
  inferred: InferredOrigin | null = inferOrigin(bundle, traced),
): BlastRadius {
  const { callers } = topologyOf(bundle);
  const health = serviceHealth(bundle);
  const symptoms = [...health.values()].filter((entry) => entry.symptom).map((entry) => entry.service);
  const unhealthySet = new Set([...symptoms, ...traced.map((entry) => entry.service)]);
  // A service reached through its proxy has no health entry of its own: its traced onset stands in.
  const onsetOf = (name: string) =>
    health.get(name)?.onsetAt ?? traced.find((entry) => entry.service === name)!.onsetAt;
  const unhealthy = [...unhealthySet].sort((a, b) => onsetOf(a) - onsetOf(b) || a.localeCompare(b));
  const origins = traced.filter((entry) => entry.origin).map((entry) => entry.service);
  if (inferred) {
    unhealthy.unshift(inferred.service);
    unhealthySet.add(inferred.service);
    origins.unshift(inferred.service);
  }

  const impacted = new Set<string>();
  const queue = [...unhealthy];
  while (queue.length > 0) {
    const service = queue.shift()!;
    for (const caller of callers.get(service) ?? []) {
      if (unhealthySet.has(caller) || impacted.has(caller)) continue;
      impacted.add(caller);
      queue.push(caller);
    }
  }

  const catalog = new Map(bundle.services.map((service) => [service.name, service]));
  const touched = [...unhealthy, ...impacted];
  const customerFacing = touched.filter((name) => catalog.get(name)?.customerFacing).sort();
  const tiers = touched
    .map((name) => catalog.get(name)?.tier)
    .filter((tier): tier is number => tier !== undefined);
  const highestTier = tiers.length > 0 ? Math.min(...tiers) : null;
  const recommendedSeverity = moreSevere(
    evidenceSeverity(bundle, customerFacing, highestTier),
    bundle.incident.severity,
  );
  return {
    unhealthy,
    origins,
    impacted: [...impacted].sort(),
    customerFacing,
    highestTier,
    recommendedSeverity,
  };
}

/** Severity from the evidence alone (see blastRadius). */
function evidenceSeverity(
  bundle: EvidenceBundle,
  customerFacing: readonly string[],
  highestTier: number | null,
): IncidentSeverity {
  const catalog = new Map(bundle.services.map((service) => [service.name, service]));
  // A critical alert is the source's own paging level: never below SEV3. One its datapoints contradict
  // is no evidence of anything.
  const critical = bundle.signals.some(
    (signal) =>
      signal.status === 'firing' &&
      signal.severity === 'critical' &&
      signalEvidence(signal).state !== 'normal',
  );
  const tierOneCustomerFacing = customerFacing.some((name) => catalog.get(name)?.tier === 1);
  if (tierOneCustomerFacing && critical) return 'SEV1';
  if (highestTier === 1) return 'SEV2';
  if (highestTier === 2 || critical) return 'SEV3';
  return 'SEV4';
}

/**
 * 0.8 × the top origin's share of the weight of the top two origins: 0.8 alone, 0.4 for two equal
 * ones. The long tail of weak candidates does not dilute a clear leader.
 */
export function originConfidence(traced: readonly Pick<TracedService, 'origin' | 'weight'>[]): number {
  const weights = traced.filter((entry) => entry.origin).map((entry) => entry.weight);
  const total = (weights[0] ?? 0) + (weights[1] ?? 0);
  if (total === 0) return 0;
  return Math.round(((0.8 * weights[0]!) / total) * 100) / 100;
}

/** Firing alerts outside this incident (bundle.neighbourSignals) on each of these services. */
export interface OutsideAlerts {
  service: string;
  signals: number;
  /** The incidents holding them; null for alerts no incident holds. */
  incidents: (string | null)[];
}

/**
 * Context from outside the incident: firing alerts in the neighbourhood that another incident holds, or
 * none does. Read only to say whether a service is unhealthy elsewhere too; never counted in the
 * answer, so two unrelated outages cannot merge their conclusions. Older bundles do not carry it.
 */
export function outsideAlerts(bundle: EvidenceBundle, services: readonly string[]): OutsideAlerts[] {
  const own = new Set(bundle.signals.map((signal) => signal.id));
  const wanted = new Set(services);
  const found = new Map<string, OutsideAlerts>();
  for (const { incidentId, signal } of bundle.neighbourSignals ?? []) {
    if (own.has(signal.id) || !wanted.has(signal.service)) continue;
    if (signal.status !== 'firing' || signal.severity === 'info') continue;
    const entry = found.get(signal.service) ?? { service: signal.service, signals: 0, incidents: [] };
    entry.signals += 1;
    if (!entry.incidents.includes(incidentId)) entry.incidents.push(incidentId);
    found.set(signal.service, entry);
  }
  return services.flatMap((name) => found.get(name) ?? []);
}

export function analyzeBlastRadius(bundle: EvidenceBundle): FindingOf<'risk-blast-radius'> {
  const traced = traceOrigins(bundle);
  const inferred = inferOrigin(bundle, traced);
  const radius = blastRadius(bundle, traced, inferred);
  const candidates: {
    service: string;
    origin: boolean;
    inferred: boolean;
    strength: number;
    trace: number;
    explains: number;
    weight: number;
    score: number | null;
  }[] = traced.map(({ service, strength, trace, explains, weight, score, origin }) => ({
    service,
    origin,
    inferred: false,
    strength,
    trace,
    explains,
    weight,
    score,
  }));
  if (inferred) {
    // The trace's weight formula with trace 1 and explains = the deepest services it explains (each an
    // independent observer of it), and never less than the traced candidates it explains together.
    const weight = Math.max(
      1 + inferred.roots.length,
      candidates.filter((entry) => entry.origin).reduce((sum, entry) => sum + entry.weight, 0),
    );
    candidates.unshift({
      service: inferred.service,
      origin: true,
      inferred: true,
      strength: 0,
      trace: 0,
      explains: inferred.roots.length,
      weight: Math.round(weight * 10_000) / 10_000,
      score: null,
    });
  }
  const severity = {
    recommended: radius.recommendedSeverity,
    evidence: evidenceSeverity(bundle, radius.customerFacing, radius.highestTier),
    recorded: bundle.incident.severity,
  };
  const inBundle = (id: string) =>
    bundle.neighbourhood.some((entry) => serviceEvidenceId(entry.service) === id);
  if (radius.origins.length === 0) {
    return {
      agent: 'risk-blast-radius',
      summary:
        radius.unhealthy.length === 0
          ? 'No service has a firing signal that its datapoints support; nothing to trace.'
          : `Alerts fire on ${radius.unhealthy.join(', ')}, but no service shows an anomaly to trace them to.`,
      claims: [],
      data: { ...radius, candidates, inferredOrigin: null, severity, outside: [] },
      confidence: 0,
      insufficientEvidence: true,
      engine: DETERMINISTIC_ENGINE,
      degraded: false,
    };
  }
  const origin = candidates[0]!.service;
  const top = traced[0];
  const firstSignal = [...bundle.signals].sort(
    (a, b) => a.startsAt - b.startsAt || a.id.localeCompare(b.id),
  )[0]!;
  // A single origin candidate is a clear answer; several mean the topology does not separate them.
  const confidence = originConfidence(candidates);
  const claims: Claim[] = [];
  if (inferred) {
    claims.push({
      text: inferredText(inferred),
      evidenceIds: [
        serviceEvidenceId(origin),
        ...(inferred.changeId === null ? [] : [inferred.changeId]),
        ...(inferred.changedService !== null &&
        inferred.changedService !== origin &&
        inBundle(serviceEvidenceId(inferred.changedService))
          ? [serviceEvidenceId(inferred.changedService)]
          : []),
        firstSignal.id,
        ...inferred.dependents.map(serviceEvidenceId).filter(inBundle).slice(0, 40),
      ],
      confidence,
    });
    claims.push({
      text: `Without it the alerts trace to separate origins that do not explain each other: ${inferred.roots.join(', ')}.`,
      evidenceIds: [
        serviceEvidenceId(origin),
        ...inferred.roots.map(serviceEvidenceId).filter(inBundle).slice(0, 40),
      ],
      confidence: Math.round(confidence * 0.8 * 100) / 100,
    });
  } else if (top) {
    const measured = top.score !== null;
    claims.push({
      text: top.behind
        ? `${origin} is behind ${top.behind.proxy}, a load balancer or proxy that shows its fault more sharply (score ${top.behind.score ?? 'unmeasured'}); ${origin}'s own series deviates the same way (score ${top.score}), so ${origin} is the probable origin and ${top.behind.proxy} its view.`
        : measured
          ? `${origin} is the deepest strong anomaly traced from the alerts (score ${top.score}, trace ${top.trace}, explains ${top.explains} other unhealthy service${top.explains === 1 ? '' : 's'}); nothing it depends on is as anomalous, so it is the probable origin${radius.origins.length > 1 ? ` (${radius.origins.length} candidates: ${radius.origins.slice(0, 5).join(', ')})` : ''}.`
          : radius.origins.length === 1
            ? `${origin} is the most-downstream unhealthy service: none of its dependencies is alerting, so it is the probable origin.`
            : `${radius.origins.length} unhealthy services have no unhealthy dependency (${radius.origins.join(', ')}); ${origin} alerted first.`,
      evidenceIds: [serviceEvidenceId(origin), top.signalId],
      confidence,
    });
  }
  if (radius.impacted.length > 0) {
    claims.push({
      text: `Upstream callers at risk: ${radius.impacted.join(', ')}.`,
      evidenceIds: radius.impacted
        .map(serviceEvidenceId)
        .filter(inBundle)
        .slice(0, 49)
        .concat(serviceEvidenceId(origin)),
      confidence: 0.7,
    });
  }
  if (radius.customerFacing.length > 0) {
    claims.push({
      text: `Customer-facing services affected: ${radius.customerFacing.join(', ')}; recommended severity ${radius.recommendedSeverity}.`,
      evidenceIds: radius.customerFacing
        .map(serviceEvidenceId)
        .filter(inBundle)
        .slice(0, 49)
        .concat(top?.signalId ?? firstSignal.id),
      confidence: 0.7,
    });
  }
  // Context from outside the incident: the origin and what it depends on, alerting elsewhere.
  const { dependsOn } = topologyOf(bundle);
  const outside = outsideAlerts(bundle, [origin, ...reachable(origin, dependsOn).keys()]);
  const onOrigin = outside.find((entry) => entry.service === origin);
  const below = outside.filter((entry) => entry.service !== origin);
  if (onOrigin && inBundle(serviceEvidenceId(origin))) {
    claims.push({
      text: `Context from outside this incident, not counted in the answer: ${origin} has firing alerts ${heldBy(onOrigin)}${inferred ? ', which fits it being the unhealthy origin' : ''}.`,
      evidenceIds: [serviceEvidenceId(origin)],
      confidence: 0.3,
    });
  }
  const belowIds = below.map((entry) => serviceEvidenceId(entry.service)).filter(inBundle);
  if (belowIds.length > 0) {
    claims.push({
      text: `Context from outside this incident, not counted in the answer: ${below.map((entry) => entry.service).join(', ')}, which ${origin} depends on, ${below.length === 1 ? 'has' : 'have'} firing alerts that another incident holds or none does; check whether that fault came first.`,
      evidenceIds: [serviceEvidenceId(origin), ...belowIds.slice(0, 40)],
      confidence: 0.3,
    });
  }
  return {
    agent: 'risk-blast-radius',
    summary: inferred
      ? `Probable origin ${origin}, INFERRED (no firing alert of its own in this incident): ${inferredBasisText(inferred)} and every alerting service depends on it; ${radius.unhealthy.length} unhealthy, ${radius.impacted.length} more at risk; recommended ${radius.recommendedSeverity}.`
      : `Probable origin ${origin}; ${radius.unhealthy.length} unhealthy, ${radius.impacted.length} more at risk; recommended ${radius.recommendedSeverity}.`,
    claims,
    data: { ...radius, candidates, inferredOrigin: inferred, severity, outside },
    confidence,
    insufficientEvidence: false,
    engine: DETERMINISTIC_ENGINE,
    degraded: false,
  };
}

function heldBy(entry: OutsideAlerts): string {
  const others = entry.incidents.some((id) => id !== null);
  const loose = entry.incidents.includes(null);
  return others && loose
    ? 'that other incidents hold, and some that no incident holds'
    : others
      ? 'that another incident holds'
      : 'that no incident holds';
}

/** An inferred origin as findings store it: those from before bases existed have none (`change`). */
export type StoredInferredOrigin = Omit<InferredOrigin, 'basis' | 'changedService'> & {
  basis?: InferredBasis;
  changedService?: string | null;
};

/** The inference's basis in a clause: the change it rests on, or what the failing services share. */
function inferredBasisText(inferred: InferredOrigin): string {
  if (inferred.basis === 'shared')
    return `no change explains them, the alerts trace to ${inferred.roots.length} services that do not explain each other, it is what they share,`;
  const where =
    inferred.basis === 'neighbour-change' ? `on ${inferred.changedService}, which calls it,` : 'on it';
  return `${inferred.kind} ${inferred.changeId} ${where} precedes the onset`;
}

/** Why an inferred origin is the origin, in one sentence (its basis and the services that depend on it). */
export function inferredText(inferred: StoredInferredOrigin): string {
  const dependents =
    inferred.dependents.length > 8
      ? `${inferred.dependents.slice(0, 8).join(', ')} and others`
      : inferred.dependents.join(', ');
  const head = `${inferred.service} is the INFERRED origin: it has no firing alert of its own in this incident, but`;
  const tail = `every alerting service depends on it: ${dependents}.`;
  if (inferred.changeId === null || inferred.summary === null)
    return `${head} the alerts trace to separate services that do not explain each other (${inferred.roots.join(', ')}), no change of their own explains them all, and it is what they share: ${tail} No change on it is recorded; check it first, then what it runs on.`;
  const summary = inferred.summary.length > 120 ? `${inferred.summary.slice(0, 119)}…` : inferred.summary;
  const where =
    inferred.basis === 'neighbour-change' && inferred.changedService
      ? ` on ${inferred.changedService}, which calls it and which no alerting service depends on, so it reaches them only through ${inferred.service},`
      : ' on it';
  return `${head} ${inferred.kind} ${inferred.changeId}${where} started ${inferred.minutesBeforeOnset} minutes before the first signal (${summary}), and ${tail}`;
}
