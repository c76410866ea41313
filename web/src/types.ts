/** The parts of the API's answers the console reads (docs/api.md has the full shapes). */

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

export interface Incident {
  id: string;
  title: string;
  severity: string;
  status: string;
  services: string[];
  environment: string | null;
  startedAt: string;
  detectedAt: string;
  updatedAt: string;
  signalCount: number;
  rootCause: string | null;
  resolution: string | null;
  /** The probable origin service (docs/correlation.md). */
  rootService?: string | null;
  /** Set when this incident was merged into another. */
  mergedInto?: string | null;
}

/** Why a signal is on its incident (GET /v1/incidents/:id). */
export type JoinReason =
  | { kind: 'rule'; rule: string }
  | {
      kind: 'topology';
      rule: string;
      relation: 'same' | 'caller' | 'dependency' | 'sibling';
      path: string[];
      /** For a sibling join: the dependency both services share, and the change on it. */
      shared?: string;
      change?: string;
    }
  | { kind: 'merge'; from: string }
  | { kind: 'manual'; principal: string; action: 'merge' | 'split'; from: string };

export interface Signal {
  id: string;
  source: string;
  status: string;
  severity: string;
  service: string;
  title: string;
  description: string | null;
  startsAt: string;
  lastSeenAt: string;
  occurrences: number;
  joinedBy?: JoinReason | null;
}

export interface IncidentEvent {
  id: string;
  seq: number;
  type: string;
  principal: string;
  at: string;
  data: Record<string, unknown>;
  hash: string;
}

export interface Claim {
  text: string;
  evidenceIds: string[];
  confidence: number;
  grounded?: boolean;
}

export interface TrustScore {
  score: number;
  components: Record<string, number>;
  abstain: boolean;
  reasons: string[];
}

export interface Finding {
  agent: string;
  summary: string;
  claims: Claim[];
  data: Record<string, unknown> & { trust?: TrustScore };
  confidence: number;
  insufficientEvidence: boolean;
  engine: { provider: string; model: string };
  degraded: boolean;
  grounding?: { score: number; statements: number; unsupported: { text: string; problems: string[] }[] };
}

export interface Investigation {
  id: string;
  status: string;
  startedAt: number;
  finishedAt: number | null;
  error: string | null;
  findings: Finding[];
}

export interface Recommendation {
  id: string;
  investigationId: string;
  kind: string;
  title: string;
  rationale: string;
  risk: string;
  confidence: number;
  trust: number | null;
  citations: string[];
  rank: number;
  status: 'proposed' | 'approved' | 'rejected';
  decidedBy: string | null;
  decidedAt: number | null;
  decisionReason: string | null;
}

export interface EvidenceChange {
  id: string;
  kind: string;
  service: string;
  summary: string;
  author: string | null;
  startedAt: number;
}

export interface EvidenceHistory {
  id: string;
  title: string;
  severity: string;
  services: string[];
  detectedAt: number;
  rootCause: string | null;
}

export interface KnowledgeHit {
  chunkId: string;
  documentId: string;
  path: string;
  title: string;
  kind: string;
  heading: string;
  score: number;
  excerpt: string;
  services: string[];
  alerts: string[];
}

export interface EvidenceGraph {
  nodes: { id: string; kind: string; label: string }[];
  edges: { from: string; to: string; kind: string }[];
}

export interface Evidence {
  bundle: {
    id: string;
    hash: string;
    asOf: number;
    signals: Signal[];
    changes: EvidenceChange[];
    neighbourhood: { service: string; distance: number; relation: string }[];
    history: EvidenceHistory[];
    knowledge: KnowledgeHit[];
  };
  graph: EvidenceGraph | null;
}

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
  budget: { monthStart: number; budgetUsd: number; spentUsd: number; fraction: number; hardCap: boolean };
}

export interface Alarm {
  name: string;
  state: string;
  reason: string;
  value: number | null;
  updatedAt: number;
}

export interface AlarmTransition {
  id: string;
  alarm: string;
  from: string;
  to: string;
  reason: string;
  value: number | null;
  at: number;
}

export interface Trace {
  id: string;
  incidentId: string | null;
  agent: string | null;
  provider: string;
  model: string;
  attempt: number;
  status: string;
  error: string | null;
  createdAt: number;
}

export interface SafetySummary {
  violations: { direction: string; type: string; action: string; count: number }[];
  validationFailures: { agent: string; count: number }[];
  calls: { agent: string; model: string; status: string; calls: number }[];
}
