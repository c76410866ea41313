import { z } from 'zod';
import { incidentSeveritySchema, severitySchema } from './common.js';

/** Signal fields a matcher can test; any other name is read from the signal's labels. */
export const MATCHER_FIELDS = [
  'source',
  'severity',
  'service',
  'environment',
  'region',
  'status',
  'title',
] as const;

export const matcherSchema = z.discriminatedUnion('op', [
  z.strictObject({ field: z.string().min(1).max(256), op: z.enum(['=', '!=']), value: z.string().max(1024) }),
  z.strictObject({
    field: z.string().min(1).max(256),
    op: z.enum(['=~', '!~']),
    value: z
      .string()
      .max(1024)
      .refine((pattern) => isValidRegex(pattern), 'not a valid regular expression'),
  }),
  z.strictObject({
    field: z.string().min(1).max(256),
    op: z.literal('in'),
    values: z.array(z.string()).min(1).max(100),
  }),
  z.strictObject({
    field: z.literal('severity'),
    op: z.literal('>='),
    value: z.enum(['critical', 'error', 'warning', 'info']),
  }),
]);
export type Matcher = z.infer<typeof matcherSchema>;

function isValidRegex(pattern: string): boolean {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
}

const ruleCommon = {
  name: z
    .string()
    .min(1)
    .max(100)
    .regex(/^[a-z0-9][a-z0-9-]*$/, 'use lower-case letters, digits and "-"'),
  description: z.string().max(1000).default(''),
  enabled: z.boolean().default(true),
  /** Lower runs first; only matters for the order detections are listed in. */
  priority: z.number().int().min(0).max(1000).default(100),
  matchers: z.array(matcherSchema).max(50).default([]),
  windowSeconds: z
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 3600),
};

/** Groups matching signals by label values and opens an incident once a group reaches its threshold. */
export const thresholdRuleSchema = z.strictObject({
  ...ruleCommon,
  kind: z.literal('threshold').default('threshold'),
  groupBy: z.array(z.string().min(1).max(256)).max(10).default(['service', 'environment']),
  threshold: z.strictObject({
    kind: z.enum(['count', 'distinct_services']),
    value: z.number().int().min(1).max(10_000),
  }),
  severity: incidentSeveritySchema,
  titleTemplate: z.string().min(1).max(500),
  /**
   * A matching signal counts only once OPX has seen it firing this long, from its arrival, and it still
   * fires (Prometheus's `for:`, at the incident level): a blip that resolves sooner opens nothing. Such
   * a signal becomes due while nothing arrives, so the worker sweeps for due signals (src/ingest/sweep.ts).
   */
  sustainedSeconds: z.number().int().min(30).max(86_400).nullable().default(null),
});

/**
 * When a topology rule opens an incident itself: firing signals of at least `minSeverity` on `services`
 * or more services, each calling or called by another of them directly, starting within the rule's
 * window and held by no incident (a cascade no per-service threshold caught).
 */
export const cascadeOpeningSchema = z.strictObject({
  services: z.number().int().min(2).max(20).default(2),
  minSeverity: severitySchema.default('error'),
  severity: incidentSeveritySchema.default('SEV3'),
});

/**
 * Joins a matching signal to an open incident of the same environment when its service is within
 * `hops` of the incident's services in the dependency graph, and the signal starts within
 * `windowSeconds` of the incident's last signal (src/detect/topology.ts). With `opens`, it also opens an
 * incident for a cascade across directly connected services (cascadeOpeningSchema); without, it never
 * opens one.
 */
export const topologyRuleSchema = z.strictObject({
  ...ruleCommon,
  kind: z.literal('topology'),
  hops: z.number().int().min(1).max(4).default(2),
  opens: cascadeOpeningSchema.nullable().default(null),
});

export const ruleInputSchema = z.discriminatedUnion('kind', [thresholdRuleSchema, topologyRuleSchema]);
export type RuleInput = z.input<typeof ruleInputSchema>;
export type NormalizedRuleInput = z.output<typeof ruleInputSchema>;
export type ThresholdRuleInput = z.output<typeof thresholdRuleSchema>;
export type TopologyRuleInput = z.output<typeof topologyRuleSchema>;

interface RuleMeta {
  id: string;
  version: number;
  builtIn: boolean;
  createdAt: number;
  updatedAt: number;
}
export type ThresholdRule = ThresholdRuleInput & RuleMeta;
export type TopologyRule = TopologyRuleInput & RuleMeta;
export type CorrelationRule = ThresholdRule | TopologyRule;

export const silenceInputSchema = z.strictObject({
  kind: z.enum(['silence', 'maintenance']).default('silence'),
  matchers: z.array(matcherSchema).min(1).max(50),
  startsAt: z.union([z.number().int(), z.string()]).optional(),
  endsAt: z.union([z.number().int(), z.string()]),
  comment: z.string().max(1000).default(''),
});
export type SilenceInput = z.input<typeof silenceInputSchema>;

export interface Silence {
  id: string;
  kind: 'silence' | 'maintenance';
  matchers: Matcher[];
  startsAt: number;
  endsAt: number;
  comment: string;
  createdBy: string;
  createdAt: number;
}
