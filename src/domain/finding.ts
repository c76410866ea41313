import { z } from 'zod';

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

export const findingSchema = z.object({
  agent: agentSchema,
  summary: z.string().min(1).max(2000),
  claims: z.array(claimSchema).max(50),
  /** Agent-specific structured output (ranked suspects, blast radius, …). */
  data: z.record(z.string(), z.unknown()),
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
});
export type Finding = z.infer<typeof findingSchema>;

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

/** A proposed action. OPX never executes it; a human approves or rejects it. */
export const recommendationDraftSchema = z.object({
  kind: z.enum(RECOMMENDATION_KINDS),
  title: z.string().min(1).max(300),
  rationale: z.string().min(1).max(2000),
  risk: z.enum(['low', 'medium', 'high']),
  confidence: z.number().min(0).max(1),
  citations: z.array(z.string().min(1)).min(1).max(50),
});
export type RecommendationDraft = z.infer<typeof recommendationDraftSchema>;
