/**
 * The incident lifecycle: which status may follow which. It imports nothing but a type, so the web
 * console (web/src) bundles it as it is and disables the moves the server would refuse by the same
 * table the server checks them with (src/incidents/lifecycle.ts).
 */
import type { IncidentStatus } from './incident.js';

/**
 * Humans may acknowledge, mitigate or resolve before an investigation has finished, so those moves
 * are allowed from every earlier active state. A RESOLVED incident re-opens (to OPEN) when a new
 * firing signal arrives within the grace window, or by hand; CLOSED is final.
 */
export const TRANSITIONS: Readonly<Record<IncidentStatus, readonly IncidentStatus[]>> = {
  OPEN: ['INVESTIGATING', 'ACKNOWLEDGED', 'MITIGATED', 'RESOLVED'],
  INVESTIGATING: ['ADVISORY_READY', 'OPEN', 'ACKNOWLEDGED', 'MITIGATED', 'RESOLVED'],
  ADVISORY_READY: ['INVESTIGATING', 'ACKNOWLEDGED', 'MITIGATED', 'RESOLVED'],
  ACKNOWLEDGED: ['INVESTIGATING', 'MITIGATED', 'RESOLVED'],
  MITIGATED: ['ACKNOWLEDGED', 'RESOLVED'],
  RESOLVED: ['OPEN', 'CLOSED'],
  CLOSED: [],
};

export function canTransition(from: IncidentStatus, to: IncidentStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/**
 * Statuses in which an incident is still being worked on: it absorbs new signals for its
 * correlation key, and the console's "active" filter shows these.
 */
export const ACTIVE_STATUSES: readonly IncidentStatus[] = [
  'OPEN',
  'INVESTIGATING',
  'ADVISORY_READY',
  'ACKNOWLEDGED',
  'MITIGATED',
];
