import { OpxError } from '../domain/errors.js';
import type { IncidentStatus } from '../domain/incident.js';
import { canTransition } from '../domain/lifecycle.js';
import type { EventDraft, IncidentRow } from '../store/repositories/incidents.js';

export interface TransitionDetails {
  principal: string;
  at: number;
  reason?: string | undefined;
  rootCause?: string | undefined;
  resolution?: string | undefined;
}

/**
 * Computes a status change without writing it, so the ingest pipeline (auto-resolve, re-open) and the
 * API share one set of rules. Throws `illegal_transition` for a move the lifecycle does not allow.
 */
export function planTransition(
  row: IncidentRow,
  to: IncidentStatus,
  details: TransitionDetails,
): { values: Partial<IncidentRow>; event: EventDraft } {
  const from = row.status as IncidentStatus;
  if (!canTransition(from, to)) {
    throw new OpxError('illegal_transition', `incident ${row.id} is ${from} and cannot move to ${to}`, {
      path: 'status',
      details: { from, to },
    });
  }
  const values: Partial<IncidentRow> = { status: to, updated_at: details.at };
  switch (to) {
    case 'ACKNOWLEDGED':
      values.acknowledged_at = row.acknowledged_at ?? details.at;
      break;
    case 'MITIGATED':
      values.mitigated_at = details.at;
      values.acknowledged_at = row.acknowledged_at ?? details.at;
      break;
    case 'RESOLVED':
      values.resolved_at = details.at;
      values.active_key = null;
      if (details.rootCause !== undefined) values.root_cause = details.rootCause;
      if (details.resolution !== undefined) values.resolution = details.resolution;
      break;
    case 'CLOSED':
      values.closed_at = details.at;
      values.active_key = null;
      break;
    case 'OPEN':
      if (from === 'RESOLVED') {
        values.resolved_at = null;
        values.active_key = row.correlation_key;
      }
      break;
    default:
      break;
  }
  const data: Record<string, unknown> = { from, to };
  if (details.reason) data.reason = details.reason;
  if (details.rootCause) data.rootCause = details.rootCause;
  if (details.resolution) data.resolution = details.resolution;
  return { values, event: { type: 'status_changed', principal: details.principal, at: details.at, data } };
}
