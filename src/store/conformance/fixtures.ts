import type { NormalizedChangeInput } from '../../domain/change.js';
import { newId } from '../../domain/common.js';
import { ACTIVE_STATUSES, type IncidentStatus } from '../../domain/incident.js';
import type { ThresholdRuleInput } from '../../domain/rule.js';
import type { NormalizedServiceInput } from '../../domain/service.js';
import type { CandidateRow, DetectionRow } from '../repositories/detections.js';
import { GENESIS_HASH, type IncidentRow } from '../repositories/incidents.js';
import type { SignalRow } from '../repositories/signals.js';
import { unique } from './harness.js';

/** A fixed origin keeps expected values readable; tests offset from it rather than use the clock. */
export const T0 = Date.parse('2024-05-01T12:00:00Z');

/** 2100-01-01: beyond 2^32 seconds and 2^41 ms, so a backend that narrows or stringifies BIGINT shows it. */
export const FAR_FUTURE = 4_102_444_800_000;

export function signalRow(overrides: Partial<SignalRow> = {}): SignalRow {
  const at = overrides.starts_at ?? T0;
  const dedupKey = overrides.dedup_key ?? unique('dedup');
  return {
    id: newId('signal', at),
    source: 'generic',
    fingerprint: dedupKey,
    dedup_key: dedupKey,
    open_key: overrides.status === 'resolved' ? null : dedupKey,
    status: 'firing',
    severity: 'error',
    service: 'checkout',
    environment: 'production',
    region: null,
    title: 'p99 latency above 2s',
    description: null,
    labels: '{}',
    annotations: '{}',
    metric: null,
    links: '[]',
    starts_at: at,
    ends_at: null,
    received_at: at,
    last_seen_at: at,
    occurrences: 1,
    acknowledged_at: null,
    suppressed_by: null,
    raw: null,
    ...overrides,
  };
}

export function incidentRow(overrides: Partial<IncidentRow> = {}): IncidentRow {
  const at = overrides.detected_at ?? T0;
  const key = overrides.correlation_key ?? unique('correlation');
  const status = (overrides.status ?? 'OPEN') as IncidentStatus;
  return {
    id: newId('incident', at),
    title: 'checkout is failing',
    severity: 'SEV2',
    status,
    services: '["checkout"]',
    environment: 'production',
    correlation_key: key,
    active_key: ACTIVE_STATUSES.includes(status) ? key : null,
    rule_id: null,
    started_at: at,
    detected_at: at,
    acknowledged_at: null,
    mitigated_at: null,
    resolved_at: null,
    closed_at: null,
    signals_resolved_at: null,
    root_cause: null,
    resolution: null,
    root_service: null,
    merged_into: null,
    last_signal_at: null,
    signal_count: 0,
    last_event_seq: 0,
    last_event_hash: GENESIS_HASH,
    created_at: at,
    updated_at: at,
    ...overrides,
  };
}

export function candidateRow(overrides: Partial<CandidateRow> = {}): CandidateRow {
  const at = overrides.first_at ?? T0;
  const ruleId = overrides.rule_id ?? unique('rule');
  const groupKey = overrides.group_key ?? unique('service=checkout');
  return {
    id: newId('candidate', at),
    rule_id: ruleId,
    group_key: groupKey,
    group_values: '{"service":"checkout"}',
    status: 'open',
    open_key: `${ruleId}:${groupKey}`,
    first_at: at,
    last_at: at,
    detection_count: 1,
    incident_id: null,
    created_at: at,
    ...overrides,
  };
}

export function detectionRow(
  overrides: Partial<DetectionRow> & Pick<DetectionRow, 'candidate_id'>,
): DetectionRow {
  const at = overrides.at ?? T0;
  return {
    id: newId('detection', at),
    rule_id: 'rule-under-test',
    rule_version: 1,
    signal_id: unique('sig'),
    incident_id: null,
    service: 'checkout',
    at,
    created_at: at,
    ...overrides,
  };
}

export function ruleInput(name: string, overrides: Partial<ThresholdRuleInput> = {}): ThresholdRuleInput {
  return {
    kind: 'threshold',
    name,
    description: 'checkout errors',
    enabled: true,
    priority: 100,
    matchers: [
      { field: 'service', op: '=', value: 'checkout' },
      { field: 'severity', op: '>=', value: 'error' },
      { field: 'region', op: 'in', values: ['eu-west-1', 'us-east-1'] },
    ],
    groupBy: ['service', 'environment'],
    windowSeconds: 300,
    threshold: { kind: 'count', value: 3 },
    severity: 'SEV2',
    titleTemplate: '{{service}} is failing',
    sustainedSeconds: null,
    ...overrides,
  };
}

export function serviceInput(
  name: string,
  overrides: Partial<NormalizedServiceInput> = {},
): NormalizedServiceInput {
  return {
    name,
    kind: 'component',
    tier: 3,
    customerFacing: false,
    dependsOn: [],
    runbooks: [],
    ...overrides,
  };
}

export function changeInput(overrides: Partial<NormalizedChangeInput> = {}): NormalizedChangeInput {
  return {
    kind: 'deploy',
    service: 'checkout',
    environment: 'production',
    summary: 'deploy checkout v2',
    startedAt: T0,
    links: [],
    source: 'api',
    ...overrides,
  };
}
