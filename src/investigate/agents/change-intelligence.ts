import type { Change } from '../../domain/change.js';
import type { EvidenceBundle } from '../../domain/evidence.js';
import type { Claim, Finding } from '../../domain/finding.js';
import { DETERMINISTIC_ENGINE, onsetOf, serviceEvidenceId } from '../evidence.js';

/**
 * Change suspicion, a deterministic heuristic (docs/agents.md): score = time × topology × kind × lead.
 * - time: exp(−minutes before onset / 60): a change 42 minutes before onset scores 0.5. Changes that
 *   start after onset score 0.05 — more likely a mitigation than a cause.
 * - topology: 1 on an affected service; on a dependency 0.75 at one hop, 0.5 at two; on a dependent
 *   (a caller) 0.35 at one hop, 0.2 at two. Faults travel from dependencies to their callers.
 * - kind: deploy 1, config 0.9, db_migration 0.9, feature_flag 0.85, infra 0.7, rollback 0.3.
 * - lead: ×1.5 when the changed service is the one whose signal fired first.
 */
export const TIME_SCALE_MINUTES = 60;
const AFTER_ONSET = 0.05;
const KIND_WEIGHT: Record<Change['kind'], number> = {
  deploy: 1,
  config: 0.9,
  db_migration: 0.9,
  feature_flag: 0.85,
  infra: 0.7,
  rollback: 0.3,
};
const LEAD_BONUS = 1.5;
/** Below this the top suspect is too weak to name: the agent says so instead of guessing. */
export const MIN_SUSPICION = 0.15;

export interface ChangeSuspect {
  changeId: string;
  service: string;
  kind: Change['kind'];
  summary: string;
  minutesBeforeOnset: number;
  score: number;
  components: { time: number; topology: number; kind: number; lead: number };
}

function topologyWeight(
  relation: 'affected' | 'dependency' | 'dependent' | undefined,
  distance: number,
): number {
  if (relation === 'affected') return 1;
  if (relation === 'dependency') return distance <= 1 ? 0.75 : 0.5;
  if (relation === 'dependent') return distance <= 1 ? 0.35 : 0.2;
  return 0;
}

export function rankChanges(bundle: EvidenceBundle): ChangeSuspect[] {
  const onset = onsetOf(bundle);
  const leading = [...bundle.signals].sort((a, b) => a.startsAt - b.startsAt || a.id.localeCompare(b.id))[0]
    ?.service;
  const place = new Map(bundle.neighbourhood.map((entry) => [entry.service, entry]));
  const suspects = bundle.changes.map((change): ChangeSuspect => {
    const minutesBeforeOnset = (onset - change.startedAt) / 60_000;
    const time = minutesBeforeOnset >= 0 ? Math.exp(-minutesBeforeOnset / TIME_SCALE_MINUTES) : AFTER_ONSET;
    const where = place.get(change.service);
    const topology = topologyWeight(where?.relation, where?.distance ?? Number.POSITIVE_INFINITY);
    const kind = KIND_WEIGHT[change.kind];
    const lead = change.service === leading ? LEAD_BONUS : 1;
    return {
      changeId: change.id,
      service: change.service,
      kind: change.kind,
      summary: change.summary,
      minutesBeforeOnset: Math.round(minutesBeforeOnset * 10) / 10,
      score: Math.round(time * topology * kind * lead * 10_000) / 10_000,
      components: { time, topology, kind, lead },
    };
  });
  return suspects.sort((a, b) => b.score - a.score || a.changeId.localeCompare(b.changeId));
}

export function analyzeChanges(bundle: EvidenceBundle): Finding {
  const ranked = rankChanges(bundle);
  const top = ranked[0];
  const firstSignal = [...bundle.signals].sort(
    (a, b) => a.startsAt - b.startsAt || a.id.localeCompare(b.id),
  )[0];
  if (!top || top.score < MIN_SUSPICION || !firstSignal) {
    return {
      agent: 'change-intelligence',
      summary:
        ranked.length === 0
          ? 'No changes on the affected services or their neighbours in the look-back window.'
          : `No change stands out: the strongest suspect scores ${top?.score ?? 0} (below ${MIN_SUSPICION}).`,
      claims: [],
      data: { ranked, minSuspicion: MIN_SUSPICION },
      confidence: 0,
      insufficientEvidence: true,
      engine: DETERMINISTIC_ENGINE,
      degraded: false,
    };
  }
  // Confidence: the top score's share of all suspicion, damped when the top score itself is weak.
  const total = ranked.reduce((sum, suspect) => sum + suspect.score, 0);
  const confidence = Math.round(Math.min(1, top.score) * (top.score / total) * 100) / 100;
  const claims: Claim[] = [
    {
      text: `${top.kind} ${top.changeId} on ${top.service} started ${top.minutesBeforeOnset} minutes before the first signal: ${top.summary}`,
      evidenceIds: [top.changeId, firstSignal.id, serviceEvidenceId(top.service)],
      confidence,
    },
  ];
  const runnerUp = ranked[1];
  if (runnerUp && runnerUp.score >= MIN_SUSPICION) {
    claims.push({
      text: `Next most suspicious: ${runnerUp.kind} ${runnerUp.changeId} on ${runnerUp.service} (${runnerUp.minutesBeforeOnset} minutes before onset).`,
      evidenceIds: [runnerUp.changeId, serviceEvidenceId(runnerUp.service)],
      confidence: Math.round((runnerUp.score / total) * 100) / 100,
    });
  }
  return {
    agent: 'change-intelligence',
    summary: `Most likely culprit change: ${top.kind} ${top.changeId} on ${top.service} (score ${top.score}).`,
    claims,
    data: { ranked },
    confidence,
    insufficientEvidence: false,
    engine: DETERMINISTIC_ENGINE,
    degraded: false,
  };
}
