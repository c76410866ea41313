import { z } from 'zod';
import { labelsSchema, linkSchema, severitySchema, timestampSchema } from './common.js';

export const SIGNAL_SOURCES = [
  'alertmanager',
  'prometheus',
  'cloudwatch',
  'eventbridge',
  'pagerduty',
  'generic',
] as const;
export const signalSourceSchema = z.enum(SIGNAL_SOURCES);
export type SignalSource = z.infer<typeof signalSourceSchema>;

export const signalStatusSchema = z.enum(['firing', 'resolved']);
export type SignalStatus = z.infer<typeof signalStatusSchema>;

export const metricSchema = z.object({
  name: z.string().max(256),
  namespace: z.string().max(256).optional(),
  statistic: z.string().max(64).optional(),
  value: z.number().optional(),
  threshold: z.number().optional(),
  comparison: z.string().max(64).optional(),
  unit: z.string().max(64).optional(),
  datapoints: z
    .array(z.object({ at: z.number().int(), value: z.number() }))
    .max(1000)
    .optional(),
});
export type Metric = z.infer<typeof metricSchema>;

/**
 * What an adapter produces and what `POST /v1/signals` accepts: one normalized observation.
 * Times are epoch milliseconds after parsing (ISO-8601 strings are accepted on input).
 */
export const signalInputSchema = z.strictObject({
  source: signalSourceSchema.default('generic'),
  fingerprint: z.string().min(1).max(256).optional(),
  status: signalStatusSchema.default('firing'),
  severity: severitySchema.default('warning'),
  service: z.string().min(1).max(200),
  environment: z.string().min(1).max(100).default('production'),
  region: z.string().max(100).optional(),
  title: z.string().min(1).max(500),
  description: z.string().max(10_000).optional(),
  labels: labelsSchema.default({}),
  annotations: labelsSchema.default({}),
  metric: metricSchema.optional(),
  startsAt: timestampSchema.optional(),
  endsAt: timestampSchema.optional(),
  links: z.array(linkSchema).max(20).default([]),
});
export type SignalInput = z.input<typeof signalInputSchema>;
export type NormalizedSignalInput = z.output<typeof signalInputSchema>;

/** A normalized signal as an adapter hands it to the ingest pipeline. */
export interface SignalDraft extends Omit<NormalizedSignalInput, 'fingerprint'> {
  fingerprint: string;
  /** PagerDuty's acknowledge: the alert still fires but a human has it. */
  acknowledged?: boolean;
  raw?: unknown;
}

export interface Signal {
  id: string;
  source: SignalSource;
  fingerprint: string;
  status: SignalStatus;
  severity: z.infer<typeof severitySchema>;
  service: string;
  environment: string;
  region: string | null;
  title: string;
  description: string | null;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  metric: Metric | null;
  links: { href: string; text?: string | undefined }[];
  startsAt: number;
  endsAt: number | null;
  receivedAt: number;
  lastSeenAt: number;
  occurrences: number;
  acknowledgedAt: number | null;
  suppressedBy: string | null;
}
