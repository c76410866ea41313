import type { IncidentSeverity } from '../../domain/common.js';
import type { EvidenceBundle } from '../../domain/evidence.js';
import type { Claim, Finding } from '../../domain/finding.js';
import { DETERMINISTIC_ENGINE, serviceEvidenceId } from '../evidence.js';
import { ANOMALY_Z, signalEvidence } from './signal-intelligence.js';

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
}

interface ServiceHealth {
  service: string;
  strength: number;
  score: number | null;
  onsetAt: number;
  signalId: string;
  symptom: boolean;
}

/**
 * Health per service from its firing signals (signal-intelligence's signalEvidence): unhealthy when a
 * signal's datapoints show an anomaly, or an alert has no datapoints to judge by; a symptom when an
 * alert fires and its datapoints, if any, do not contradict it.
 */
function serviceHealth(bundle: EvidenceBundle): Map<string, ServiceHealth> {
  const health = new Map<string, ServiceHealth>();
  const ordered = [...bundle.signals].sort((a, b) => a.startsAt - b.startsAt || a.id.localeCompare(b.id));
  for (const signal of ordered) {
    if (signal.status !== 'firing') continue;
    const evidence = signalEvidence(signal);
    const symptom = evidence.alert && evidence.state !== 'normal';
    const strength =
      evidence.state === 'anomalous' || (evidence.alert && evidence.state === 'unmeasured')
        ? evidence.strength
        : 0;
    if (!symptom && strength === 0) continue;
    const current = health.get(signal.service);
    if (!current) {
      health.set(signal.service, {
        service: signal.service,
        strength,
        score: strength > 0 ? evidence.score : null,
        onsetAt: evidence.onsetAt,
        signalId: signal.id,
        symptom,
      });
      continue;
    }
    current.symptom ||= symptom;
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
 * Traces the fault from the symptoms down the dependency graph (a deterministic heuristic,
 * docs/agents.md). Faults flow from a dependency to its callers, so from each symptom (an alert its own
 * datapoints do not contradict) the walk follows dependencies that are unhealthy; what it reaches is
 * relevant. A relevant unhealthy service is an origin candidate when nothing it depends on
 * (transitively) is relevant, unhealthy and at least as strongly anomalous: the deepest strong anomaly.
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
    const origin = ![...below].some(
      (name) => relevant.has(name) && health.get(name)!.strength >= entry.strength,
    );
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

/**
 * The blast radius: symptoms and the services traced from them are unhealthy; every caller of an
 * unhealthy service that is not unhealthy itself is impacted. Severity: SEV1 when a tier-1
 * customer-facing service is unhealthy or impacted and a critical signal fires; SEV2 when tier 1 is
 * touched; SEV3 for tier 2; SEV4 otherwise.
 */
export function blastRadius(
  bundle: EvidenceBundle,
  traced: TracedService[] = traceOrigins(bundle),
): BlastRadius {
  const callers = new Map<string, string[]>();
  for (const service of bundle.services) {
    for (const target of service.dependsOn)
      callers.set(target, [...(callers.get(target) ?? []), service.name]);
  }
  const health = serviceHealth(bundle);
  const symptoms = [...health.values()].filter((entry) => entry.symptom).map((entry) => entry.service);
  const unhealthySet = new Set([...symptoms, ...traced.map((entry) => entry.service)]);
  const unhealthy = [...unhealthySet].sort(
    (a, b) => health.get(a)!.onsetAt - health.get(b)!.onsetAt || a.localeCompare(b),
  );
  const origins = traced.filter((entry) => entry.origin).map((entry) => entry.service);

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
  const critical = bundle.signals.some(
    (signal) => signal.status === 'firing' && signal.severity === 'critical',
  );
  const tierOneCustomerFacing = customerFacing.some((name) => catalog.get(name)?.tier === 1);
  const recommendedSeverity: IncidentSeverity =
    tierOneCustomerFacing && critical
      ? 'SEV1'
      : highestTier === 1
        ? 'SEV2'
        : highestTier === 2
          ? 'SEV3'
          : 'SEV4';
  return {
    unhealthy,
    origins,
    impacted: [...impacted].sort(),
    customerFacing,
    highestTier,
    recommendedSeverity,
  };
}

/**
 * 0.8 × the top origin's share of the weight of the top two origins: 0.8 alone, 0.4 for two equal
 * ones. The long tail of weak candidates does not dilute a clear leader.
 */
export function originConfidence(traced: readonly TracedService[]): number {
  const weights = traced.filter((entry) => entry.origin).map((entry) => entry.weight);
  const total = (weights[0] ?? 0) + (weights[1] ?? 0);
  if (total === 0) return 0;
  return Math.round(((0.8 * weights[0]!) / total) * 100) / 100;
}

export function analyzeBlastRadius(bundle: EvidenceBundle): Finding {
  const traced = traceOrigins(bundle);
  const radius = blastRadius(bundle, traced);
  const candidates = traced.map(({ service, strength, trace, explains, weight, score, origin }) => ({
    service,
    origin,
    strength,
    trace,
    explains,
    weight,
    score,
  }));
  if (radius.origins.length === 0) {
    return {
      agent: 'risk-blast-radius',
      summary:
        radius.unhealthy.length === 0
          ? 'No service has a firing signal that its datapoints support; nothing to trace.'
          : `Alerts fire on ${radius.unhealthy.join(', ')}, but no service shows an anomaly to trace them to.`,
      claims: [],
      data: { ...radius, candidates },
      confidence: 0,
      insufficientEvidence: true,
      engine: DETERMINISTIC_ENGINE,
      degraded: false,
    };
  }
  const top = traced[0]!;
  const origin = top.service;
  const inBundle = (id: string) =>
    bundle.neighbourhood.some((entry) => serviceEvidenceId(entry.service) === id);
  // A single origin candidate is a clear answer; several mean the topology does not separate them.
  const confidence = originConfidence(traced);
  const measured = top.score !== null;
  const claims: Claim[] = [
    {
      text: measured
        ? `${origin} is the deepest strong anomaly traced from the alerts (score ${top.score}, trace ${top.trace}, explains ${top.explains} other unhealthy service${top.explains === 1 ? '' : 's'}); nothing it depends on is as anomalous, so it is the probable origin${radius.origins.length > 1 ? ` (${radius.origins.length} candidates: ${radius.origins.slice(0, 5).join(', ')})` : ''}.`
        : radius.origins.length === 1
          ? `${origin} is the most-downstream unhealthy service: none of its dependencies is alerting, so it is the probable origin.`
          : `${radius.origins.length} unhealthy services have no unhealthy dependency (${radius.origins.join(', ')}); ${origin} alerted first.`,
      evidenceIds: [serviceEvidenceId(origin), top.signalId],
      confidence,
    },
  ];
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
        .concat(top.signalId),
      confidence: 0.7,
    });
  }
  return {
    agent: 'risk-blast-radius',
    summary: `Probable origin ${origin}; ${radius.unhealthy.length} unhealthy, ${radius.impacted.length} more at risk; recommended ${radius.recommendedSeverity}.`,
    claims,
    data: { ...radius, candidates },
    confidence,
    insufficientEvidence: false,
    engine: DETERMINISTIC_ENGINE,
    degraded: false,
  };
}
