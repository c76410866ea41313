/**
 * Row types as stored. Times are epoch milliseconds (BIGINT), booleans are 0/1 and structured values
 * are JSON text, so SQLite and PostgreSQL share one code path.
 */
export interface SignalsTable {
  id: string;
  source: string;
  fingerprint: string;
  /** Source family + fingerprint: the same alert through Alertmanager and Prometheus shares one key. */
  dedup_key: string;
  /** dedup_key while the signal fires, else NULL; unique, so one firing signal per key. */
  open_key: string | null;
  status: string;
  severity: string;
  service: string;
  environment: string;
  region: string | null;
  title: string;
  description: string | null;
  labels: string;
  annotations: string;
  metric: string | null;
  links: string;
  starts_at: number;
  ends_at: number | null;
  received_at: number;
  last_seen_at: number;
  occurrences: number;
  acknowledged_at: number | null;
  suppressed_by: string | null;
  raw: string | null;
}

export interface DetectionsTable {
  id: string;
  rule_id: string;
  rule_version: number;
  signal_id: string;
  candidate_id: string;
  incident_id: string | null;
  service: string;
  at: number;
  created_at: number;
}

export interface CorrelationRulesTable {
  id: string;
  name: string;
  version: number;
  enabled: number;
  priority: number;
  description: string;
  definition: string;
  built_in: number;
  created_at: number;
  updated_at: number;
  deleted_at: number | null;
}

export interface CandidatesTable {
  id: string;
  rule_id: string;
  group_key: string;
  group_values: string;
  status: string;
  /** rule_id + group_key while the candidate accumulates or feeds an active incident, else NULL. */
  open_key: string | null;
  first_at: number;
  last_at: number;
  detection_count: number;
  incident_id: string | null;
  created_at: number;
}

export interface IncidentsTable {
  id: string;
  title: string;
  severity: string;
  status: string;
  services: string;
  environment: string | null;
  correlation_key: string;
  /** correlation_key while the incident is active, else NULL; unique, so one active incident per key. */
  active_key: string | null;
  rule_id: string | null;
  started_at: number;
  detected_at: number;
  acknowledged_at: number | null;
  mitigated_at: number | null;
  resolved_at: number | null;
  closed_at: number | null;
  signals_resolved_at: number | null;
  root_cause: string | null;
  resolution: string | null;
  /** The current probable origin service (src/detect/topology.ts). */
  root_service: string | null;
  /** Set when the incident was closed because it was merged into this one. */
  merged_into: string | null;
  /** The latest start time of its signals: the topology rule's window runs from here. */
  last_signal_at: number | null;
  signal_count: number;
  last_event_seq: number;
  last_event_hash: string;
  created_at: number;
  updated_at: number;
}

export interface IncidentSignalsTable {
  incident_id: string;
  signal_id: string;
  attached_at: number;
  /** Why the signal joined, as JSON (JoinReason in src/domain/incident.ts); NULL before topology correlation. */
  reason: string | null;
  /** 1 when a human put the signal here (merge or split): correlation never moves it again. */
  pinned: number;
}

export interface IncidentServicesTable {
  incident_id: string;
  service: string;
}

export interface IncidentEventsTable {
  id: string;
  incident_id: string;
  seq: number;
  type: string;
  principal: string;
  at: number;
  data: string;
  prev_hash: string;
  hash: string;
}

export interface IdempotencyTable {
  principal: string;
  key: string;
  route: string;
  request_hash: string;
  status_code: number;
  response_body: string;
  created_at: number;
}

export interface EvidenceBundlesTable {
  id: string;
  incident_id: string;
  as_of: number;
  hash: string;
  content: string;
  created_at: number;
}

export interface EvidenceGraphsTable {
  id: string;
  bundle_id: string;
  incident_id: string;
  content: string;
  created_at: number;
}

export interface GuardrailViolationsTable {
  id: string;
  incident_id: string | null;
  agent: string | null;
  direction: string;
  entity_type: string;
  action: string;
  location: string;
  value_hash: string;
  created_at: number;
}

export interface ValidationErrorsTable {
  id: string;
  incident_id: string | null;
  agent: string;
  attempt: number;
  errors: string;
  created_at: number;
}

export interface LlmTracesTable {
  id: string;
  incident_id: string | null;
  investigation_id: string | null;
  agent: string | null;
  provider: string;
  model: string;
  attempt: number;
  prompt: string;
  response: string | null;
  input_tokens: number | null;
  output_tokens: number | null;
  cache_read_tokens: number | null;
  cache_write_tokens: number | null;
  cost_usd: number | null;
  latency_ms: number;
  status: string;
  error: string | null;
  raw_usage: string | null;
  created_at: number;
}

export interface ServicesTable {
  name: string;
  kind: string;
  type: string | null;
  tier: number;
  owner: string | null;
  lifecycle: string | null;
  customer_facing: number;
  description: string | null;
  runbooks: string;
  created_at: number;
  updated_at: number;
}

export interface ServiceDependenciesTable {
  service: string;
  depends_on: string;
}

export interface ChangesTable {
  id: string;
  kind: string;
  service: string;
  environment: string;
  version_from: string | null;
  version_to: string | null;
  author: string | null;
  summary: string;
  started_at: number;
  finished_at: number | null;
  links: string;
  external_key: string | null;
  source: string;
  created_at: number;
}

export interface KbDocumentsTable {
  id: string;
  path: string;
  title: string;
  kind: string;
  services: string;
  alerts: string;
  content_hash: string;
  body: string;
  imported_at: number;
  /** JSON: front-matter keys OPX does not read (`weight`, `tags`, …), as imported; null when none. */
  front_matter: string | null;
}

export interface KbChunksTable {
  id: string;
  document_id: string;
  ordinal: number;
  heading: string;
  text: string;
  created_at: number;
}

export interface InvestigationsTable {
  id: string;
  incident_id: string;
  bundle_id: string | null;
  status: string;
  attempt: number;
  started_at: number;
  finished_at: number | null;
  error: string | null;
  output_hash: string | null;
  result: string | null;
}

export interface RecommendationsTable {
  id: string;
  incident_id: string;
  investigation_id: string | null;
  kind: string;
  title: string;
  rationale: string;
  risk: string;
  confidence: number;
  trust: number | null;
  citations: string;
  rank: number;
  status: string;
  decided_by: string | null;
  decided_at: number | null;
  decision_reason: string | null;
  created_at: number;
}

export interface AlarmsTable {
  name: string;
  state: string;
  reason: string;
  value: number | null;
  updated_at: number;
}

export interface AlarmHistoryTable {
  id: string;
  alarm_name: string;
  from_state: string;
  to_state: string;
  reason: string;
  value: number | null;
  at: number;
}

export interface JobsTable {
  id: string;
  kind: string;
  payload: string;
  status: string;
  attempts: number;
  max_attempts: number;
  run_at: number;
  lease_owner: string | null;
  lease_expires_at: number | null;
  last_error: string | null;
  /** Set while a job for the same purpose is pending or running; unique, so it is enqueued once. */
  dedup_key: string | null;
  created_at: number;
  updated_at: number;
}

export interface NotificationChannelsTable {
  id: string;
  name: string;
  type: string;
  /** JSON; shown back. */
  settings: string;
  /** JSON, encrypted: webhook URLs, keys, passwords. Never shown back. */
  secret: string;
  created_at: number;
  updated_at: number;
}

export interface NotificationRoutesTable {
  id: string;
  name: string;
  /** JSON RouteMatch. */
  match: string;
  /** JSON array of channel names. */
  channels: string;
  /** JSON array of NotifyEvent. */
  events: string;
  enabled: number;
  created_at: number;
  updated_at: number;
}

export interface NotificationDeliveriesTable {
  id: string;
  /** What makes the delivery one of a kind: incident, channel, event and the incident event behind it. */
  key: string;
  /** The notify.deliver job that sends it: its status, attempts and last error are the delivery's. */
  job_id: string;
  /** Null for a test message. */
  incident_id: string | null;
  channel_id: string;
  route_id: string | null;
  event: string;
  /** JSON Notice, encrypted: what is sent, fixed when the delivery is created. */
  notice: string;
  /** `sent` or `skipped` once finished; null while the job is pending, running or dead. */
  outcome: string | null;
  /** The receiver's answer, or why the delivery was skipped. */
  detail: string | null;
  created_at: number;
  finished_at: number | null;
}

export interface AuditLogTable {
  id: string;
  principal: string;
  action: string;
  target: string | null;
  at: number;
  detail: string;
}

export interface ApiTokensTable {
  id: string;
  name: string;
  token_hash: string;
  scopes: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

export interface SilencesTable {
  id: string;
  kind: string;
  matchers: string;
  starts_at: number;
  ends_at: number;
  comment: string;
  created_by: string;
  created_at: number;
}

export interface SnsSubscriptionsTable {
  topic_arn: string;
  subscribe_url: string;
  token: string;
  message_id: string;
  status: string;
  received_at: number;
}

export interface Database {
  signals: SignalsTable;
  detections: DetectionsTable;
  correlation_rules: CorrelationRulesTable;
  candidates: CandidatesTable;
  incidents: IncidentsTable;
  incident_signals: IncidentSignalsTable;
  incident_services: IncidentServicesTable;
  incident_events: IncidentEventsTable;
  idempotency: IdempotencyTable;
  evidence_bundles: EvidenceBundlesTable;
  evidence_graphs: EvidenceGraphsTable;
  guardrail_violations: GuardrailViolationsTable;
  validation_errors: ValidationErrorsTable;
  llm_traces: LlmTracesTable;
  services: ServicesTable;
  service_dependencies: ServiceDependenciesTable;
  changes: ChangesTable;
  kb_documents: KbDocumentsTable;
  kb_chunks: KbChunksTable;
  investigations: InvestigationsTable;
  recommendations: RecommendationsTable;
  alarms: AlarmsTable;
  alarm_history: AlarmHistoryTable;
  jobs: JobsTable;
  notification_channels: NotificationChannelsTable;
  notification_routes: NotificationRoutesTable;
  notification_deliveries: NotificationDeliveriesTable;
  audit_log: AuditLogTable;
  api_tokens: ApiTokensTable;
  silences: SilencesTable;
  sns_subscriptions: SnsSubscriptionsTable;
}
