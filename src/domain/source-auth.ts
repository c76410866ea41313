/**
 * How each ingest source proves who it is, as configured: a bearer token (the default), an HMAC signature
 * over the timestamp and body, or, for CloudWatch through SNS, Amazon SNS's own message signature. Pure
 * schemas; src/auth/sources.ts verifies requests against them.
 */
import { z } from 'zod';

/** Ingest endpoints by source; PagerDuty's two endpoints are one source. */
export const SOURCE_NAMES = [
  'signals',
  'alertmanager',
  'prometheus',
  'cloudwatch',
  'eventbridge',
  'pagerduty',
  'changes',
] as const;
export type SourceName = (typeof SOURCE_NAMES)[number];

/** AWS's SNS endpoints, per the SNS documentation on verifying message signatures. */
export const SNS_CERT_HOST = '^sns\\.[a-z0-9-]+\\.amazonaws\\.com(\\.cn)?$';

const hmacSchema = z.strictObject({
  mode: z.literal('hmac'),
  /** Every listed secret is accepted, so a sender can move to a new one without downtime. */
  secrets: z.array(z.string().min(32, 'an HMAC secret must be at least 32 characters')).min(1),
  /** A signature older or newer than this is stale (a replay or a badly skewed clock). */
  toleranceSeconds: z.number().int().min(1).max(3600).default(300),
});

const snsSchema = z.strictObject({
  mode: z.literal('sns'),
  /** Topics allowed to post: SNS signs every topic's messages, including an attacker's own topic. */
  topicArns: z.array(z.string().regex(/^arn:aws[a-z-]*:sns:/, 'must be an SNS topic ARN')).min(1),
  /** Messages older than this are refused; SNS retries an HTTP delivery for up to about an hour. */
  toleranceSeconds: z
    .number()
    .int()
    .min(60)
    .max(24 * 3600)
    .default(3600),
  /** Hosts the signing certificate may come from (a regular expression); AWS's own by default. */
  certHostPattern: z.string().min(1).default(SNS_CERT_HOST),
  /** Extra CA certificates (PEM) trusted when fetching the signing certificate, e.g. behind a TLS proxy. */
  caFile: z.string().min(1).optional(),
});

export const sourceAuthSchema = z.discriminatedUnion('mode', [
  z.strictObject({ mode: z.literal('token') }),
  hmacSchema,
  snsSchema,
]);
export type SourceAuth = z.output<typeof sourceAuthSchema>;
export type HmacSourceAuth = z.output<typeof hmacSchema>;
export type SnsSourceAuth = z.output<typeof snsSchema>;
export type SourceAuthSettings = Partial<Record<SourceName, SourceAuth>>;

/** The `sourceAuth` setting: how each named source authenticates; a bearer token when it is not named. */
export const sourceAuthSettingsSchema = z
  .partialRecord(z.enum(SOURCE_NAMES), sourceAuthSchema)
  .superRefine((value, context) => {
    for (const [source, settings] of Object.entries(value))
      if (settings?.mode === 'sns' && source !== 'cloudwatch')
        context.addIssue({
          code: 'custom',
          path: [source, 'mode'],
          message: 'SNS signatures apply to the cloudwatch source only',
        });
  });
