import { createTransport, type NodemailerError } from 'nodemailer';
import { HMAC_SIGNATURE_HEADER, HMAC_TIMESTAMP_HEADER, hmacSignature } from '../auth/sources.js';
import type { IncidentSeverity } from '../domain/common.js';
import { JobAttemptError } from '../domain/jobs.js';
import { type Channel, type ChannelType, incidentDedupKey, type Notice } from '../domain/notification.js';
import { eventLabel, plainText, renderNotice, truncate } from './render.js';

/**
 * The senders of OPX's notification channels: each renders a notice in its receiver's format and sends
 * it once. Retrying is the worker's: a failure is a DeliveryError saying whether to try again, and when.
 * No message or receipt names a channel's secret (a webhook URL is one).
 */

/** A failed send. `final` when the receiver will never take this request; `status` is its HTTP answer. */
export class DeliveryError extends JobAttemptError {
  readonly status: number | undefined;

  constructor(
    message: string,
    options: { status?: number; retryAfterMs?: number; final?: boolean; cause?: unknown } = {},
  ) {
    super(message, options);
    this.name = 'DeliveryError';
    this.status = options.status;
  }
}

/** What the receiver answered to a successful send: HTTP status (SMTP reply code for email), and its words. */
export interface SendReceipt {
  status: number;
  detail: string;
}

export interface SendOptions {
  /** Per send; 10 s for HTTP channels, 30 s for email. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export const DEFAULT_HTTP_TIMEOUT_MS = 10_000;
export const DEFAULT_SMTP_TIMEOUT_MS = 30_000;
/** The longest Retry-After honoured; a receiver asking for more is retried after this. */
export const MAX_RETRY_AFTER_MS = 60 * 60 * 1000;
/** PagerDuty sends no Retry-After with its 429. */
const PAGERDUTY_RATE_LIMIT_WAIT_MS = 30_000;
/** How much of an answer is read; the rest is discarded. */
const MAX_ANSWER_BYTES = 16 * 1024;
const MAX_DETAIL = 300;
const USER_AGENT = 'opx-notify';

export async function sendNotice(
  channel: Channel,
  notice: Notice,
  options: SendOptions = {},
): Promise<SendReceipt> {
  switch (channel.type) {
    case 'slack':
      return postJson(channel, channel.secret.url, slackMessage(notice), {}, options);
    case 'teams':
      return postJson(channel, channel.secret.url, teamsMessage(notice), {}, options);
    case 'pagerduty':
      return postJson(
        channel,
        channel.settings.url,
        pagerDutyEvent(notice, channel.secret.routingKey),
        {},
        options,
      );
    case 'opsgenie': {
      const request = opsgenieRequest(notice, channel.settings.responders);
      const url = `${channel.settings.url.replace(/\/+$/, '')}${request.path}`;
      const headers = { authorization: `GenieKey ${channel.secret.apiKey}` };
      return postJson(channel, url, request.body, headers, options);
    }
    case 'webhook': {
      const body = JSON.stringify(webhookBody(notice));
      const timestamp = String(Math.floor(Date.now() / 1000));
      const headers = {
        'x-opx-delivery': notice.deliveryId,
        'x-opx-event': notice.event,
        [HMAC_TIMESTAMP_HEADER]: timestamp,
        [HMAC_SIGNATURE_HEADER]: hmacSignature(channel.secret.hmacSecret, timestamp, body),
      };
      return post(channel, channel.secret.url, body, headers, options);
    }
    case 'email':
      return sendEmail(channel, notice, options);
  }
}

// --- Slack -------------------------------------------------------------------------------------------

/** Slack's mrkdwn treats only these three as control characters. */
function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function slackMessage(notice: Notice): { text: string; blocks: unknown[] } {
  const text = renderNotice(notice);
  const blocks: unknown[] = [
    {
      type: 'header',
      text: { type: 'plain_text', text: truncate(`${text.icon} ${text.headline}`, 150), emoji: true },
    },
    { type: 'section', text: { type: 'mrkdwn', text: truncate(slackEscape(text.summary), 3000) } },
    {
      type: 'section',
      fields: text.facts.slice(0, 10).map((fact) => ({
        type: 'mrkdwn',
        text: truncate(`*${fact.name}*\n${slackEscape(fact.value)}`, 2000),
      })),
    },
  ];
  const advice = [text.cause, text.recommendation].filter((line): line is string => line !== null);
  if (advice.length > 0)
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: truncate(advice.map(slackEscape).join('\n'), 3000) },
    });
  if (notice.url !== null)
    blocks.push({
      type: 'actions',
      elements: [
        {
          type: 'button',
          action_id: 'opx_open_incident',
          text: { type: 'plain_text', text: 'Open in OPX' },
          url: notice.url,
        },
      ],
    });
  blocks.push({
    type: 'context',
    elements: [{ type: 'mrkdwn', text: `OPX · incident ${notice.incident.id}` }],
  });
  return { text: truncate(slackEscape(`${text.icon} ${text.headline}: ${text.summary}`), 3000), blocks };
}

// --- Microsoft Teams -----------------------------------------------------------------------------------

export function teamsMessage(notice: Notice): unknown {
  const text = renderNotice(notice);
  const severe = notice.incident.severity === 'SEV1' || notice.incident.severity === 'SEV2';
  const color =
    notice.event === 'resolved'
      ? 'Good'
      : notice.event === 'test'
        ? 'Default'
        : severe
          ? 'Attention'
          : 'Warning';
  const body: unknown[] = [
    {
      type: 'TextBlock',
      text: `${text.icon} ${text.headline}`,
      size: 'Large',
      weight: 'Bolder',
      color,
      wrap: true,
      style: 'heading',
    },
    { type: 'TextBlock', text: text.summary, wrap: true },
    { type: 'FactSet', facts: text.facts.map((fact) => ({ title: fact.name, value: fact.value })) },
  ];
  for (const line of [text.cause, text.recommendation])
    if (line !== null) body.push({ type: 'TextBlock', text: truncate(line, 2000), wrap: true });
  const content: Record<string, unknown> = {
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    type: 'AdaptiveCard',
    version: '1.4',
    body,
    msteams: { width: 'Full' },
  };
  if (notice.url !== null)
    content.actions = [{ type: 'Action.OpenUrl', title: 'Open in OPX', url: notice.url }];
  return {
    type: 'message',
    attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', contentUrl: null, content }],
  };
}

// --- PagerDuty (Events API v2) ---------------------------------------------------------------------------

const PAGERDUTY_SEVERITY: Record<IncidentSeverity, string> = {
  SEV1: 'critical',
  SEV2: 'error',
  SEV3: 'warning',
  SEV4: 'info',
};

/** A `test` gets its own key, so that it never lands on, or resolves, a real incident's alert. */
function dedupKey(notice: Notice): string {
  return notice.event === 'test' ? `opx-test-${notice.deliveryId}` : incidentDedupKey(notice.incident.id);
}

/** Named facts without the empty ones, as strings. */
function details(notice: Notice): Record<string, string> {
  const { incident } = notice;
  const all: Record<string, string | null | undefined> = {
    event: notice.event,
    incident_id: incident.id,
    title: incident.title,
    severity: incident.severity,
    status: incident.status,
    environment: incident.environment,
    services: incident.services.join(', '),
    root_service: incident.rootService,
    started_at: new Date(incident.startedAt).toISOString(),
    resolved_at: incident.resolvedAt === null ? null : new Date(incident.resolvedAt).toISOString(),
    merged_into: incident.mergedInto,
    previous_severity: notice.previous?.severity,
    previous_root_service:
      notice.previous && 'rootService' in notice.previous ? (notice.previous.rootService ?? 'unknown') : null,
    probable_cause: notice.cause?.summary,
    cause_confidence: notice.cause === null ? null : `${Math.round(notice.cause.confidence * 100)}%`,
    first_recommendation: notice.recommendation?.title,
    console: notice.url,
    delivery_id: notice.deliveryId,
  };
  return Object.fromEntries(
    Object.entries(all).filter(
      (entry): entry is [string, string] => typeof entry[1] === 'string' && entry[1] !== '',
    ),
  );
}

export function pagerDutyEvent(notice: Notice, routingKey: string): Record<string, unknown> {
  const dedup_key = dedupKey(notice);
  if (notice.event === 'resolved') return { routing_key: routingKey, event_action: 'resolve', dedup_key };
  const text = renderNotice(notice);
  const { incident } = notice;
  const payload: Record<string, unknown> = {
    summary: truncate(`${text.headline} — ${text.summary}`, 1024),
    source: 'opx',
    severity: PAGERDUTY_SEVERITY[incident.severity],
    timestamp: new Date(notice.at).toISOString(),
    class: notice.event,
    custom_details: details(notice),
  };
  const component = incident.rootService ?? incident.services[0];
  if (component !== undefined) payload.component = component;
  if (incident.environment !== null) payload.group = incident.environment;
  const event: Record<string, unknown> = {
    routing_key: routingKey,
    event_action: 'trigger',
    dedup_key,
    payload,
    client: 'OPX',
  };
  if (notice.url !== null) {
    event.links = [{ href: notice.url, text: 'Open in OPX' }];
    event.client_url = notice.url;
  }
  return event;
}

// --- Opsgenie (Alert API v2) ---------------------------------------------------------------------------

const OPSGENIE_PRIORITY: Record<IncidentSeverity, string> = {
  SEV1: 'P1',
  SEV2: 'P2',
  SEV3: 'P3',
  SEV4: 'P4',
};

type Responders = Extract<Channel, { type: 'opsgenie' }>['settings']['responders'];

/** The request for a notice: create an alert, add a note to it, or close it; by alias, one per incident. */
export function opsgenieRequest(notice: Notice, responders: Responders): { path: string; body: unknown } {
  const text = renderNotice(notice);
  const alias = dedupKey(notice);
  const byAlias = `/v2/alerts/${encodeURIComponent(alias)}`;
  const note = truncate(
    [`${text.headline}.`, text.summary, notice.url === null ? '' : `Open in OPX: ${notice.url}`]
      .filter((line) => line !== '')
      .join(' '),
    25_000,
  );
  switch (notice.event) {
    case 'resolved':
      return { path: `${byAlias}/close?identifierType=alias`, body: { source: 'OPX', note } };
    case 'origin_moved':
    case 'severity_raised':
      return { path: `${byAlias}/notes?identifierType=alias`, body: { source: 'OPX', note } };
    case 'opened':
    case 'test':
      break;
  }
  const { incident } = notice;
  const tags = [
    ...new Set(
      [
        'opx',
        incident.severity,
        incident.environment === null ? null : `env:${incident.environment}`,
        ...incident.services,
      ]
        .filter((tag): tag is string => tag !== null)
        .map((tag) => truncate(tag, 50)),
    ),
  ].slice(0, 20);
  const body: Record<string, unknown> = {
    message: truncate(`${incident.severity} ${eventLabel(notice.event)}: ${incident.title}`, 130),
    alias,
    description: truncate(plainText(notice, text), 15_000),
    tags,
    details: details(notice),
    source: 'OPX',
    priority: OPSGENIE_PRIORITY[incident.severity],
  };
  if (responders.length > 0) body.responders = responders;
  if (incident.rootService !== null) body.entity = truncate(incident.rootService, 512);
  return { path: '/v2/alerts', body };
}

// --- Generic webhook -----------------------------------------------------------------------------------

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

export function webhookBody(notice: Notice): Record<string, unknown> {
  const { incident } = notice;
  return {
    version: 1,
    deliveryId: notice.deliveryId,
    event: notice.event,
    at: iso(notice.at),
    incident: { ...incident, startedAt: iso(incident.startedAt), resolvedAt: iso(incident.resolvedAt) },
    previous: notice.previous ?? null,
    cause: notice.cause,
    recommendation: notice.recommendation,
    url: notice.url,
  };
}

// --- Email ---------------------------------------------------------------------------------------------

function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

export function emailMessage(notice: Notice): { subject: string; text: string; html: string } {
  const text = renderNotice(notice);
  const { incident } = notice;
  const subject = truncate(`[OPX ${incident.severity}] ${eventLabel(notice.event)}: ${incident.title}`, 250);
  const rows = text.facts
    .map(
      (fact) =>
        `<tr><th align="left" style="padding:2px 12px 2px 0">${escapeHtml(fact.name)}</th><td>${escapeHtml(fact.value)}</td></tr>`,
    )
    .join('');
  const advice = [text.cause, text.recommendation]
    .filter((line): line is string => line !== null)
    .map((line) => `<p>${escapeHtml(line)}</p>`)
    .join('');
  const link =
    notice.url === null ? '' : `<p><a href="${escapeHtml(notice.url)}">Open the incident in OPX</a></p>`;
  const html = `<!doctype html><html><body style="font-family:sans-serif"><h2>${escapeHtml(text.headline)}</h2><p>${escapeHtml(text.summary)}</p><table>${rows}</table>${advice}${link}</body></html>`;
  return { subject, text: plainText(notice, text), html };
}

/** SMTP failures that no second attempt with the same message and settings would change. */
const FINAL_SMTP_CODES = new Set(['ECONFIG', 'ENOAUTH', 'EENVELOPE', 'EMESSAGE', 'EAUTH', 'EMAXRECIPIENTS']);

async function sendEmail(
  channel: Extract<Channel, { type: 'email' }>,
  notice: Notice,
  options: SendOptions,
): Promise<SendReceipt> {
  const { settings } = channel;
  const timeoutMs = options.timeoutMs ?? DEFAULT_SMTP_TIMEOUT_MS;
  const deadline = AbortSignal.timeout(timeoutMs);
  const signal = options.signal === undefined ? deadline : AbortSignal.any([deadline, options.signal]);
  const transport = createTransport({
    host: settings.host,
    port: settings.port,
    secure: settings.secure,
    requireTLS: false,
    auth:
      settings.username === undefined
        ? undefined
        : { user: settings.username, pass: channel.secret.password ?? '' },
    tls: { rejectUnauthorized: true },
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
  });
  const message = emailMessage(notice);
  try {
    const info = await transport.sendMail({
      from: settings.from,
      to: settings.to,
      subject: message.subject,
      text: message.text,
      html: message.html,
      messageId: `<${notice.deliveryId}@opx>`,
      headers: {
        'X-OPX-Delivery': notice.deliveryId,
        'X-OPX-Event': notice.event,
        'X-OPX-Incident': notice.incident.id,
      },
      disableFileAccess: true,
      disableUrlAccess: true,
      signal,
    });
    const status = Number(/^\d{3}/.exec(info.response)?.[0] ?? 250);
    const rejected = info.rejected.length === 0 ? '' : `; ${info.rejected.length} recipient(s) rejected`;
    return { status, detail: truncate(`${oneLine(info.response)}${rejected}`, MAX_DETAIL) };
  } catch (error) {
    const secrets = secretsOf(channel);
    if (deadline.aborted)
      throw new DeliveryError(`email: the SMTP server did not finish within ${timeoutMs} ms`);
    if (options.signal?.aborted) throw new DeliveryError('email: the send was cancelled');
    const failure = (error ?? {}) as NodemailerError;
    const code = failure.responseCode;
    const said = redact(oneLine(failure.response ?? failure.message ?? String(error)), secrets);
    if (typeof code === 'number' && code >= 400)
      throw new DeliveryError(`email: the SMTP server answered ${truncate(said, 200)}`, {
        status: code,
        final: code >= 500,
      });
    throw new DeliveryError(`email: ${failure.code ?? 'error'} ${truncate(said, 200)}`, {
      final: failure.code !== undefined && FINAL_SMTP_CODES.has(failure.code),
    });
  } finally {
    transport.close();
  }
}

// --- HTTP ----------------------------------------------------------------------------------------------

function postJson(
  channel: Channel,
  url: string,
  body: unknown,
  headers: Record<string, string>,
  options: SendOptions,
): Promise<SendReceipt> {
  return post(channel, url, JSON.stringify(body), headers, options);
}

/** The strings that must never leave in a message: the secret, and for a URL its path and query. */
function secretsOf(channel: Channel): string[] {
  const values: string[] = [];
  const addUrl = (value: string) => {
    values.push(value);
    try {
      const url = new URL(value);
      values.push(`${url.pathname}${url.search}`, url.pathname, url.search);
      for (const param of url.searchParams.values()) values.push(param);
    } catch {
      // Settings are validated URLs; nothing more to hide otherwise.
    }
  };
  switch (channel.type) {
    case 'slack':
    case 'teams':
      addUrl(channel.secret.url);
      break;
    case 'webhook':
      addUrl(channel.secret.url);
      values.push(channel.secret.hmacSecret);
      break;
    case 'pagerduty':
      values.push(channel.secret.routingKey);
      break;
    case 'opsgenie':
      values.push(channel.secret.apiKey);
      break;
    case 'email':
      if (channel.secret.password !== undefined) values.push(channel.secret.password);
      break;
  }
  return values.filter((value) => value.length >= 6).sort((a, b) => b.length - a.length);
}

function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join('[redacted]');
  return out;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** The receiver's words: a JSON answer's message (and errors), else its text, on one line. */
function answerSnippet(body: string): string {
  const trimmed = body.trim();
  if (trimmed.startsWith('{')) {
    try {
      const parsed = JSON.parse(trimmed) as Record<string, unknown>;
      const words = [parsed.message, parsed.result, parsed.error].find((value) => typeof value === 'string');
      if (typeof words === 'string') {
        const errors = Array.isArray(parsed.errors)
          ? parsed.errors.filter((item) => typeof item === 'string')
          : [];
        const request = typeof parsed.requestId === 'string' ? ` (request ${parsed.requestId})` : '';
        return oneLine(`${words}${errors.length > 0 ? `: ${errors.join('; ')}` : ''}${request}`);
      }
    } catch {
      // Not JSON after all: shown as text.
    }
  }
  return oneLine(trimmed);
}

/** Reads at most MAX_ANSWER_BYTES of the answer and discards the rest; an unreadable body reads as empty. */
async function readAnswer(response: Response): Promise<string> {
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
      if (size >= MAX_ANSWER_BYTES) {
        await reader.cancel();
        break;
      }
    }
  } catch {
    // The deadline or a reset while reading: the status is what counts.
  }
  return Buffer.concat(chunks).subarray(0, MAX_ANSWER_BYTES).toString('utf8');
}

/** Milliseconds from a Retry-After of delay-seconds or an HTTP date, at most MAX_RETRY_AFTER_MS. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  let wait: number;
  if (/^\d+(\.\d+)?$/.test(trimmed)) wait = Number(trimmed) * 1000;
  else if (/[a-z]{3}/i.test(trimmed) && !Number.isNaN(Date.parse(trimmed))) wait = Date.parse(trimmed) - now;
  else return undefined;
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, Math.round(wait)));
}

/** Legacy Office 365 connectors answer 200 and name the failure in the body. */
function teamsHiddenStatus(body: string): number | undefined {
  const match = /returned HTTP error (\d{3})/.exec(body);
  return match === null ? undefined : Number(match[1]);
}

function answerError(type: ChannelType, status: number, snippet: string, headers: Headers): DeliveryError {
  if (status >= 300 && status < 400)
    return new DeliveryError(
      `${type} answered ${status}: redirects are not followed; configure the final URL`,
      {
        status,
        final: true,
      },
    );
  const message = `${type} answered ${status}${snippet === '' ? '' : ` ${truncate(snippet, 200)}`}`;
  if (status === 429 || status === 503) {
    const asked = parseRetryAfter(headers.get('retry-after'));
    const retryAfterMs =
      asked ?? (type === 'pagerduty' && status === 429 ? PAGERDUTY_RATE_LIMIT_WAIT_MS : undefined);
    return new DeliveryError(message, retryAfterMs === undefined ? { status } : { status, retryAfterMs });
  }
  if (status === 408 || status === 425 || status >= 500) return new DeliveryError(message, { status });
  return new DeliveryError(message, { status, final: true });
}

async function post(
  channel: Channel,
  url: string,
  body: string,
  headers: Record<string, string>,
  options: SendOptions,
): Promise<SendReceipt> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS;
  const deadline = AbortSignal.timeout(timeoutMs);
  const signal = options.signal === undefined ? deadline : AbortSignal.any([deadline, options.signal]);
  const secrets = secretsOf(channel);
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': USER_AGENT, ...headers },
      body,
      signal,
      redirect: 'manual',
    });
  } catch (error) {
    if (deadline.aborted) throw new DeliveryError(`${channel.type}: no answer within ${timeoutMs} ms`);
    if (options.signal?.aborted) throw new DeliveryError(`${channel.type}: the send was cancelled`);
    const cause = (error as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
    const reason =
      typeof cause?.code === 'string'
        ? cause.code
        : typeof cause?.message === 'string'
          ? cause.message
          : error instanceof Error
            ? error.message
            : String(error);
    throw new DeliveryError(
      `${channel.type}: could not reach the receiver (${redact(oneLine(reason), secrets)})`,
    );
  }
  const answer = await readAnswer(response);
  const snippet = redact(answerSnippet(answer), secrets);
  const status =
    channel.type === 'teams' && response.ok
      ? (teamsHiddenStatus(answer) ?? response.status)
      : response.status;
  if (status >= 200 && status < 300) return { status, detail: truncate(snippet, MAX_DETAIL) };
  throw answerError(channel.type, status, snippet, response.headers);
}
