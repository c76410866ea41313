import { OpxError } from '../domain/errors.js';
import { appendIncidentEvents } from '../incidents/service.js';
import type { Recommendation } from '../store/repositories/investigations.js';
import type { StoreScope } from '../store/store.js';

/**
 * Advice and decisions: OPX is advisory, so a recommendation only changes state when a human approves
 * or rejects it, with a reason, and the decision goes on the incident's timeline.
 */

/** Approves or rejects a recommendation. Approval records a human decision; it executes nothing. */
export async function decideRecommendation(
  scope: StoreScope,
  recommendationId: string,
  decision: { status: 'approved' | 'rejected'; principal: string; reason: string; at?: number },
): Promise<Recommendation> {
  const reason = decision.reason.trim();
  if (!reason) throw new OpxError('invalid_request', 'give a reason for the decision', { path: 'reason' });
  const recommendation = await scope.investigations.recommendation(recommendationId, { forUpdate: true });
  if (!recommendation)
    throw new OpxError('not_found', `no recommendation ${recommendationId}`, { path: 'id' });
  if (recommendation.status !== 'proposed') {
    throw new OpxError(
      'conflict',
      `recommendation ${recommendationId} was already ${recommendation.status} by ${recommendation.decidedBy}`,
    );
  }
  const at = decision.at ?? Date.now();
  await scope.investigations.decide(recommendationId, {
    status: decision.status,
    by: decision.principal,
    at,
    reason,
  });
  await appendIncidentEvents(scope, recommendation.incidentId, [
    {
      type: decision.status === 'approved' ? 'recommendation_approved' : 'recommendation_rejected',
      principal: decision.principal,
      at,
      data: { recommendationId, kind: recommendation.kind, title: recommendation.title, reason },
    },
  ]);
  return {
    ...recommendation,
    status: decision.status,
    decidedBy: decision.principal,
    decidedAt: at,
    decisionReason: reason,
  };
}
