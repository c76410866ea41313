import type { Change } from './change.js';
import type { IncidentSeverity } from './common.js';
import type { Detection, Incident } from './incident.js';
import type { Service } from './service.js';
import type { Signal } from './signal.js';

/** An immutable snapshot an investigation reads. `hash` covers everything but `id` and `hash`. */
export interface EvidenceBundle {
  id: string;
  incidentId: string;
  asOf: number;
  lookbackMs: number;
  incident: Incident;
  signals: Signal[];
  detections: Detection[];
  changes: Change[];
  services: Service[];
  /** Names of services within the neighbourhood radius, with their hop distance from an affected one. */
  neighbourhood: { service: string; distance: number; relation: 'affected' | 'dependency' | 'dependent' }[];
  /** Incidents resolved before `asOf` that touched the neighbourhood, newest first (at most 200). */
  history: PastIncident[];
  /** Runbook and postmortem sections retrieved for this incident when the bundle was frozen. */
  knowledge: KnowledgeSection[];
  /**
   * Firing signals on services in the topology neighbourhood during the look-back that belong to
   * another incident (`incidentId`) or to none (`null`): context, not this incident's evidence.
   * Absent in bundles frozen before it existed.
   */
  neighbourSignals?: { incidentId: string | null; signal: Signal }[];
  hash: string;
}

export interface KnowledgeSection {
  chunkId: string;
  documentId: string;
  path: string;
  title: string;
  kind: 'runbook' | 'postmortem';
  heading: string;
  text: string;
  score: number;
  services: string[];
  alerts: string[];
}

export interface PastIncident {
  id: string;
  title: string;
  severity: IncidentSeverity;
  services: string[];
  detectedAt: number;
  resolvedAt: number;
  rootCause: string | null;
  resolution: string | null;
  /** Alert names (or titles) of its signals. */
  alerts: string[];
}

export const EVIDENCE_NODE_KINDS = [
  'service',
  'signal',
  'change',
  'incident',
  'kb_chunk',
  'finding',
] as const;
export type EvidenceNodeKind = (typeof EVIDENCE_NODE_KINDS)[number];
export const EVIDENCE_EDGE_KINDS = [
  'depends_on',
  'observed_on',
  'changed',
  'similar_to',
  'cites',
  'explains',
] as const;
export type EvidenceEdgeKind = (typeof EVIDENCE_EDGE_KINDS)[number];

export interface EvidenceGraph {
  id: string;
  bundleId: string;
  incidentId: string;
  nodes: { id: string; kind: EvidenceNodeKind; label: string }[];
  edges: { from: string; to: string; kind: EvidenceEdgeKind }[];
}
