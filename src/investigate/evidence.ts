import { formatPath } from '../domain/errors.js';
import type { EvidenceBundle } from '../domain/evidence.js';
import { serviceEvidenceId } from '../domain/evidence-id.js';
import { findingSchema } from '../domain/finding.js';

/** Every id a claim may cite: the bundle's signals, detections, changes, services and the incident. */
export function evidenceIds(bundle: EvidenceBundle): Set<string> {
  return new Set([
    bundle.incidentId,
    ...bundle.signals.map((signal) => signal.id),
    ...bundle.detections.map((detection) => detection.id),
    ...bundle.changes.map((change) => change.id),
    ...bundle.neighbourhood.map((entry) => serviceEvidenceId(entry.service)),
    ...bundle.history.map((incident) => incident.id),
    ...bundle.knowledge.map((section) => section.chunkId),
  ]);
}

/**
 * Checks a finding the way any reasoner's output is checked: the schema, then that every cited id
 * exists in the bundle. Returns the problems; empty means valid.
 */
export function validateFinding(finding: unknown, bundle: EvidenceBundle): string[] {
  const parsed = findingSchema.safeParse(finding);
  if (!parsed.success)
    return parsed.error.issues.map((issue) => `${formatPath(issue.path) || 'finding'}: ${issue.message}`);
  const known = evidenceIds(bundle);
  const problems: string[] = [];
  parsed.data.claims.forEach((claim, index) => {
    for (const id of claim.evidenceIds) {
      if (!known.has(id)) problems.push(`claims[${index}].evidenceIds: ${id} is not in the evidence bundle`);
    }
  });
  return problems;
}

/** The earliest start among the bundle's signals: the incident's onset as the evidence shows it. */
export function onsetOf(bundle: EvidenceBundle): number {
  return bundle.signals.length > 0
    ? Math.min(...bundle.signals.map((signal) => signal.startsAt))
    : bundle.incident.startedAt;
}

export const DETERMINISTIC_ENGINE = { provider: 'deterministic', model: 'opx-rules-v1' } as const;
