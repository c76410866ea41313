/**
 * The parts of the API's answers the console reads. Where the server has a zod schema for an answer
 * (src/api/schemas.ts, the same one docs/openapi.json is rendered from), the type here is that schema's;
 * the imports are types only, so nothing of the server reaches the bundle.
 */
import type {
  Evidence as EvidenceAnswer,
  IncidentEventView,
  IncidentSignal,
  IncidentView,
  InvestigationView,
  JoinReason as JoinReasonView,
  KnowledgeHitView,
  RecommendationView,
  TraceView,
} from '../../src/api/schemas';
import type {
  Claim as ClaimView,
  Finding as FindingView,
  TrustScore as TrustScoreView,
} from '../../src/domain/finding';

export const STATUSES = [
  'OPEN',
  'INVESTIGATING',
  'ADVISORY_READY',
  'ACKNOWLEDGED',
  'MITIGATED',
  'RESOLVED',
  'CLOSED',
] as const;
export const SEVERITIES = ['SEV1', 'SEV2', 'SEV3', 'SEV4'] as const;

export type Incident = IncidentView;

/** Why a signal is on its incident (GET /v1/incidents/:id). */
export type JoinReason = JoinReasonView;

/** A signal as GET /v1/incidents/:id shows it. */
export type Signal = IncidentSignal;

export type IncidentEvent = IncidentEventView;

export type Claim = ClaimView;

export type TrustScore = TrustScoreView;

export type Finding = FindingView;

export type Investigation = InvestigationView;

export type Recommendation = RecommendationView;

export type KnowledgeHit = KnowledgeHitView;

/** GET /v1/incidents/:id/evidence: the frozen bundle and its graph; its times are epoch ms, as frozen. */
export type Evidence = EvidenceAnswer;

export type EvidenceGraph = NonNullable<Evidence['graph']>;

export interface Violation {
  id: string;
  agent: string | null;
  direction: string;
  entityType: string;
  action: string;
  location: string;
  createdAt: string;
}

export interface ValidationFailure {
  id: string;
  agent: string;
  attempt: number;
  errors: string[];
  createdAt: string;
}

export interface Usage {
  /** Set on the row of the grouping it belongs to: `YYYY-MM-DD` (UTC), agent or model. */
  day?: string;
  agent?: string | null;
  model?: string;
  calls: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  costUsd: number;
  unknownTokenCalls: number;
  unpricedCalls: number;
}

export interface TokenReport {
  since: string;
  until: string;
  total: Usage;
  byDay: Usage[];
  byAgent: Usage[];
  byModel: Usage[];
  investigations: { count: number; meanUsd: number; medianUsd: number; maxUsd: number };
  budget: { monthStart: string; budgetUsd: number; spentUsd: number; fraction: number; hardCap: boolean };
}

export interface Alarm {
  name: string;
  state: string;
  reason: string;
  value: number | null;
  updatedAt: string;
}

export interface AlarmTransition {
  id: string;
  alarm: string;
  from: string;
  to: string;
  reason: string;
  value: number | null;
  at: string;
}

export type Trace = TraceView;

export interface SafetySummary {
  violations: { direction: string; type: string; action: string; count: number }[];
  validationFailures: { agent: string; count: number }[];
  calls: { agent: string; model: string; status: string; calls: number }[];
}
