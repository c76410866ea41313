import { z } from 'zod';
import { type IncidentSeverity, incidentSeveritySchema } from './common.js';

/**
 * Notifications: channels (where a message goes, with its secret), routes (which incidents go to which
 * channels) and the notice a channel renders. The outbox and delivery live in src/notify/ and the store.
 */

export const CHANNEL_TYPES = ['slack', 'teams', 'pagerduty', 'opsgenie', 'webhook', 'email'] as const;
export type ChannelType = (typeof CHANNEL_TYPES)[number];

/** What a receiver is told about. `test` is `opx notify test`'s sample. */
export const NOTIFY_EVENTS = ['opened', 'origin_moved', 'severity_raised', 'resolved'] as const;
export const notifyEventSchema = z.enum(NOTIFY_EVENTS);
export type NotifyEvent = z.infer<typeof notifyEventSchema>;
export type NoticeEvent = NotifyEvent | 'test';

const name = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'must be 1-63 of a-z 0-9 . _ -, starting with a letter or digit');
const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(2048);

/** Each channel type: its settings (shown back) and its secret (encrypted at rest, never shown back). */
export const channelInputSchema = z.discriminatedUnion('type', [
  z.strictObject({
    name,
    type: z.literal('slack'),
    settings: z.strictObject({}).default({}),
    secret: z.strictObject({ url: httpUrl }),
  }),
  z.strictObject({
    name,
    type: z.literal('teams'),
    settings: z.strictObject({}).default({}),
    secret: z.strictObject({ url: httpUrl }),
  }),
  z.strictObject({
    name,
    type: z.literal('pagerduty'),
    settings: z
      .strictObject({ url: httpUrl.default('https://events.pagerduty.com/v2/enqueue') })
      .default({ url: 'https://events.pagerduty.com/v2/enqueue' }),
    secret: z.strictObject({ routingKey: z.string().min(1).max(256) }),
  }),
  z.strictObject({
    name,
    type: z.literal('opsgenie'),
    settings: z
      .strictObject({
        /** https://api.eu.opsgenie.com for the EU instance. */
        url: httpUrl.default('https://api.opsgenie.com'),
        responders: z
          .array(
            z.strictObject({ type: z.enum(['team', 'user', 'escalation', 'schedule']), name: z.string() }),
          )
          .max(50)
          .default([]),
      })
      .default({ url: 'https://api.opsgenie.com', responders: [] }),
    secret: z.strictObject({ apiKey: z.string().min(1).max(256) }),
  }),
  z.strictObject({
    name,
    type: z.literal('webhook'),
    settings: z.strictObject({}).default({}),
    /** `hmacSecret` signs each body the way OPX's own ingest checks signatures (src/auth/sources.ts). */
    secret: z.strictObject({ url: httpUrl, hmacSecret: z.string().min(16).max(512) }),
  }),
  z.strictObject({
    name,
    type: z.literal('email'),
    settings: z.strictObject({
      host: z.string().min(1).max(255),
      port: z.number().int().min(1).max(65_535).default(587),
      /** TLS from the first byte (port 465); otherwise STARTTLS when the server offers it. */
      secure: z.boolean().default(false),
      from: z.email(),
      to: z.array(z.email()).min(1).max(100),
      username: z.string().max(255).optional(),
    }),
    secret: z.strictObject({ password: z.string().max(1024).optional() }).default({}),
  }),
]);
export type ChannelInput = z.infer<typeof channelInputSchema>;
export type ChannelSettings<T extends ChannelType> = Extract<ChannelInput, { type: T }>['settings'];
export type ChannelSecret<T extends ChannelType> = Extract<ChannelInput, { type: T }>['secret'];

/** A channel as stored and used by a sender: the secret decrypted. */
export type Channel = ChannelInput & { id: string; createdAt: number; updatedAt: number };

/** A channel as shown: never its secret. */
export interface ChannelView {
  id: string;
  name: string;
  type: ChannelType;
  settings: Record<string, unknown>;
  createdAt: number;
  updatedAt: number;
}

export const routeMatchSchema = z
  .strictObject({
    /** Any incident service in this list. */
    services: z.array(z.string().min(1).max(200)).max(500).optional(),
    severities: z.array(incidentSeveritySchema).min(1).optional(),
    environments: z.array(z.string().min(1).max(100)).max(50).optional(),
    /** Every pair present on at least one of the incident's signals. */
    labels: z.record(z.string().max(256), z.string().max(1024)).optional(),
  })
  .default({});
export type RouteMatch = z.infer<typeof routeMatchSchema>;

export const routeInputSchema = z.strictObject({
  name,
  match: routeMatchSchema,
  /** Channel names. */
  channels: z.array(name).min(1).max(20),
  events: z
    .array(notifyEventSchema)
    .min(1)
    .default([...NOTIFY_EVENTS]),
  enabled: z.boolean().default(true),
});
export type RouteInput = z.infer<typeof routeInputSchema>;
export type Route = RouteInput & { id: string; createdAt: number; updatedAt: number };

/** What a route is matched against: the incident, and the labels of its signals. */
export interface RouteSubject {
  services: readonly string[];
  severity: IncidentSeverity;
  environment: string | null;
  signalLabels: readonly Record<string, string>[];
}

/** Whether `route` selects the incident. An empty match selects every incident. */
export function routeMatches(match: RouteMatch, subject: RouteSubject): boolean {
  if (match.services && !subject.services.some((service) => match.services!.includes(service))) return false;
  if (match.severities && !match.severities.includes(subject.severity)) return false;
  if (match.environments && !match.environments.includes(subject.environment ?? '')) return false;
  const wanted = Object.entries(match.labels ?? {});
  if (
    wanted.length > 0 &&
    !subject.signalLabels.some((labels) => wanted.every(([key, value]) => labels[key] === value))
  )
    return false;
  return true;
}

/** Everything a channel needs to render one message; taken when the delivery is created and kept. */
export interface Notice {
  /** The delivery's id: the receiver's idempotency key where the channel has one. */
  deliveryId: string;
  event: NoticeEvent;
  at: number;
  incident: {
    id: string;
    title: string;
    severity: IncidentSeverity;
    status: string;
    environment: string | null;
    services: string[];
    /** The current probable origin. */
    rootService: string | null;
    startedAt: number;
    resolvedAt: number | null;
    mergedInto: string | null;
  };
  /** For `severity_raised` and `origin_moved`: what it was before. */
  previous?: { severity?: IncidentSeverity; rootService?: string | null };
  /** The investigation's probable cause, when it has answered. */
  cause: { summary: string; confidence: number } | null;
  /** The first recommendation, when there is one. */
  recommendation: { id: string; title: string } | null;
  /** The incident in the console; null when OPX_PUBLIC_URL is not set. */
  url: string | null;
}

/** A delivery's state: `pending` until sent (retries included), `dead` after its last attempt. */
export const DELIVERY_STATUSES = ['pending', 'sent', 'skipped', 'dead'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** A delivery's state and the receiver's last answer; `Time` is epoch ms in the store, ISO-8601 text in the API. */
export interface DeliveryRecord<Time> {
  id: string;
  jobId: string;
  incidentId: string | null;
  channelId: string;
  /** Null once the channel is deleted. */
  channelName: string | null;
  channelType: ChannelType | null;
  routeId: string | null;
  event: NoticeEvent;
  status: DeliveryStatus;
  attempts: number;
  /** When the next attempt is due, while pending. */
  nextAttemptAt: Time | null;
  lastError: string | null;
  detail: string | null;
  createdAt: Time;
  finishedAt: Time | null;
}

/** A delivery as `GET /v1/notifications/deliveries` lists it; never the channel's secret. */
export interface DeliveryView extends DeliveryRecord<string> {
  /** The incident's title and severity as the message has them. */
  title: string | null;
  severity: IncidentSeverity | null;
}

/** PagerDuty's and Opsgenie's deduplication key: one per incident, so a trigger and its resolve meet. */
export function incidentDedupKey(incidentId: string): string {
  return `opx-${incidentId}`;
}
