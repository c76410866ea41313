import type { Change } from '../../domain/change.js';
import type { EvidenceBundle } from '../../domain/evidence.js';
import { serviceEvidenceId } from '../../domain/evidence-id.js';
import type {
  Claim,
  Finding,
  FindingData,
  FindingOf,
  FindingsByAgent,
  RecommendationDraft,
} from '../../domain/finding.js';
import { MITIGATION_HEADING } from '../../knowledge/search.js';
import { DETERMINISTIC_ENGINE } from '../evidence.js';
import { stepsOf } from './knowledge-rag.js';
import { inferredText, moreSevere, type StoredInferredOrigin } from './risk-blast-radius.js';

/**
 * How much each agent's answer counts towards the root-cause service (a deterministic heuristic,
 * docs/agents.md). The topology origin and the change suspect are the strongest independent signals;
 * which service alerted first is weaker (alert timing is noisy); a past incident's root cause counts
 * when it names the service.
 */
const VOTE = { origin: 0.4, change: 0.35, leader: 0.15, history: 0.1 };
/** Below this the strategy says "insufficient evidence" and recommends investigating further. */
export const MIN_ROOT_CAUSE_CONFIDENCE = 0.3;

/** The evidence agents' findings; from a checkpoint, they may be an earlier release's (optional fields absent). */
type Findings = Omit<FindingsByAgent, 'response-strategy'>;
/** A change suspect as change-intelligence's finding holds it. */
type Suspect = FindingData<'change-intelligence'>['ranked'][number];

export interface ProbableRootCause {
  service: string;
  changeId: string | null;
  confidence: number;
  votes: Record<string, number>;
  /** Set when the service never alerted and risk-blast-radius inferred it as the origin (why, in data). */
  inferred?: StoredInferredOrigin;
}

/** The service a change suspect's vote goes to: the origin a load-raising caller change loads, else its own. */
const targetOf = (suspect: Suspect) => suspect.target ?? suspect.service;

/** One entry of the ranked candidate list: voted services by votes, then the other traced candidates. */
export interface RankedCandidate {
  service: string;
  votes: number;
  /** Whether risk-blast-radius found it an origin candidate. */
  origin: boolean;
}

export function probableRootCause(findings: Findings): ProbableRootCause | null {
  const votes = new Map<string, number>();
  const vote = (service: string | undefined, weight: number) => {
    if (service && weight > 0) votes.set(service, (votes.get(service) ?? 0) + weight);
  };
  const radius = findings['risk-blast-radius'];
  if (radius && !radius.insufficientEvidence) {
    // The top two origin candidates share the topology vote by weight (risk-blast-radius's confidence
    // is the first one's share × 0.8): a near-tie splits it instead of going to whichever sorts first.
    const traced = (radius.data.candidates ?? []).filter((entry) => entry.origin).slice(0, 2);
    const total = traced.reduce((sum, entry) => sum + (entry.weight ?? 1), 0);
    if (traced.length > 0 && total > 0) {
      for (const entry of traced) vote(entry.service, (VOTE.origin * 0.8 * (entry.weight ?? 1)) / total);
    } else {
      vote(radius.data.origins[0], VOTE.origin * radius.confidence);
    }
  }
  const changes = findings['change-intelligence'];
  const suspect = changes && !changes.insufficientEvidence ? changes.data.ranked[0] : undefined;
  // The top suspect counts when the blast radius has what it acts on among the services in trouble
  // (unhealthy, an origin, or the inferred origin), as the leader below does: a deploy on a service
  // that shows nothing wrong is context, not a vote against the traced origin.
  const involved =
    radius && !radius.insufficientEvidence
      ? new Set([
          ...radius.data.unhealthy,
          ...radius.data.origins,
          ...(radius.data.inferredOrigin ? [radius.data.inferredOrigin.service] : []),
        ])
      : undefined;
  const changeCounts = suspect === undefined || !involved || involved.has(targetOf(suspect));
  if (suspect && changes && changeCounts)
    vote(targetOf(suspect), VOTE.change * Math.max(changes.confidence, 0.3));
  const signals = findings['signal-intelligence'];
  // With an inferred origin (it never alerted), which alerting service fired first cannot tell an
  // alerting origin from the silent one: every alerting service is a caller feeling it. No lead vote.
  const inferredOrigin = radius && !radius.insufficientEvidence ? radius.data.inferredOrigin : undefined;
  const leadCounts = signals !== undefined && !signals.insufficientEvidence && !inferredOrigin;
  if (signals && leadCounts) {
    // The leader counts when the blast radius has it among the unhealthy services (an observation's
    // anomaly elsewhere in the graph is not part of this incident). A weak anomaly that happened to
    // cross its line first says little: the vote scales with the leader's strength (1 for an alert
    // without datapoints). Services tied for the lead (same time, same strength) share the vote.
    const onsets = signals.data.onsets;
    const first = onsets[0];
    const unhealthy = radius ? radius.data.unhealthy : undefined;
    const leaders = first
      ? onsets.filter((onset) => onset.at === first.at && (onset.strength ?? 1) === (first.strength ?? 1))
      : [];
    for (const leader of leaders) {
      if (unhealthy && !unhealthy.includes(leader.service)) continue;
      vote(leader.service, (VOTE.leader * signals.confidence * (leader.strength ?? 1)) / leaders.length);
    }
  }
  const history = findings['historical-pattern'];
  if (history && !history.insufficientEvidence) {
    const top = history.data.similar[0];
    for (const service of votes.keys()) {
      if (top?.rootCause?.includes(service)) vote(service, VOTE.history * top.similarity);
    }
  }
  if (votes.size === 0) return null;
  const ranked = [...votes.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const [service, score] = ranked[0]!;
  const total = ranked.reduce((sum, [, value]) => sum + value, 0);
  // Strength: the winner's votes against what the agents that had evidence could give together, at
  // most origin + change (a root cause needs no more than topology and a change agreeing).
  const spoke = (finding: Finding | undefined) => finding !== undefined && !finding.insufficientEvidence;
  // Each agent's largest possible vote: the origin's confidence is at most 0.8, the leader's 0.75.
  const attainable = Math.min(
    VOTE.origin + VOTE.change,
    (spoke(radius) ? VOTE.origin * 0.8 : 0) +
      (spoke(changes) && changeCounts ? VOTE.change : 0) +
      (leadCounts ? VOTE.leader * 0.75 : 0) +
      (spoke(history) ? VOTE.history : 0),
  );
  // Agreement (share of all votes) times strength.
  const confidence =
    Math.round((score / total) * Math.min(1, attainable > 0 ? score / attainable : 0) * 100) / 100;
  return {
    service,
    // The culprit: the top suspect when it explains the winner (on it, or raising load on it).
    changeId: suspect && targetOf(suspect) === service ? suspect.changeId : null,
    confidence,
    votes: Object.fromEntries(ranked.map(([name, value]) => [name, Math.round(value * 1000) / 1000])),
    ...(inferredOrigin && inferredOrigin.service === service ? { inferred: inferredOrigin } : {}),
  };
}

/** Voted services by votes, then the rest of risk-blast-radius's ranked candidates. */
export function rankCandidates(cause: ProbableRootCause | null, findings: Findings): RankedCandidate[] {
  const radius = findings['risk-blast-radius'];
  const traced = (radius?.data.candidates ?? []).filter((entry) => typeof entry.service === 'string');
  const origin = new Set(traced.filter((entry) => entry.origin).map((entry) => entry.service));
  const out: RankedCandidate[] = Object.entries(cause?.votes ?? {}).map(([service, votes]) => ({
    service,
    votes,
    origin: origin.has(service),
  }));
  const seen = new Set(out.map((entry) => entry.service));
  for (const entry of traced) {
    if (seen.has(entry.service)) continue;
    seen.add(entry.service);
    out.push({ service: entry.service, votes: 0, origin: entry.origin });
  }
  return out;
}

/** The action on a culprit change: roll it back, turn its flag off, or revert infrastructure work. */
function changeAction(
  change: Change,
  cause: ProbableRootCause,
  suspect: Suspect | undefined,
): RecommendationDraft | undefined {
  if (change.kind === 'rollback') return undefined;
  const why = cause.inferred
    ? cause.inferred.basis === 'neighbour-change' && change.service !== cause.service
      ? `${change.service} calls ${cause.service}, the inferred origin (no firing alert in this incident; every alerting service depends on it), and nothing alerting depends on ${change.service}: the change reaches the outage only through ${cause.service}`
      : `${change.service} is the inferred origin: it has no firing alert in this incident and every alerting service depends on it`
    : change.service === cause.service
      ? `${change.service} is the probable origin`
      : suspect?.raisesLoad
        ? `${change.service} calls the probable origin ${cause.service}, and the change may raise load on it (a heuristic on its wording)`
        : `it explains the probable origin ${cause.service}`;
  const title =
    change.kind === 'feature_flag'
      ? `Turn off the flag changed on ${change.service}`
      : change.kind === 'infra'
        ? `Revert the infrastructure change on ${change.service}`
        : `Roll back ${change.service}${change.versionFrom ? ` to ${change.versionFrom}` : ''}`;
  return {
    kind: change.kind === 'feature_flag' ? 'feature_flag_off' : 'rollback',
    title,
    rationale: `${change.kind} ${change.id} (${change.summary.length > 200 ? `${change.summary.slice(0, 199)}…` : change.summary}) is the strongest change suspect; ${why}.`,
    risk: change.kind === 'db_migration' ? 'high' : change.kind === 'infra' ? 'medium' : 'low',
    confidence: cause.confidence,
    citations: [
      change.id,
      serviceEvidenceId(change.service),
      ...(change.service === cause.service ? [] : [serviceEvidenceId(cause.service)]),
    ],
  };
}

/** Steps of the best runbook written for this service (its front matter lists it), from its mitigation section. */
function runbookFor(
  bundle: EvidenceBundle,
  service: string,
): { chunkId: string; path: string; heading: string; steps: string[] } | undefined {
  const found = bundle.knowledge.find(
    (section) => section.kind === 'runbook' && section.services.includes(service),
  );
  if (!found) return undefined;
  const actions =
    bundle.knowledge.find(
      (section) => section.documentId === found.documentId && MITIGATION_HEADING.test(section.heading),
    ) ?? found;
  const steps = stepsOf(actions.text);
  return steps.length > 0
    ? { chunkId: actions.chunkId, path: actions.path, heading: actions.heading, steps }
    : undefined;
}

export function respond(bundle: EvidenceBundle, findings: Findings): FindingOf<'response-strategy'> {
  const cause = probableRootCause(findings);
  const radius = findings['risk-blast-radius'];
  const blast = radius?.data;
  // One severity everywhere: risk-blast-radius's, which is never below the recorded one (OPX asks to
  // raise a severity, never to lower it); the recorded one when it has none.
  const recorded = bundle.incident.severity;
  const recommendedSeverity = moreSevere(blast?.recommendedSeverity ?? recorded, recorded);
  const firstSignal = [...bundle.signals].sort(
    (a, b) => a.startsAt - b.startsAt || a.id.localeCompare(b.id),
  )[0];
  const recommendations: RecommendationDraft[] = [];
  const claims: Claim[] = [];
  // Datapoints that show an anomaly traced from the alerts are positive evidence of a fault: OPX then
  // names its best candidate even at low confidence (and says how low). With alerts alone, a weak or
  // split vote is "insufficient evidence".
  const measured =
    cause !== null &&
    radius !== undefined &&
    !radius.insufficientEvidence &&
    (radius.data.candidates ?? []).some(
      (entry) => entry.service === cause.service && entry.origin && entry.score !== null,
    );
  // A heuristic for warning noise: when nothing in the incident is above `warning` and no change
  // explains the candidate, alerts alone do not establish a fault (flapping warnings are the usual
  // shape), so the strategy abstains unless datapoints show a traced anomaly.
  const warningsOnly = bundle.signals.every(
    (signal) => signal.severity === 'warning' || signal.severity === 'info',
  );
  const noiseShaped = cause !== null && warningsOnly && cause.changeId === null;
  const insufficient = !cause || ((cause.confidence < MIN_ROOT_CAUSE_CONFIDENCE || noiseShaped) && !measured);

  const candidates = rankCandidates(cause, findings);
  const runnersUp = candidates
    .filter((candidate) => candidate.origin && candidate.service !== cause?.service)
    .map((candidate) => candidate.service)
    .slice(0, 2);
  const changeFinding = findings['change-intelligence'];
  const suspect =
    changeFinding && !changeFinding.insufficientEvidence ? changeFinding.data.ranked[0] : undefined;
  const knowledge = findings['knowledge-rag'];
  const usedRunbooks = new Set<string>();
  const runbookSteps = (runbook: { chunkId: string; path: string; heading: string }, steps: string[]) => {
    usedRunbooks.add(runbook.chunkId);
    for (const step of steps.slice(0, 3)) {
      recommendations.push({
        kind: 'runbook_step',
        title: step.length > 300 ? `${step.slice(0, 299)}…` : step,
        rationale: `From ${runbook.path} (${runbook.heading}).`,
        risk: 'low',
        confidence: knowledge?.confidence ?? 0.5,
        citations: [runbook.chunkId],
      });
    }
  };

  if (cause && !insufficient) {
    const inferredWhy = cause.inferred ? ` ${inferredText(cause.inferred)}` : '';
    claims.push({
      text:
        cause.confidence < MIN_ROOT_CAUSE_CONFIDENCE
          ? `Probable root cause, low confidence: ${cause.service} (confidence ${cause.confidence}); its datapoints show an anomaly traced from the alerts, but the evidence does not separate it well from ${runnersUp.join(' and ') || 'other candidates'}.`
          : `Probable root cause: ${cause.service}${cause.changeId ? ` after change ${cause.changeId}` : ''} (confidence ${cause.confidence}).${inferredWhy}`,
      evidenceIds: [
        serviceEvidenceId(cause.service),
        ...(cause.changeId ? [cause.changeId] : []),
        ...(cause.inferred?.changeId && cause.inferred.changeId !== cause.changeId
          ? [cause.inferred.changeId]
          : []),
        ...(firstSignal ? [firstSignal.id] : []),
      ],
      confidence: cause.confidence,
    });
    // The first recommendation acts on the culprit change or, without one, on the origin itself.
    const change = cause.changeId ? bundle.changes.find((item) => item.id === cause.changeId) : undefined;
    const action = change ? changeAction(change, cause, suspect) : undefined;
    const ownRunbook = runbookFor(bundle, cause.service);
    if (action) recommendations.push(action);
    else if (ownRunbook) runbookSteps(ownRunbook, ownRunbook.steps);
    else
      recommendations.push({
        kind: 'investigate_further',
        title: `Start at ${cause.service}, the probable origin: check its errors, saturation and dependencies`,
        rationale: cause.inferred
          ? `${cause.service} never alerted; it is inferred from the services that depend on it${cause.inferred.changeId ? ` and change ${cause.inferred.changeId}` : ', which fail together with nothing of their own to explain it'}.`
          : `${cause.service} is the probable origin (confidence ${cause.confidence}) and no change or runbook of its own applies.`,
        risk: 'low',
        confidence: cause.confidence,
        citations: [
          serviceEvidenceId(cause.service),
          ...(cause.inferred?.changeId ? [cause.inferred.changeId] : []),
          ...(firstSignal ? [firstSignal.id] : []),
        ],
      });
  }
  // A strong change suspect on another service (a dependency that did not alert, say) is still worth
  // offering, at lower confidence and medium risk, unless it was already recommended above.
  const suspectChange = suspect ? bundle.changes.find((item) => item.id === suspect.changeId) : undefined;
  if (
    suspect &&
    suspectChange &&
    changeFinding &&
    changeFinding.confidence >= 0.5 &&
    suspectChange.id !== cause?.changeId &&
    suspectChange.kind !== 'rollback' &&
    suspectChange.kind !== 'infra'
  ) {
    recommendations.push({
      kind: suspectChange.kind === 'feature_flag' ? 'feature_flag_off' : 'rollback',
      title: `Consider rolling back ${suspectChange.service}${suspectChange.versionFrom ? ` to ${suspectChange.versionFrom}` : ''}`,
      rationale: `${suspectChange.kind} ${suspectChange.id} (${suspectChange.summary}) started ${suspect.minutesBeforeOnset} minutes before the first signal${cause && cause.service !== suspectChange.service ? `, on ${suspectChange.service} rather than the probable origin ${cause.service}` : ''}.`,
      risk: 'medium',
      confidence: Math.round(changeFinding.confidence * 0.8 * 100) / 100,
      citations: [suspectChange.id, serviceEvidenceId(suspectChange.service)],
    });
  }
  const runbook = knowledge?.data.runbook;
  if (knowledge && runbook && !usedRunbooks.has(runbook.chunkId)) runbookSteps(runbook, knowledge.data.steps);
  if ((recommendedSeverity === 'SEV1' || recommendedSeverity === 'SEV2') && firstSignal) {
    const owner = cause
      ? bundle.services.find((service) => service.name === cause.service)?.owner
      : undefined;
    recommendations.push({
      kind: 'escalate',
      title: `Page ${owner ?? `the owner of ${cause?.service ?? firstSignal.service}`}`,
      rationale: `Recommended severity is ${recommendedSeverity}${recommendedSeverity !== recorded ? ', more severe than the incident records: raise it' : ''}.`,
      risk: 'low',
      confidence: 0.8,
      citations: [firstSignal.id],
    });
    if (blast && blast.customerFacing.length > 0) {
      recommendations.push({
        kind: 'communicate',
        title: 'Post a status update for customers',
        rationale: `Customer-facing services are affected: ${blast.customerFacing.join(', ')}.`,
        risk: 'low',
        confidence: 0.7,
        citations: blast.customerFacing
          .map(serviceEvidenceId)
          .filter((id) => bundle.neighbourhood.some((entry) => serviceEvidenceId(entry.service) === id))
          .concat(firstSignal.id),
      });
    }
  }
  if (insufficient && firstSignal) {
    recommendations.unshift({
      kind: 'investigate_further',
      title: 'No cause stands out: check the leading signal and recent changes by hand',
      rationale: cause
        ? `The best candidate, ${cause.service}, has confidence ${cause.confidence}, below ${MIN_ROOT_CAUSE_CONFIDENCE}.`
        : 'No agent found a candidate.',
      risk: 'low',
      confidence: 0.5,
      citations: [firstSignal.id],
    });
  }
  const impact = blast
    ? [...blast.unhealthy, ...blast.impacted].filter((name) => name !== cause?.service)
    : [];
  // The summary leads with the incident's own severity; evidence for a higher one is a request to raise it.
  const severityText =
    recommendedSeverity === recorded
      ? recorded
      : `${recorded} (evidence says ${recommendedSeverity}: raise it)`;
  const channelSummary = insufficient
    ? `${severityText} ${bundle.incident.title}: cause not yet clear; investigating.`
    : `${severityText} ${bundle.incident.title}: probable cause ${cause!.service}${cause!.inferred ? ' (inferred: no firing alert of its own in this incident)' : ''}${cause!.changeId ? ` (${cause!.changeId})` : ''}${cause!.confidence < MIN_ROOT_CAUSE_CONFIDENCE ? ' (low confidence)' : ''}` +
      `${impact.length > 0 ? `; also affected: ${impact.join(', ')}` : ''}. Next: ${recommendations[0]!.title}.`;
  return {
    agent: 'response-strategy',
    summary: channelSummary,
    claims,
    data: {
      probableRootCause: insufficient ? null : cause,
      candidates,
      recommendations,
      recommendedSeverity,
      channelSummary,
    },
    confidence: insufficient ? 0 : cause!.confidence,
    insufficientEvidence: insufficient,
    engine: DETERMINISTIC_ENGINE,
    degraded: false,
  };
}
