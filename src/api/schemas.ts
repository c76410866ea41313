/**
 * The API's answers, written once as zod schemas. The route mappers return `z.infer` of these (so the
 * compiler holds them to it), the OpenAPI document (src/api/openapi.ts) renders them, the typed client
 * (src/client) and the web console take their types from them, and test/openapi.test.ts checks real
 * answers against them.
 *
 * Nothing here runs on a request: the server does not validate its own answers. Imports stay within
 * zod and src/domain, so the console can `import type` from this module without pulling in the server.
 */
import { z } from 'zod';
import { CHANGE_KINDS } from '../domain/change.js';
import { INCIDENT_SEVERITIES, SEVERITIES } from '../domain/common.js';
import { ERROR_CODES, type ErrorCode } from '../domain/errors.js';
import { findingSchema, recommendationDraftSchema, trustScoreSchema } from '../domain/finding.js';
import { INCIDENT_EVENT_TYPES, INCIDENT_STATUSES } from '../domain/incident.js';
import { SIGNAL_SOURCES } from '../domain/signal.js';

// ---------------------------------------------------------------------------------------------------
// Building blocks

/** A time the API presents as text. The store keeps epoch milliseconds; routes convert at the edge. */
export const isoTimeSchema = z.iso
  .datetime()
  .meta({ id: 'IsoTime', description: 'ISO-8601 time in UTC, e.g. 2026-11-26T10:00:00.000Z' });

/**
 * A time as the store keeps it: epoch milliseconds. Only frozen evidence bundles answer with it: a
 * bundle is hashed and replayed as it was frozen, so it keeps that form. Every live row is presented
 * with isoTimeSchema (src/api/present.ts).
 */
const epochMs = z.number().int().meta({ description: 'epoch milliseconds' });

const incidentSeverity = z.enum(INCIDENT_SEVERITIES);
const incidentStatus = z.enum(INCIDENT_STATUSES);
const signalSeverity = z.enum(SEVERITIES);
const signalSource = z.enum(SIGNAL_SOURCES);
const signalStatus = z.enum(['firing', 'resolved']);
const stringMap = z.record(z.string(), z.string());
const link = z.object({ href: z.string(), text: z.string().optional() });

const metric = z.object({
  name: z.string(),
  namespace: z.string().optional(),
  statistic: z.string().optional(),
  value: z.number().optional(),
  threshold: z.number().optional(),
  comparison: z.string().optional(),
  unit: z.string().optional(),
  // Kept as the sender gave them (the input takes epoch ms only) and as the frozen bundle holds them:
  // a series of samples, not a row's times.
  datapoints: z
    .array(z.object({ at: z.number().int().meta({ description: 'epoch milliseconds' }), value: z.number() }))
    .optional(),
});

// ---------------------------------------------------------------------------------------------------
// Errors

const ERROR_CODE_LIST = Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]];

/** Every 4xx and 5xx answer: a stable code to branch on, words for a person, and the field at fault. */
export const errorBodySchema = z
  .object({
    error: z.object({
      code: z.enum(ERROR_CODE_LIST),
      message: z.string(),
      path: z.string().optional().meta({ description: 'the request field at fault, e.g. query.limit' }),
    }),
  })
  .meta({ id: 'ErrorBody' });
export type ErrorBody = z.infer<typeof errorBodySchema>;

// ---------------------------------------------------------------------------------------------------
// Incidents

/** An incident's fields, with its times in the given form: ISO text in answers, epoch ms in frozen bundles. */
function incidentFields<Time extends z.ZodType>(time: Time) {
  return {
    id: z.string(),
    title: z.string(),
    severity: incidentSeverity,
    status: incidentStatus,
    services: z.array(z.string()),
    environment: z.string().nullable(),
    correlationKey: z.string(),
    ruleId: z.string().nullable(),
    startedAt: time,
    detectedAt: time,
    acknowledgedAt: time.nullable(),
    mitigatedAt: time.nullable(),
    resolvedAt: time.nullable(),
    closedAt: time.nullable(),
    signalsResolvedAt: time
      .nullable()
      .meta({ description: 'set when every attached signal has resolved; cleared when one fires again' }),
    rootCause: z.string().nullable(),
    resolution: z.string().nullable(),
    rootService: z.string().nullable().meta({ description: 'the probable origin service' }),
    mergedInto: z.string().nullable().meta({ description: 'set when this incident was merged into another' }),
    signalCount: z.number().int(),
    updatedAt: time,
  };
}

export const incidentSchema = z.object(incidentFields(isoTimeSchema)).meta({ id: 'Incident' });
export type IncidentView = z.infer<typeof incidentSchema>;

export const incidentListSchema = z
  .object({
    items: z.array(incidentSchema),
    nextCursor: z
      .string()
      .nullable()
      .meta({ description: 'pass back as `cursor` for the next page; null on the last page' }),
  })
  .meta({ id: 'IncidentList' });
export type IncidentList = z.infer<typeof incidentListSchema>;

/** Why a signal is on its incident (docs/correlation.md). */
export const joinReasonSchema = z
  .discriminatedUnion('kind', [
    z.object({ kind: z.literal('rule'), rule: z.string() }),
    z.object({
      kind: z.literal('topology'),
      rule: z.string(),
      relation: z.enum(['same', 'caller', 'dependency', 'sibling']),
      path: z.array(z.string()).meta({ description: "from the signal's service to the incident service" }),
      shared: z.string().optional().meta({ description: 'sibling joins: the dependency both share' }),
      change: z.string().optional().meta({ description: 'sibling joins: the change on that dependency' }),
    }),
    z.object({ kind: z.literal('merge'), from: z.string(), principal: z.string() }),
    z.object({
      kind: z.literal('split'),
      from: z.string(),
      principal: z.string(),
      reason: z.string().meta({ description: 'why the signal was split off automatically' }),
    }),
    z.object({
      kind: z.literal('manual'),
      principal: z.string(),
      action: z.enum(['merge', 'split']),
      from: z.string(),
    }),
  ])
  .meta({ id: 'JoinReason' });
export type JoinReason = z.infer<typeof joinReasonSchema>;

const signalFields = {
  id: z.string(),
  source: signalSource,
  fingerprint: z.string(),
  status: signalStatus,
  severity: signalSeverity,
  service: z.string(),
  environment: z.string(),
  region: z.string().nullable(),
  title: z.string(),
  description: z.string().nullable(),
  labels: stringMap,
  annotations: stringMap,
  metric: metric.nullable(),
  links: z.array(link),
  occurrences: z.number().int(),
  suppressedBy: z.string().nullable().meta({ description: 'the silence that suppressed it' }),
};

/** A signal's times in the given form: ISO text in answers, epoch ms in frozen bundles. */
function signalTimes<Time extends z.ZodType>(time: Time) {
  return {
    startsAt: time,
    endsAt: time.nullable(),
    receivedAt: time,
    lastSeenAt: time,
    acknowledgedAt: time.nullable(),
  };
}

/** A signal as the incident detail shows it: ISO times, and why it joined the incident. */
export const incidentSignalSchema = z
  .object({
    ...signalFields,
    ...signalTimes(isoTimeSchema),
    joinedBy: joinReasonSchema.nullable(),
    pinned: z
      .boolean()
      .meta({ description: 'a responder put it here (merge or split); correlation leaves it' }),
  })
  .meta({ id: 'IncidentSignal' });
export type IncidentSignal = z.infer<typeof incidentSignalSchema>;

export const incidentDetailSchema = z
  .object({
    incident: incidentSchema.extend({
      currentInvestigationId: z
        .string()
        .nullable()
        .meta({ description: 'the newest completed investigation, if any' }),
    }),
    signals: z.array(incidentSignalSchema),
  })
  .meta({ id: 'IncidentDetail' });
export type IncidentDetail = z.infer<typeof incidentDetailSchema>;

export const incidentEventSchema = z
  .object({
    id: z.string(),
    incidentId: z.string(),
    seq: z.number().int(),
    type: z.enum(INCIDENT_EVENT_TYPES),
    principal: z.string(),
    at: isoTimeSchema,
    data: z.record(z.string(), z.unknown()),
    prevHash: z.string(),
    hash: z.string(),
  })
  .meta({ id: 'IncidentEvent' });
export type IncidentEventView = z.infer<typeof incidentEventSchema>;

export const incidentEventListSchema = z.object({ items: z.array(incidentEventSchema) });
export type IncidentEventList = z.infer<typeof incidentEventListSchema>;

export const chainVerificationSchema = z
  .object({
    incidentId: z.string(),
    valid: z.boolean(),
    events: z.number().int(),
    brokenAt: z.object({ seq: z.number().int(), reason: z.string() }).optional(),
  })
  .meta({ id: 'ChainVerification' });
export type ChainVerificationView = z.infer<typeof chainVerificationSchema>;

export const transitionResponseSchema = z.object({ incident: incidentSchema, event: incidentEventSchema });
export type TransitionResponse = z.infer<typeof transitionResponseSchema>;
export const severityResponseSchema = z.object({ incident: incidentSchema });
export type SeverityResponse = z.infer<typeof severityResponseSchema>;
export const mergeResponseSchema = z.object({ incident: incidentSchema, merged: incidentSchema });
export type MergeResponse = z.infer<typeof mergeResponseSchema>;
export const splitResponseSchema = z.object({ incident: incidentSchema, split: incidentSchema });
export type SplitResponse = z.infer<typeof splitResponseSchema>;
export const noteResponseSchema = z.object({ event: incidentEventSchema });
export type NoteResponse = z.infer<typeof noteResponseSchema>;

// ---------------------------------------------------------------------------------------------------
// Signals, detections, changes, services: ISO times in answers, epoch ms in frozen bundles

export const signalSchema = z
  .object({ ...signalFields, ...signalTimes(isoTimeSchema) })
  .meta({ id: 'Signal' });
export type SignalView = z.infer<typeof signalSchema>;

/** A signal as a frozen bundle holds it. */
const storedSignalSchema = z
  .object({ ...signalFields, ...signalTimes(epochMs) })
  .meta({ id: 'StoredSignal' });

export const signalListSchema = z.object({ items: z.array(signalSchema) }).meta({ id: 'SignalList' });
export type SignalList = z.infer<typeof signalListSchema>;

function detectionFields<Time extends z.ZodType>(time: Time) {
  return {
    id: z.string(),
    ruleId: z.string(),
    ruleVersion: z.number().int(),
    signalId: z.string(),
    candidateId: z.string(),
    service: z.string(),
    at: time,
    createdAt: time,
  };
}

export const detectionSchema = z.object(detectionFields(isoTimeSchema)).meta({ id: 'Detection' });
export type DetectionView = z.infer<typeof detectionSchema>;
const storedDetectionSchema = z.object(detectionFields(epochMs)).meta({ id: 'StoredDetection' });

export const signalDetailSchema = z.object({ signal: signalSchema, detections: z.array(detectionSchema) });
export type SignalDetail = z.infer<typeof signalDetailSchema>;

function changeFields<Time extends z.ZodType>(time: Time) {
  return {
    id: z.string(),
    kind: z.enum(CHANGE_KINDS),
    service: z.string(),
    environment: z.string(),
    versionFrom: z.string().nullable(),
    versionTo: z.string().nullable(),
    author: z.string().nullable(),
    summary: z.string(),
    startedAt: time,
    finishedAt: time.nullable(),
    links: z.array(link),
    externalId: z.string().nullable(),
    source: z.string(),
    createdAt: time,
  };
}

export const changeSchema = z.object(changeFields(isoTimeSchema)).meta({ id: 'Change' });
export type ChangeView = z.infer<typeof changeSchema>;
const storedChangeSchema = z.object(changeFields(epochMs)).meta({ id: 'StoredChange' });

export const changeListSchema = z.object({ items: z.array(changeSchema) });
export type ChangeList = z.infer<typeof changeListSchema>;

export const changeRecordedSchema = z.object({
  change: changeSchema,
  created: z.boolean().meta({ description: 'false when the change was already recorded (same externalId)' }),
});
export type ChangeRecorded = z.infer<typeof changeRecordedSchema>;

function serviceFields<Time extends z.ZodType>(time: Time) {
  return {
    name: z.string(),
    kind: z.enum(['component', 'resource']),
    type: z.string().optional(),
    tier: z.number().int(),
    owner: z.string().optional(),
    lifecycle: z.string().optional(),
    customerFacing: z.boolean(),
    description: z.string().optional(),
    dependsOn: z.array(z.string()),
    runbooks: z.array(link),
    createdAt: time,
    updatedAt: time,
  };
}

export const serviceSchema = z.object(serviceFields(isoTimeSchema)).meta({ id: 'Service' });
export type ServiceView = z.infer<typeof serviceSchema>;
const storedServiceSchema = z.object(serviceFields(epochMs)).meta({ id: 'StoredService' });

export const serviceListSchema = z.object({ items: z.array(serviceSchema) });
export type ServiceList = z.infer<typeof serviceListSchema>;

export const servicesImportedSchema = z.object({
  created: z.array(z.string()),
  updated: z.array(z.string()),
  skipped: z.array(z.unknown()).meta({ description: 'Backstage entities that are not services, and why' }),
});
export type ServicesImported = z.infer<typeof servicesImportedSchema>;

/** What the ingest receivers answer (Prometheus's and PagerDuty's routes answer in their own shape). */
export const ingestSummarySchema = z
  .object({
    accepted: z.number().int(),
    signals: z.array(
      z.object({
        id: z.string().nullable(),
        fingerprint: z.string(),
        action: z.enum(['created', 'repeated', 'acknowledged', 'resolved', 'ignored']),
        status: signalStatus,
        suppressedBy: z.string().optional(),
        incidentIds: z.array(z.string()),
      }),
    ),
    incidents: z.object({ created: z.array(z.string()), updated: z.array(z.string()) }),
  })
  .meta({ id: 'IngestSummary' });
export type IngestSummary = z.infer<typeof ingestSummarySchema>;

export const cloudWatchIngestSchema = ingestSummarySchema.extend({
  subscriptionConfirmations: z.array(
    z.object({ topicArn: z.string(), status: z.literal('pending'), note: z.string() }),
  ),
});
export type CloudWatchIngest = z.infer<typeof cloudWatchIngestSchema>;

export const pagerDutyAcceptedSchema = z.object({
  status: z.literal('success'),
  message: z.string(),
  dedup_key: z.string().optional(),
});
export type PagerDutyAccepted = z.infer<typeof pagerDutyAcceptedSchema>;

// ---------------------------------------------------------------------------------------------------
// Investigations

const finding = findingSchema.meta({ id: 'Finding' });

export const investigationSchema = z
  .object({
    id: z.string(),
    incidentId: z.string(),
    bundleId: z.string().nullable(),
    status: z.enum(['running', 'completed', 'failed']),
    attempt: z.number().int(),
    startedAt: isoTimeSchema,
    finishedAt: isoTimeSchema.nullable(),
    error: z.string().nullable(),
    outputHash: z.string().nullable(),
    findings: z.array(finding),
  })
  .meta({ id: 'Investigation' });
export type InvestigationView = z.infer<typeof investigationSchema>;

export const investigationListSchema = z.object({ items: z.array(investigationSchema) });
export type InvestigationList = z.infer<typeof investigationListSchema>;

export const recommendationSchema = recommendationDraftSchema
  .extend({
    id: z.string(),
    trust: z.number().nullable().meta({ description: 'how far to trust it, 0-1; null before trust existed' }),
    incidentId: z.string(),
    investigationId: z.string().nullable(),
    rank: z.number().int(),
    status: z.enum(['proposed', 'approved', 'rejected']),
    decidedBy: z.string().nullable(),
    decidedAt: isoTimeSchema.nullable(),
    decisionReason: z.string().nullable(),
    createdAt: isoTimeSchema,
  })
  .meta({ id: 'Recommendation' });
export type RecommendationView = z.infer<typeof recommendationSchema>;

export const recommendationListSchema = z.object({ items: z.array(recommendationSchema) });
export type RecommendationList = z.infer<typeof recommendationListSchema>;

export const decisionResponseSchema = z.object({ recommendation: recommendationSchema });
export type DecisionResponse = z.infer<typeof decisionResponseSchema>;

export const investigationRunSchema = z.object({
  investigationId: z.string(),
  incidentId: z.string(),
  bundleId: z.string(),
  outputHash: z.string(),
  checkpoints: z.number().int(),
  trust: trustScoreSchema.nullable(),
  findings: z.array(finding),
  recommendations: z.array(recommendationSchema),
});
export type InvestigationRun = z.infer<typeof investigationRunSchema>;

export const replayResultSchema = z.object({
  incidentId: z.string(),
  investigationId: z.string(),
  bundleId: z.string(),
  identical: z.boolean(),
  storedHash: z.string(),
  replayHash: z.string(),
  findings: z.array(finding),
  differences: z.array(
    z.object({
      path: z.string().meta({ description: 'e.g. findings[5].data.recommendations[0].title' }),
      stored: z.unknown(),
      replayed: z.unknown(),
    }),
  ),
});
export type ReplayResultView = z.infer<typeof replayResultSchema>;

/** One language-model call, prompt and response redacted. */
export const traceSchema = z
  .object({
    id: z.string(),
    incidentId: z.string().nullable(),
    investigationId: z.string().nullable().optional(),
    agent: z.string().nullable(),
    provider: z.string(),
    model: z.string(),
    attempt: z.number().int().meta({ description: '0 for a call a guardrail blocked before it was sent' }),
    prompt: z.string(),
    response: z.string().nullable(),
    inputTokens: z.number().int().nullable(),
    outputTokens: z.number().int().nullable(),
    cacheReadTokens: z.number().int().nullable(),
    cacheWriteTokens: z.number().int().nullable(),
    costUsd: z.number().nullable(),
    latencyMs: z.number(),
    status: z.enum(['ok', 'invalid', 'error', 'blocked']),
    error: z.string().nullable(),
    createdAt: isoTimeSchema,
  })
  .meta({ id: 'Trace' });
export type TraceView = z.infer<typeof traceSchema>;

export const traceListSchema = z.object({ items: z.array(traceSchema) });
export type TraceList = z.infer<typeof traceListSchema>;

// ---------------------------------------------------------------------------------------------------
// Tokens

/** An API token as `GET /v1/tokens` lists it: never its secret, which is stored only as a digest. */
export const tokenSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    scopes: z.array(z.enum(['ingest', 'read', 'respond', 'admin'])),
    createdAt: isoTimeSchema,
    lastUsedAt: isoTimeSchema.nullable(),
    revokedAt: isoTimeSchema.nullable(),
  })
  .meta({ id: 'Token' });
export type TokenView = z.infer<typeof tokenSchema>;

/** `GET /v1/whoami`: who the request's token is, so a client can offer only what it may do. */
export const whoAmISchema = z
  .object({
    name: z.string().meta({ description: 'as recorded on events and in the audit log: `token:<name>`' }),
    scopes: z.array(z.enum(['ingest', 'read', 'respond', 'admin'])),
  })
  .meta({ id: 'WhoAmI' });
export type WhoAmI = z.infer<typeof whoAmISchema>;

export const tokenListSchema = z.object({ items: z.array(tokenSchema) });
export type TokenList = z.infer<typeof tokenListSchema>;

export const tokenCreatedSchema = tokenSchema.extend({
  token: z.string().meta({ description: 'the secret, shown this once' }),
  note: z.string(),
});
export type TokenCreated = z.infer<typeof tokenCreatedSchema>;

// ---------------------------------------------------------------------------------------------------
// Evidence and knowledge

const knowledgeKind = z.enum(['runbook', 'postmortem']);

export const knowledgeHitSchema = z
  .object({
    chunkId: z.string(),
    documentId: z.string(),
    path: z.string(),
    title: z.string(),
    kind: knowledgeKind,
    heading: z.string(),
    score: z.number(),
    excerpt: z.string(),
    services: z.array(z.string()),
    alerts: z.array(z.string()),
  })
  .meta({ id: 'KnowledgeHit' });
export type KnowledgeHitView = z.infer<typeof knowledgeHitSchema>;

export const knowledgeSearchSchema = z.object({ items: z.array(knowledgeHitSchema) });
export type KnowledgeSearch = z.infer<typeof knowledgeSearchSchema>;

/** `GET /v1/kb/documents/:id`: one imported document whole, and the sections a search hit names. */
export const knowledgeDocumentSchema = z
  .object({
    id: z.string(),
    path: z.string(),
    title: z.string(),
    kind: knowledgeKind,
    services: z.array(z.string()),
    alerts: z.array(z.string()),
    importedAt: isoTimeSchema,
    body: z.string().meta({ description: 'the Markdown as imported, without its front matter' }),
    chunks: z
      .array(
        z.object({
          id: z.string().meta({ description: "a search hit's chunkId" }),
          ordinal: z.number().int(),
          heading: z.string(),
          text: z.string(),
        }),
      )
      .meta({ description: 'the sections search ranks, in reading order; each is a part of the body' }),
  })
  .meta({ id: 'KnowledgeDocument' });
export type KnowledgeDocument = z.infer<typeof knowledgeDocumentSchema>;

/** An incident as a frozen bundle holds it: as stored, times in epoch milliseconds. */
const storedIncident = z.object(incidentFields(epochMs));

export const evidenceGraphSchema = z
  .object({
    id: z.string(),
    bundleId: z.string(),
    incidentId: z.string(),
    nodes: z.array(
      z.object({
        id: z.string(),
        kind: z.enum(['service', 'signal', 'change', 'incident', 'kb_chunk', 'finding']),
        label: z.string(),
      }),
    ),
    edges: z.array(
      z.object({
        from: z.string(),
        to: z.string(),
        kind: z.enum(['depends_on', 'observed_on', 'changed', 'similar_to', 'cites', 'explains']),
      }),
    ),
  })
  .meta({ id: 'EvidenceGraph' });

/**
 * The immutable snapshot an investigation reads; `hash` covers everything but `id` and `hash`. Its times
 * stay epoch milliseconds, as frozen: presenting them as text would change what the hash covers and
 * what a replay reads.
 */
export const evidenceBundleSchema = z
  .object({
    id: z.string(),
    incidentId: z.string(),
    asOf: epochMs,
    lookbackMs: z.number().int(),
    incident: storedIncident,
    signals: z.array(storedSignalSchema),
    detections: z.array(storedDetectionSchema),
    changes: z.array(storedChangeSchema),
    services: z.array(storedServiceSchema),
    neighbourhood: z.array(
      z.object({
        service: z.string(),
        distance: z.number().int(),
        relation: z.enum(['affected', 'dependency', 'dependent']),
      }),
    ),
    history: z.array(
      z.object({
        id: z.string(),
        title: z.string(),
        severity: incidentSeverity,
        services: z.array(z.string()),
        detectedAt: epochMs,
        resolvedAt: epochMs,
        rootCause: z.string().nullable(),
        resolution: z.string().nullable(),
        alerts: z.array(z.string()),
      }),
    ),
    knowledge: z.array(
      z.object({
        chunkId: z.string(),
        documentId: z.string(),
        path: z.string(),
        title: z.string(),
        kind: knowledgeKind,
        heading: z.string(),
        text: z.string(),
        excerpt: z.string().optional().meta({
          description: "the search hit's excerpt; absent on a runbook's mitigation section added beside it",
        }),
        score: z.number(),
        services: z.array(z.string()),
        alerts: z.array(z.string()),
      }),
    ),
    neighbourSignals: z
      .array(z.object({ incidentId: z.string().nullable(), signal: storedSignalSchema }))
      .optional()
      .meta({ description: 'firing signals nearby that belong to another incident or none: context only' }),
    hash: z.string(),
  })
  .meta({ id: 'EvidenceBundle' });

export const evidenceSchema = z.object({
  bundle: evidenceBundleSchema,
  graph: evidenceGraphSchema.nullable(),
});
export type Evidence = z.infer<typeof evidenceSchema>;

export const evidenceFrozenSchema = z.object({ bundle: evidenceBundleSchema, graph: evidenceGraphSchema });
export type EvidenceFrozen = z.infer<typeof evidenceFrozenSchema>;

// ---------------------------------------------------------------------------------------------------
// Probes

export const healthSchema = z.object({
  status: z.literal('ok'),
  store: z.enum(['sqlite', 'postgres']),
  schemaVersion: z.number().int().meta({ description: 'the newest migration applied' }),
});
export type Health = z.infer<typeof healthSchema>;

/** /healthz when the store does not answer. */
export const unhealthySchema = z.object({ status: z.literal('unavailable'), error: z.string() });
