import { z } from 'zod';
import { changeKindSchema } from './change.js';
import { incidentSeveritySchema } from './common.js';

export const AGENTS = [
  'signal-intelligence',
  'historical-pattern',
  'change-intelligence',
  'risk-blast-radius',
  'knowledge-rag',
  'response-strategy',
] as const;
export const agentSchema = z.enum(AGENTS);
export type AgentName = z.infer<typeof agentSchema>;

/** One statement an agent makes, with the evidence ids that support it (signal, change, service:…, …). */
export const claimSchema = z.object({
  text: z.string().min(1).max(1000),
  evidenceIds: z.array(z.string().min(1)).min(1).max(50),
  confidence: z.number().min(0).max(1),
  /** Set by the grounding check (src/trust/grounding.ts): false when a statement of it is unsupported. */
  grounded: z.boolean().optional(),
});
export type Claim = z.infer<typeof claimSchema>;

export const RECOMMENDATION_KINDS = [
  'rollback',
  'runbook_step',
  'scale',
  'failover',
  'feature_flag_off',
  'escalate',
  'communicate',
  'investigate_further',
] as const;
const recommendationRiskSchema = z.enum(['low', 'medium', 'high']);

/** A proposed action. OPX never executes it; a human approves or rejects it. */
export const recommendationDraftSchema = z.object({
  kind: z.enum(RECOMMENDATION_KINDS),
  title: z.string().min(1).max(300),
  rationale: z.string().min(1).max(2000),
  risk: recommendationRiskSchema,
  confidence: z.number().min(0).max(1),
  citations: z.array(z.string().min(1)).min(1).max(50),
});
export type RecommendationDraft = z.infer<typeof recommendationDraftSchema>;

/*
 * Each agent's structured output (`data`), as the agent writes it (src/investigate/agents/*). The
 * schemas describe shapes and do not add limits the agents never checked: a finding an agent writes is
 * always valid. Fields added after findings were first stored are optional, so findings stored (and
 * checkpoints written) by earlier releases still parse; each says since when. Objects are not strict:
 * a field this code does not know does not fail a finding.
 */

const signalClusterSchema = z.object({
  /** Service and alert name (or normalized title) shared by the cluster's signals. */
  key: z.string(),
  service: z.string(),
  alert: z.string(),
  signalIds: z.array(z.string()),
  firstAt: z.number(),
});

/** When a service first showed a problem, and the signal that showed it. */
const signalOnsetSchema = z.object({
  service: z.string(),
  at: z.number(),
  signalId: z.string(),
  /** 0..1 (signal-intelligence's signalEvidence). Findings before datapoints were read (233d38d) have none. */
  strength: z.number().optional(),
});

const anomalySchema = z.object({
  signalId: z.string(),
  service: z.string(),
  metric: z.string(),
  value: z.number(),
  magnitude: z.number(),
  basis: z.enum(['threshold', 'baseline', 'change', 'z-score']),
  /** First datapoint at or after the start whose score reached the anomaly line (baseline and change only). */
  onsetAt: z.number().nullable().optional(),
});

const messagePatternSchema = z.object({
  pattern: z.string(),
  count: z.number(),
  signalIds: z.array(z.string()),
});

export const signalIntelligenceDataSchema = z.object({
  clusters: z.array(signalClusterSchema),
  /** Services by onset, earliest first. */
  onsets: z.array(signalOnsetSchema),
  /** Largest magnitude first. */
  anomalies: z.array(anomalySchema),
  patterns: z.array(messagePatternSchema),
});

const similarIncidentSchema = z.object({
  incidentId: z.string(),
  title: z.string(),
  similarity: z.number(),
  components: z.object({ services: z.number(), alerts: z.number(), text: z.number() }),
  rootCause: z.string().nullable(),
  resolution: z.string().nullable(),
  minutesToResolve: z.number(),
  detectedAt: z.number(),
});

export const historicalPatternDataSchema = z.object({
  /** Most similar first. */
  similar: z.array(similarIncidentSchema),
  recurrences: z.number(),
  /** The window recurrences are counted in; absent when nothing was similar. */
  recurrenceWindowDays: z.number().optional(),
  meanMinutesToResolve: z.number().nullable(),
});

/** Where a change sits relative to the probable origins; `neighbourhood` when no origin is known. */
export const changeRelationSchema = z.enum([
  'origin',
  'inferred-from',
  'dependency',
  'caller',
  'beside',
  'neighbourhood',
]);

const changeSuspectSchema = z.object({
  changeId: z.string(),
  service: z.string(),
  kind: changeKindSchema,
  summary: z.string(),
  minutesBeforeOnset: z.number(),
  score: z.number(),
  components: z.object({ time: z.number(), topology: z.number(), kind: z.number(), lead: z.number() }),
  // The four below came with change direction (37febe9); earlier findings have none.
  relation: changeRelationSchema.optional(),
  /** The kind or summary suggests the change sends its dependencies more work. */
  raisesLoad: z.boolean().optional(),
  /** The service whose failure the change would explain: its own, or the origin a load-raising caller loads. */
  target: z.string().optional(),
  /** The time factor is the floor for an old change on the origin with nothing closer. */
  oldOnOrigin: z.boolean().optional(),
});

export const changeIntelligenceDataSchema = z.object({
  /** Most suspicious first. */
  ranked: z.array(changeSuspectSchema),
  /** The least score worth naming; present when no change stands out. */
  minSuspicion: z.number().optional(),
});

/** One origin candidate of the trace (risk-blast-radius), or the inferred origin. */
const originCandidateSchema = z.object({
  service: z.string(),
  origin: z.boolean(),
  /** It never alerted: inferred from a change on it (37febe9; earlier findings have none). */
  inferred: z.boolean().optional(),
  strength: z.number(),
  trace: z.number(),
  explains: z.number(),
  weight: z.number(),
  score: z.number().nullable(),
});

/**
 * An origin that never alerted, inferred from the services that depend on it and a change on it or
 * beside it, or from what separate failures share (src/investigate/agents/risk-blast-radius.ts).
 */
export const inferredOriginSchema = z.object({
  service: z.string(),
  /** Findings from before bases existed have none: their basis was `change`. */
  basis: z.enum(['change', 'neighbour-change', 'shared']).optional(),
  changeId: z.string().nullable(),
  kind: changeKindSchema.nullable(),
  summary: z.string().nullable(),
  minutesBeforeOnset: z.number().nullable(),
  changedService: z.string().nullable().optional(),
  dependents: z.array(z.string()),
  roots: z.array(z.string()),
});

/** Firing alerts outside the incident on a service: context, never counted in the answer. */
const outsideAlertsSchema = z.object({
  service: z.string(),
  signals: z.number(),
  /** The incidents holding them; null for alerts no incident holds. */
  incidents: z.array(z.string().nullable()),
});

export const riskBlastRadiusDataSchema = z.object({
  /** Symptoms and the unhealthy services traced from them, in onset order. */
  unhealthy: z.array(z.string()),
  /** Origin candidates, most probable first. */
  origins: z.array(z.string()),
  /** Callers (transitively) of unhealthy services: affected without alerting themselves. */
  impacted: z.array(z.string()),
  customerFacing: z.array(z.string()),
  highestTier: z.number().nullable(),
  recommendedSeverity: incidentSeveritySchema,
  /** Ranked origin candidates (since datapoints were read, 233d38d). */
  candidates: z.array(originCandidateSchema).optional(),
  // The three below came with inferred origins (37febe9); earlier findings have none.
  inferredOrigin: inferredOriginSchema.nullable().optional(),
  severity: z
    .object({
      recommended: incidentSeveritySchema,
      evidence: incidentSeveritySchema,
      recorded: incidentSeveritySchema,
    })
    .optional(),
  outside: z.array(outsideAlertsSchema).optional(),
});

/** A retrieved runbook or postmortem section, without its text. */
const rankedSectionSchema = z.object({
  chunkId: z.string(),
  documentId: z.string(),
  path: z.string(),
  title: z.string(),
  kind: z.enum(['runbook', 'postmortem']),
  heading: z.string(),
  score: z.number(),
  services: z.array(z.string()),
  alerts: z.array(z.string()),
  /** The matching passage, when the section came from a search. */
  excerpt: z.string().optional(),
});

/** The runbook section the steps come from. */
export const runbookRefSchema = z.object({ chunkId: z.string(), path: z.string(), heading: z.string() });

export const knowledgeRagDataSchema = z.object({
  ranked: z.array(rankedSectionSchema),
  steps: z.array(z.string()),
  /** Absent when no runbook or postmortem matched; null when only a postmortem did. */
  runbook: runbookRefSchema.nullable().optional(),
});

export const probableRootCauseSchema = z.object({
  service: z.string(),
  changeId: z.string().nullable(),
  confidence: z.number(),
  votes: z.record(z.string(), z.number()),
  /** Set when the service never alerted and risk-blast-radius inferred it as the origin. */
  inferred: inferredOriginSchema.optional(),
});

/** Voted services by votes, then risk-blast-radius's other candidates. */
const rankedCandidateSchema = z.object({
  service: z.string(),
  votes: z.number(),
  /** Whether risk-blast-radius found it an origin candidate. */
  origin: z.boolean(),
});

/** A recommendation as the strategy's data holds it: a draft, with its trust once the run has one. */
const strategyRecommendationSchema = z.object({
  kind: z.enum(RECOMMENDATION_KINDS),
  title: z.string(),
  rationale: z.string(),
  risk: recommendationRiskSchema,
  confidence: z.number(),
  citations: z.array(z.string()),
  /** The recommendation's trust (src/trust/trust.ts), added with the investigation's. */
  trust: z.number().optional(),
});

/** How far to trust an investigation (src/trust/trust.ts, docs/trust.md). */
export const trustScoreSchema = z.object({
  score: z.number(),
  components: z.object({
    grounding: z.number(),
    agreement: z.number(),
    reliability: z.number(),
    coverage: z.number(),
    freshness: z.number(),
  }),
  /** True when OPX should not be taken at its word: too little evidence, or poorly grounded. */
  abstain: z.boolean(),
  /** Plain reasons for the score's weak parts, most important first. */
  reasons: z.array(z.string()),
});
export type TrustScore = z.infer<typeof trustScoreSchema>;

export const responseStrategyDataSchema = z.object({
  /** Null when the evidence is insufficient. */
  probableRootCause: probableRootCauseSchema.nullable(),
  candidates: z.array(rankedCandidateSchema),
  recommendations: z.array(strategyRecommendationSchema),
  recommendedSeverity: incidentSeveritySchema,
  /** One line for the incident channel. */
  channelSummary: z.string(),
  /** The investigation's trust, added once every finding is in (src/investigate/graph.ts). */
  trust: trustScoreSchema.optional(),
});

const findingBase = {
  summary: z.string().min(1).max(2000),
  claims: z.array(claimSchema).max(50),
  confidence: z.number().min(0).max(1),
  /** True when the agent had too little evidence to say anything useful; an honest "don't know". */
  insufficientEvidence: z.boolean(),
  engine: z.object({ provider: z.string(), model: z.string() }),
  degraded: z.boolean(),
  /** The grounding check's result: supported share of statements, and the unsupported ones with why. */
  grounding: z
    .object({
      score: z.number().min(0).max(1),
      statements: z.number().int().min(0),
      unsupported: z.array(
        z.object({
          source: z.string(),
          text: z.string(),
          supported: z.boolean(),
          problems: z.array(z.string()),
        }),
      ),
    })
    .optional(),
};

/** Each agent's `data` schema, by agent. */
export const FINDING_DATA_SCHEMAS = {
  'signal-intelligence': signalIntelligenceDataSchema,
  'historical-pattern': historicalPatternDataSchema,
  'change-intelligence': changeIntelligenceDataSchema,
  'risk-blast-radius': riskBlastRadiusDataSchema,
  'knowledge-rag': knowledgeRagDataSchema,
  'response-strategy': responseStrategyDataSchema,
} as const satisfies Record<AgentName, z.ZodType>;

const findingOf = <A extends AgentName>(agent: A) =>
  z.object({ agent: z.literal(agent), ...findingBase, data: FINDING_DATA_SCHEMAS[agent] });

/** What one agent concludes: a discriminated union on `agent`, each with that agent's `data`. */
export const findingSchema = z.discriminatedUnion('agent', [
  findingOf('signal-intelligence'),
  findingOf('historical-pattern'),
  findingOf('change-intelligence'),
  findingOf('risk-blast-radius'),
  findingOf('knowledge-rag'),
  findingOf('response-strategy'),
]);
export type Finding = z.infer<typeof findingSchema>;
/** The finding of one agent. */
export type FindingOf<A extends AgentName> = Extract<Finding, { agent: A }>;
/** One agent's structured output. */
export type FindingData<A extends AgentName> = FindingOf<A>['data'];
/** Each agent's finding by its name, as an investigation's state holds them. */
export type FindingsByAgent = { [A in AgentName]?: FindingOf<A> };
