/**
 * Live rows as the API answers with them: the store keeps epoch milliseconds, and every answer shows
 * times as ISO-8601 UTC text (docs/api.md). The conversion happens here, at the edge, so nothing behind
 * the routes changes. Frozen evidence (bundles and graphs) is not presented: it is hashed and replayed
 * as it was frozen. Incidents and their events are presented in routes/incidents.ts.
 *
 * `toIso` shows a stored time past what a Date holds at the bound, so one bad row cannot fail a list.
 */
import type { AlarmChange } from '../analytics/alarms.js';
import type { Change } from '../domain/change.js';
import { toIso } from '../domain/common.js';
import type { Detection } from '../domain/incident.js';
import type { CorrelationRule, Silence } from '../domain/rule.js';
import type { Service } from '../domain/service.js';
import type { Signal } from '../domain/signal.js';
import type { SubscriptionConfirmation } from '../domain/sns.js';
import type { ApiToken } from '../store/repositories/access.js';
import type { AlarmRow, AlarmTransition } from '../store/repositories/analytics.js';
import type { Investigation, Recommendation } from '../store/repositories/investigations.js';
import type { LlmTrace } from '../store/repositories/safety.js';
import type {
  ChangeView,
  DetectionView,
  InvestigationView,
  RecommendationView,
  ServiceView,
  SignalView,
  TokenView,
  TraceView,
} from './schemas.js';

export function presentSignal(signal: Signal): SignalView {
  return {
    ...signal,
    startsAt: toIso(signal.startsAt),
    endsAt: toIso(signal.endsAt),
    receivedAt: toIso(signal.receivedAt),
    lastSeenAt: toIso(signal.lastSeenAt),
    acknowledgedAt: toIso(signal.acknowledgedAt),
  };
}

export function presentDetection(detection: Detection): DetectionView {
  return { ...detection, at: toIso(detection.at), createdAt: toIso(detection.createdAt) };
}

export function presentChange(change: Change): ChangeView {
  return {
    ...change,
    startedAt: toIso(change.startedAt),
    finishedAt: toIso(change.finishedAt),
    createdAt: toIso(change.createdAt),
  };
}

export function presentService(service: Service): ServiceView {
  return { ...service, createdAt: toIso(service.createdAt), updatedAt: toIso(service.updatedAt) };
}

/** Findings keep their own numbers: they are the agents' output, covered by `outputHash` and replayed. */
export function presentInvestigation(investigation: Investigation): InvestigationView {
  return {
    ...investigation,
    startedAt: toIso(investigation.startedAt),
    finishedAt: toIso(investigation.finishedAt),
  };
}

export function presentRecommendation(recommendation: Recommendation): RecommendationView {
  return {
    ...recommendation,
    decidedAt: toIso(recommendation.decidedAt),
    createdAt: toIso(recommendation.createdAt),
  };
}

export function presentTrace(trace: LlmTrace): TraceView {
  return { ...trace, createdAt: toIso(trace.createdAt) };
}

export function presentToken(token: ApiToken): TokenView {
  return {
    ...token,
    createdAt: toIso(token.createdAt),
    lastUsedAt: toIso(token.lastUsedAt),
    revokedAt: toIso(token.revokedAt),
  };
}

// The answers below have no schema yet (docs/api.md describes them); their times are text all the same.

export function presentRule(rule: CorrelationRule) {
  return { ...rule, createdAt: toIso(rule.createdAt), updatedAt: toIso(rule.updatedAt) };
}

export function presentSilence(silence: Silence) {
  return {
    ...silence,
    startsAt: toIso(silence.startsAt),
    endsAt: toIso(silence.endsAt),
    createdAt: toIso(silence.createdAt),
  };
}

export function presentSubscription<Subscription extends SubscriptionConfirmation>(
  subscription: Subscription,
) {
  return { ...subscription, receivedAt: toIso(subscription.receivedAt) };
}

export function presentAlarm(alarm: AlarmRow) {
  return { ...alarm, updatedAt: toIso(alarm.updatedAt) };
}

export function presentAlarmChange<Change extends AlarmTransition | AlarmChange>(change: Change) {
  return { ...change, at: toIso(change.at) };
}
