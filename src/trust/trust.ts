/**
 * How far to trust an investigation and each of its recommendations: a number in [0, 1] from how
 * grounded the findings are, whether the agents agree, how cleanly the model answered, and how much
 * fresh evidence there was. A heuristic, documented in docs/trust.md and measured for calibration by
 * `npm run bench -- trust`. When evidence is thin, OPX abstains and says so.
 */

import type { EvidenceBundle } from '../domain/evidence.js';
import type { Finding, RecommendationDraft, TrustScore } from '../domain/finding.js';
import type { FindingGrounding } from './grounding.js';

export type { TrustScore };

export const TRUST_WEIGHTS = { grounding: 0.3, agreement: 0.3, reliability: 0.15, coverage: 0.25 } as const;
/**
 * When most evidence agents had nothing to go on, trust is at most `base` + `step` × the number
 * that had evidence: 0.4, 0.5, 0.6 for none, one or two of five, below the 0.75 that reads as high.
 * Agreement among the one or two agents that spoke says little about the rest.
 */
export const THIN_EVIDENCE_CAP = { base: 0.4, step: 0.1 } as const;

export interface TrustInputs {
  findings: readonly (Finding & { grounding?: FindingGrounding })[];
  bundle: EvidenceBundle;
  /** From the investigation's model calls: answers that failed validation, agents kept degraded, prompt-injection warnings. */
  invalidAnswers: number;
  degradedAgents: number;
  injectionWarnings: number;
}

const round = (value: number) => Math.round(value * 1000) / 1000;
const clamp = (value: number) => Math.min(1, Math.max(0, value));
const EVIDENCE_AGENTS = 5;
const FRESH_MS = 30 * 60_000;
const STALE_MS = 6 * 3_600_000;

/** Which services each agent points at, for agreement with the probable root cause. */
function pointers(findings: TrustInputs['findings'], bundle: EvidenceBundle) {
  // The first finding of each agent that had evidence.
  const informed = findings.filter((finding) => !finding.insufficientEvidence);
  // A change points at the service whose failure it explains: a load-raising change on a caller of the
  // origin points at that origin (change-intelligence's `target`; older findings have none).
  const suspect = informed.find((finding) => finding.agent === 'change-intelligence')?.data.ranked[0];
  const change = suspect ? (suspect.target ?? suspect.service) : undefined;
  const origin = informed
    .find((finding) => finding.agent === 'risk-blast-radius')
    ?.data.candidates?.find((candidate) => candidate.origin)?.service;
  // A known fault, kept: this reads the closest past incident's `id`, but a similar incident carries
  // `incidentId`, so `past` is always undefined and history never counts towards agreement. The old
  // code read `.id` through a cast; reading `incidentId` changes trust scores: a change of its own.
  const similar = informed.find((finding) => finding.agent === 'historical-pattern')?.data.similar[0];
  const pastId = similar && 'id' in similar && typeof similar.id === 'string' ? similar.id : undefined;
  const past = pastId ? bundle.history.find((incident) => incident.id === pastId)?.services : undefined;
  return { change, origin, past };
}

export function trustOf(inputs: TrustInputs): TrustScore {
  const { findings, bundle } = inputs;
  const reasons: string[] = [];
  const strategy = findings.find((finding) => finding.agent === 'response-strategy');
  const cause = strategy?.data.probableRootCause?.service;

  // Grounding: supported statements over all, across findings.
  const statements = findings.reduce((sum, finding) => sum + (finding.grounding?.statements ?? 0), 0);
  const unsupported = findings.reduce(
    (sum, finding) => sum + (finding.grounding?.unsupported.length ?? 0),
    0,
  );
  const grounding = statements === 0 ? 1 : (statements - unsupported) / statements;
  if (unsupported > 0)
    reasons.push(`${unsupported} of ${statements} statements are not supported by the evidence they cite`);

  // Agreement: does each independent line of evidence point at the probable root cause?
  const { change, origin, past } = pointers(findings, bundle);
  const votes: boolean[] = [];
  if (cause) {
    if (change) votes.push(change === cause);
    if (origin) votes.push(origin === cause);
    if (past) votes.push(past.includes(cause));
  }
  const agreement = votes.length === 0 ? 0.3 : votes.filter(Boolean).length / votes.length;
  if (!cause) reasons.push('no probable root cause');
  else if (votes.length === 0)
    reasons.push('no other agent had evidence to confirm or contradict the root cause');
  else if (agreement < 1)
    reasons.push(
      `agents disagree on the origin: root cause ${cause}; change suspect ${change ?? 'none'}, topology origin ${origin ?? 'none'}, past incidents on ${past?.join(', ') ?? 'none'}`,
    );

  // Reliability of the model's part (1 with the deterministic engine).
  const reliability = clamp(
    1 - 0.15 * inputs.invalidAnswers - 0.2 * inputs.degradedAgents - 0.1 * inputs.injectionWarnings,
  );
  if (inputs.degradedAgents > 0) reasons.push(`${inputs.degradedAgents} agents fell back to the engine`);
  if (inputs.injectionWarnings > 0)
    reasons.push(`${inputs.injectionWarnings} prompt-injection warnings in the evidence`);

  // Coverage and freshness: how many evidence agents had something to say, and how recent the signals are.
  const informed = findings.filter(
    (finding) => finding.agent !== 'response-strategy' && !finding.insufficientEvidence,
  ).length;
  const coverage = informed / EVIDENCE_AGENTS;
  if (informed < EVIDENCE_AGENTS)
    reasons.push(
      `${EVIDENCE_AGENTS - informed} of ${EVIDENCE_AGENTS} evidence agents had too little to go on`,
    );
  const newest = Math.max(...bundle.signals.map((signal) => signal.startsAt), Number.NEGATIVE_INFINITY);
  const age = Number.isFinite(newest) ? Math.max(0, bundle.asOf - newest) : STALE_MS;
  const freshness =
    age <= FRESH_MS ? 1 : age >= STALE_MS ? 0.5 : 1 - (0.5 * (age - FRESH_MS)) / (STALE_MS - FRESH_MS);
  if (freshness < 1) reasons.push(`the newest signal is ${Math.round(age / 60_000)} minutes old`);

  let score =
    TRUST_WEIGHTS.grounding * grounding +
    TRUST_WEIGHTS.agreement * agreement +
    TRUST_WEIGHTS.reliability * reliability +
    TRUST_WEIGHTS.coverage * coverage * freshness;
  // Most evidence agents silent: trust cannot be high, however well the rest agree.
  if (informed * 2 < EVIDENCE_AGENTS) {
    const cap = THIN_EVIDENCE_CAP.base + THIN_EVIDENCE_CAP.step * informed;
    if (score > cap) {
      score = cap;
      reasons.push(
        `trust capped at ${round(cap)}: most evidence agents had no evidence (${informed} of ${EVIDENCE_AGENTS} had)`,
      );
    }
  }
  const abstain = !cause || strategy?.insufficientEvidence === true || informed <= 1 || grounding < 0.5;
  if (abstain) reasons.unshift('OPX abstains: the evidence is too thin to name a cause with confidence');
  return {
    score: round(clamp(score)),
    components: {
      grounding: round(grounding),
      agreement: round(agreement),
      reliability: round(reliability),
      coverage: round(coverage),
      freshness: round(freshness),
    },
    abstain,
    reasons,
  };
}

/**
 * A recommendation's trust: the investigation's, scaled by the recommendation's own confidence and by
 * whether everything it cites is in the evidence.
 */
export function recommendationTrust(
  investigation: TrustScore,
  recommendation: Pick<RecommendationDraft, 'confidence' | 'citations'>,
  evidenceIds: ReadonlySet<string>,
): number {
  const cited = recommendation.citations.length;
  const present = recommendation.citations.filter((id) => evidenceIds.has(id)).length;
  const citation = cited === 0 ? 0.5 : present / cited;
  return round(clamp(investigation.score * (0.6 + 0.4 * recommendation.confidence) * citation));
}
