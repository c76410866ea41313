import type { IncidentSeverity } from '../../domain/common.js';
import type { EvidenceBundle } from '../../domain/evidence.js';
import type { Claim, Finding } from '../../domain/finding.js';
import { DETERMINISTIC_ENGINE, serviceEvidenceId } from '../evidence.js';

export interface BlastRadius {
  /** Services with a firing signal, in onset order. */
  unhealthy: string[];
  /** The probable origin: an unhealthy service none of whose dependencies is unhealthy; earliest first. */
  origins: string[];
  /** Callers (transitively) of unhealthy services: affected without alerting themselves. */
  impacted: string[];
  customerFacing: string[];
  highestTier: number | null;
  recommendedSeverity: IncidentSeverity;
}

/**
 * Traverses the dependency graph in the bundle (a deterministic heuristic, docs/agents.md). Faults flow
 * from a dependency to its callers, so the most-downstream unhealthy service is the probable origin and
 * everything upstream of the unhealthy set is the blast radius. Severity: SEV1 when a tier-1
 * customer-facing service is unhealthy or impacted and a critical signal fires; SEV2 when tier 1 is
 * touched; SEV3 for tier 2; SEV4 otherwise.
 */
export function blastRadius(bundle: EvidenceBundle): BlastRadius {
  const dependsOn = new Map<string, string[]>();
  const callers = new Map<string, string[]>();
  for (const service of bundle.services) {
    dependsOn.set(service.name, service.dependsOn);
    for (const target of service.dependsOn)
      callers.set(target, [...(callers.get(target) ?? []), service.name]);
  }
  const onset = new Map<string, number>();
  for (const signal of bundle.signals) {
    if (signal.status !== 'firing') continue;
    onset.set(
      signal.service,
      Math.min(onset.get(signal.service) ?? Number.POSITIVE_INFINITY, signal.startsAt),
    );
  }
  const unhealthy = [...onset.keys()].sort((a, b) => onset.get(a)! - onset.get(b)! || a.localeCompare(b));
  const unhealthySet = new Set(unhealthy);

  // Reachable unhealthy dependencies, transitively: a service whose own dependency chain holds an
  // unhealthy service is downstream-affected, not an origin.
  const reachesUnhealthy = (start: string): boolean => {
    const seen = new Set<string>();
    const stack = [...(dependsOn.get(start) ?? [])];
    while (stack.length > 0) {
      const next = stack.pop()!;
      if (seen.has(next)) continue;
      seen.add(next);
      if (unhealthySet.has(next)) return true;
      stack.push(...(dependsOn.get(next) ?? []));
    }
    return false;
  };
  const origins = unhealthy.filter((service) => !reachesUnhealthy(service));

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

export function analyzeBlastRadius(bundle: EvidenceBundle): Finding {
  const radius = blastRadius(bundle);
  const firstSignal = new Map<string, string>();
  for (const signal of [...bundle.signals].sort(
    (a, b) => a.startsAt - b.startsAt || a.id.localeCompare(b.id),
  )) {
    if (signal.status === 'firing' && !firstSignal.has(signal.service))
      firstSignal.set(signal.service, signal.id);
  }
  if (radius.unhealthy.length === 0) {
    return {
      agent: 'risk-blast-radius',
      summary: 'No service has a firing signal in the evidence; nothing to trace.',
      claims: [],
      data: { ...radius },
      confidence: 0,
      insufficientEvidence: true,
      engine: DETERMINISTIC_ENGINE,
      degraded: false,
    };
  }
  const origin = radius.origins[0]!;
  // A single origin candidate is a clear answer; several mean the topology does not separate them.
  const confidence =
    Math.round((radius.origins.length === 1 ? 0.8 : 0.8 / radius.origins.length) * 100) / 100;
  const claims: Claim[] = [
    {
      text:
        radius.origins.length === 1
          ? `${origin} is the most-downstream unhealthy service: none of its dependencies is alerting, so it is the probable origin.`
          : `${radius.origins.length} unhealthy services have no unhealthy dependency (${radius.origins.join(', ')}); ${origin} alerted first.`,
      evidenceIds: [serviceEvidenceId(origin), firstSignal.get(origin)!],
      confidence,
    },
  ];
  if (radius.impacted.length > 0) {
    claims.push({
      text: `Upstream callers at risk: ${radius.impacted.join(', ')}.`,
      evidenceIds: radius.impacted
        .map(serviceEvidenceId)
        .filter((id) => bundle.neighbourhood.some((entry) => serviceEvidenceId(entry.service) === id))
        .concat(serviceEvidenceId(origin)),
      confidence: 0.7,
    });
  }
  if (radius.customerFacing.length > 0) {
    claims.push({
      text: `Customer-facing services affected: ${radius.customerFacing.join(', ')}; recommended severity ${radius.recommendedSeverity}.`,
      evidenceIds: radius.customerFacing
        .map(serviceEvidenceId)
        .filter((id) => bundle.neighbourhood.some((entry) => serviceEvidenceId(entry.service) === id))
        .concat(firstSignal.get(origin)!),
      confidence: 0.7,
    });
  }
  return {
    agent: 'risk-blast-radius',
    summary: `Probable origin ${origin}; ${radius.unhealthy.length} unhealthy, ${radius.impacted.length} more at risk; recommended ${radius.recommendedSeverity}.`,
    claims,
    data: { ...radius },
    confidence,
    insufficientEvidence: false,
    engine: DETERMINISTIC_ENGINE,
    degraded: false,
  };
}
