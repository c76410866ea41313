/**
 * The parts of the API's answers the console reads. Where the server has a zod schema for an answer
 * (src/api/schemas.ts, the same one docs/openapi.json is rendered from), the type here is that schema's;
 * the imports are types only, so nothing of the server reaches the bundle.
 */
import type {
  ChainVerificationView,
  Evidence as EvidenceAnswer,
  IncidentDetail as IncidentDetailView,
  IncidentEventView,
  IncidentSignal,
  IncidentView,
  InvestigationView,
  JoinReason as JoinReasonView,
  KnowledgeHitView,
  RecommendationView,
  TraceView,
  WhoAmI,
} from '../../src/api/schemas';
import type {
  ChannelList,
  DeliveryStatus as DeliveryStatusView,
  DeliveryView,
  RouteList,
} from '../../src/client/index';
import type {
  AlarmRow,
  AlarmTransition as AlarmTransitionRow,
  TokenReport as TokenReportView,
  UsageRow,
} from '../../src/domain/analytics';
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

export type IncidentStatus = Incident['status'];
export type IncidentSeverity = Incident['severity'];

export { ACTIVE_STATUSES } from '../../src/domain/lifecycle';

/** GET /v1/whoami: the pasted token's name and scopes. */
export type Session = WhoAmI;

/** Why a signal is on its incident (GET /v1/incidents/:id). */
export type JoinReason = JoinReasonView;

/** A signal as GET /v1/incidents/:id shows it. */
export type Signal = IncidentSignal;

export type IncidentEvent = IncidentEventView;

/** GET /v1/incidents/:id: the incident, its newest completed investigation's id, and its signals. */
export type IncidentDetail = IncidentDetailView;

/** GET /v1/incidents/:id/verify: whether the event chain's hashes still hold, and where not. */
export type ChainVerification = ChainVerificationView;

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

/** Times are ISO-8601 text in the API's answers. */
type Iso<T, Keys extends keyof T> = Omit<T, Keys> & { [K in Keys]: string };

export type Usage = UsageRow;
export type TokenReport = TokenReportView;
export type Alarm = Iso<AlarmRow, 'updatedAt'>;
export type AlarmTransition = Iso<AlarmTransitionRow, 'at'>;

export type Trace = TraceView;

export interface SafetySummary {
  violations: { direction: string; type: string; action: string; count: number }[];
  validationFailures: { agent: string; count: number }[];
  calls: { agent: string; model: string; status: string; calls: number }[];
}

/** GET /v1/notifications/deliveries: a delivery's state and the receiver's last answer. */
export type Delivery = DeliveryView;
export type DeliveryStatus = DeliveryStatusView;
/** A notification channel: its settings only; the API never shows a secret. */
export type Channel = ChannelList['items'][number];
/** A notification route: which incidents go to which channels. */
export type NotifyRoute = RouteList['items'][number];
