import { z } from 'zod';
import type { IncidentSeverity } from './common.js';

export const INCIDENT_STATUSES = [
  'OPEN',
  'INVESTIGATING',
  'ADVISORY_READY',
  'ACKNOWLEDGED',
  'MITIGATED',
  'RESOLVED',
  'CLOSED',
] as const;
export const incidentStatusSchema = z.enum(INCIDENT_STATUSES);
export type IncidentStatus = z.infer<typeof incidentStatusSchema>;

// The statuses in which an incident is still being worked on: src/domain/lifecycle.ts, with the moves.
export { ACTIVE_STATUSES } from './lifecycle.js';

// The lifecycle (which status may follow which) is src/domain/lifecycle.ts, which the console bundles.

export interface Incident {
  id: string;
  title: string;
  severity: IncidentSeverity;
  status: IncidentStatus;
  services: string[];
  environment: string | null;
  correlationKey: string;
  ruleId: string | null;
  startedAt: number;
  detectedAt: number;
  acknowledgedAt: number | null;
  mitigatedAt: number | null;
  resolvedAt: number | null;
  closedAt: number | null;
  /** Set when every attached signal has resolved; cleared when one fires again. */
  signalsResolvedAt: number | null;
  rootCause: string | null;
  resolution: string | null;
  /** The current probable origin service: where correlation traced the fault, or the investigation's answer. */
  rootService: string | null;
  /** Set on an incident closed because it was merged into this one. */
  mergedInto: string | null;
  signalCount: number;
  updatedAt: number;
}

export const INCIDENT_EVENT_TYPES = [
  'created',
  'signal_attached',
  'severity_changed',
  'status_changed',
  'signals_resolved',
  'signals_refiring',
  'reopened',
  'note_added',
  'evidence_frozen',
  'investigation_started',
  'investigation_resumed',
  'investigation_checkpoint_discarded',
  'investigation_completed',
  'investigation_failed',
  'investigation_replayed',
  'agent_completed',
  'recommendation_proposed',
  'recommendation_approved',
  'recommendation_rejected',
  'origin_moved',
  'merged_into',
  'merged_from',
  'signals_split',
  'split_from',
] as const;
export type IncidentEventType = (typeof INCIDENT_EVENT_TYPES)[number];

export interface IncidentEvent {
  id: string;
  incidentId: string;
  seq: number;
  type: IncidentEventType;
  principal: string;
  at: number;
  data: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

/**
 * Why a signal is on an incident: the threshold rule that opened or fed it, the topology rule with the
 * path in the dependency graph, a merge that brought it, or a human.
 */
export type JoinReason =
  | { kind: 'rule'; rule: string }
  | {
      kind: 'topology';
      rule: string;
      relation: 'same' | 'caller' | 'dependency' | 'sibling';
      /** From the signal's service to the incident service it reached. */
      path: string[];
      /** For a sibling join: the dependency both share, and the change on it (src/detect/topology.ts siblingPath). */
      shared?: string;
      change?: string;
    }
  | { kind: 'merge'; from: string; principal: string }
  /** Split off automatically: a blip beside the incident it left (src/detect/blip.ts). */
  | { kind: 'split'; from: string; principal: string; reason: string }
  | { kind: 'manual'; principal: string; action: 'merge' | 'split'; from: string };

export const mergeInputSchema = z.strictObject({
  into: z.string().min(1).max(100),
  reason: z.string().trim().min(1).max(2000).optional(),
});

export const splitInputSchema = z.strictObject({
  signalIds: z.array(z.string().min(1).max(100)).min(1).max(1000),
  title: z.string().trim().min(1).max(500).optional(),
  reason: z.string().trim().min(1).max(2000).optional(),
});

export const transitionInputSchema = z.strictObject({
  reason: z.string().max(2000).optional(),
});

export const resolveInputSchema = z.strictObject({
  rootCause: z.string().min(1).max(5000).optional(),
  resolution: z.string().min(1).max(5000).optional(),
  reason: z.string().max(2000).optional(),
});

export const noteInputSchema = z.strictObject({ text: z.string().trim().min(1).max(10_000) });

export interface Detection {
  id: string;
  ruleId: string;
  ruleVersion: number;
  signalId: string;
  candidateId: string;
  service: string;
  at: number;
  createdAt: number;
}

export interface Candidate {
  id: string;
  ruleId: string;
  groupKey: string;
  groupValues: Record<string, string>;
  status: 'open' | 'promoted' | 'expired';
  firstAt: number;
  lastAt: number;
  detectionCount: number;
  incidentId: string | null;
}
