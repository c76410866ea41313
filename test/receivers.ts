/**
 * Local stand-ins for the receivers OPX notifies: one HTTP server with fake Slack, Microsoft Teams,
 * PagerDuty, Opsgenie and generic-webhook endpoints, and an SMTP server. Each checks a request the way
 * the real receiver does and answers in its format; a test can script the next answers to see failures.
 */
import { randomUUID, timingSafeEqual } from 'node:crypto';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerError } from 'smtp-server';
import { HMAC_SIGNATURE_HEADER, HMAC_TIMESTAMP_HEADER, hmacSignature } from '../src/auth/sources.js';

export const RECEIVER_KINDS = ['slack', 'teams', 'pagerduty', 'opsgenie', 'webhook'] as const;
export type ReceiverKind = (typeof RECEIVER_KINDS)[number];

export interface ReceivedRequest {
  method: string;
  /** Path and query, e.g. `/opsgenie/v2/alerts/opx-inc_1/close?identifierType=alias`. */
  path: string;
  headers: IncomingHttpHeaders;
  /** The body as sent. */
  raw: string;
  /** The body parsed as JSON; the raw text when it is not JSON. */
  body: unknown;
  /** Epoch milliseconds. */
  at: number;
  /** The status this receiver answered. */
  answered: number;
}

/** One scripted answer, used instead of the receiver's own for the next request of its kind. */
export interface ScriptedAnswer {
  status: number;
  /** Sent as `Retry-After`: seconds, or the text as is (an HTTP date). */
  retryAfter?: number | string;
  /** Defaults to what the receiver says for that status (Slack's `rate_limited`, a JSON error, …). */
  body?: string | Record<string, unknown>;
  headers?: Record<string, string>;
  /** Waits this long before answering (to outlast a sender's timeout). */
  delayMs?: number;
}

export interface Receivers {
  /** `http://127.0.0.1:<port>`; endpoints are `/slack/…`, `/teams/…`, `/pagerduty/v2/enqueue`, `/opsgenie/v2/alerts…`, `/webhook/…`. */
  url: string;
  received: Record<ReceiverKind, ReceivedRequest[]>;
  failNext(kind: ReceiverKind, answers: ScriptedAnswer[]): void;
  /** Forgets what was received and scripted. */
  reset(): void;
  close(): Promise<void>;
}

export interface ReceiverOptions {
  /** The generic webhook's HMAC secret. */
  webhookSecret?: string;
  /** The only Opsgenie API key accepted; any `GenieKey …` when unset. */
  opsgenieKey?: string;
  /** How old a webhook signature's timestamp may be, in seconds (300). */
  toleranceSeconds?: number;
}

interface Answer {
  status: number;
  body: string | Record<string, unknown>;
  headers?: Record<string, string>;
}

const SLACK_ERRORS: Record<number, string> = {
  400: 'invalid_payload',
  403: 'action_prohibited',
  404: 'no_service',
  410: 'channel_is_archived',
  429: 'rate_limited',
};

function defaultBody(kind: ReceiverKind, status: number): string | Record<string, unknown> {
  const reason = STATUS_CODES[status] ?? 'Error';
  switch (kind) {
    case 'slack':
      return SLACK_ERRORS[status] ?? (status >= 500 ? 'internal_error' : reason);
    case 'pagerduty':
      return { status: reason, message: reason, errors: [] };
    case 'opsgenie':
      return { message: reason, took: 0.001, requestId: randomUUID() };
    default:
      return reason;
  }
}

function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function slack(body: unknown): Answer {
  if (!isRecord(body)) return { status: 400, body: 'invalid_payload' };
  const hasText = typeof body.text === 'string' && body.text !== '';
  const hasBlocks = Array.isArray(body.blocks) && body.blocks.length > 0;
  if (!hasText && !hasBlocks) return { status: 400, body: 'invalid_payload' };
  if (body.blocks !== undefined) {
    if (!Array.isArray(body.blocks) || body.blocks.length > 50)
      return { status: 400, body: 'invalid_blocks' };
    for (const block of body.blocks) {
      if (!isRecord(block) || typeof block.type !== 'string') return { status: 400, body: 'invalid_blocks' };
      const text = isRecord(block.text) ? block.text : undefined;
      if (block.type === 'header' && (text?.type !== 'plain_text' || String(text.text).length > 150))
        return { status: 400, body: 'invalid_blocks' };
      if (block.type === 'section') {
        const fields = block.fields;
        if (fields !== undefined && (!Array.isArray(fields) || fields.length > 10))
          return { status: 400, body: 'invalid_blocks' };
        if (text === undefined && fields === undefined) return { status: 400, body: 'invalid_blocks' };
      }
    }
  }
  return { status: 200, body: 'ok' };
}

function teams(body: unknown): Answer {
  const bad: Answer = { status: 400, body: 'Bad payload received by generic incoming webhook.' };
  if (!isRecord(body) || !Array.isArray(body.attachments)) return bad;
  const first: unknown = body.attachments[0];
  if (!isRecord(first) || first.contentType !== 'application/vnd.microsoft.card.adaptive') return bad;
  if (!isRecord(first.content) || first.content.type !== 'AdaptiveCard' || !Array.isArray(first.content.body))
    return bad;
  return { status: 202, body: '' };
}

function pagerduty(body: unknown): Answer {
  const errors: string[] = [];
  if (!isRecord(body)) errors.push('Event object is not JSON.');
  else {
    if (typeof body.routing_key !== 'string' || body.routing_key === '')
      errors.push("'routing_key' is missing.");
    const action = body.event_action;
    if (action !== 'trigger' && action !== 'acknowledge' && action !== 'resolve')
      errors.push("'event_action' is invalid (must be one of: trigger, acknowledge, resolve).");
    if (action !== 'trigger' && (typeof body.dedup_key !== 'string' || body.dedup_key === ''))
      errors.push("'dedup_key' is missing: acknowledge and resolve events need it.");
    if (action === 'trigger') {
      const payload = isRecord(body.payload) ? body.payload : undefined;
      if (payload === undefined) errors.push("'payload' is missing.");
      else {
        if (typeof payload.summary !== 'string' || payload.summary === '')
          errors.push("'payload.summary' is missing.");
        else if (payload.summary.length > 1024)
          errors.push("'payload.summary' is longer than 1024 characters.");
        if (typeof payload.source !== 'string' || payload.source === '')
          errors.push("'payload.source' is missing.");
        if (!['critical', 'error', 'warning', 'info'].includes(String(payload.severity)))
          errors.push("'payload.severity' is invalid (must be one of: critical, error, warning, info).");
      }
    }
  }
  if (errors.length > 0)
    return { status: 400, body: { status: 'invalid event', message: 'Event object is invalid', errors } };
  const dedupKey = isRecord(body) && typeof body.dedup_key === 'string' ? body.dedup_key : randomUUID();
  return { status: 202, body: { status: 'success', message: 'Event processed', dedup_key: dedupKey } };
}

function opsgenie(
  path: string,
  headers: IncomingHttpHeaders,
  body: unknown,
  key: string | undefined,
): Answer {
  const requestId = randomUUID();
  const authorization = header(headers, 'authorization') ?? '';
  const offered = /^GenieKey (\S+)$/.exec(authorization)?.[1];
  if (offered === undefined || (key !== undefined && offered !== key))
    return { status: 401, body: { message: 'Could not authenticate', took: 0.001, requestId } };
  const url = new URL(path, 'http://opsgenie.invalid');
  const unprocessable = (errors: Record<string, string>): Answer => ({
    status: 422,
    body: {
      message: 'Request body is not processable. Please check the errors.',
      errors,
      took: 0.001,
      requestId,
    },
  });
  const accepted: Answer = {
    status: 202,
    body: { result: 'Request will be processed', took: 0.002, requestId },
  };
  if (!isRecord(body)) return unprocessable({ body: 'Must be a JSON object.' });
  if (url.pathname === '/opsgenie/v2/alerts') {
    if (typeof body.message !== 'string' || body.message.trim() === '')
      return unprocessable({ message: 'Message can not be empty.' });
    if (body.message.length > 130)
      return unprocessable({ message: 'Message can be at most 130 characters.' });
    return accepted;
  }
  const action = /^\/opsgenie\/v2\/alerts\/[^/]+\/(close|notes)$/.exec(url.pathname)?.[1];
  if (action === undefined) return { status: 404, body: { message: 'Not found', took: 0.001, requestId } };
  const identifierType = url.searchParams.get('identifierType') ?? 'id';
  if (!['id', 'alias', 'tiny'].includes(identifierType))
    return unprocessable({ identifierType: 'Must be one of id, alias, tiny.' });
  if (action === 'notes' && (typeof body.note !== 'string' || body.note === ''))
    return unprocessable({ note: 'Note can not be empty.' });
  return accepted;
}

function webhook(
  headers: IncomingHttpHeaders,
  raw: string,
  secret: string,
  toleranceSeconds: number,
): Answer {
  const timestamp = header(headers, HMAC_TIMESTAMP_HEADER);
  const signature = header(headers, HMAC_SIGNATURE_HEADER);
  if (timestamp === undefined || signature === undefined || !/^\d{1,12}$/.test(timestamp))
    return { status: 401, body: { error: 'missing signature' } };
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > toleranceSeconds)
    return { status: 401, body: { error: 'stale signature' } };
  const expected = Buffer.from(hmacSignature(secret, timestamp, raw));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given))
    return { status: 401, body: { error: 'bad signature' } };
  return { status: 200, body: { received: true } };
}

function kindOf(path: string): ReceiverKind | undefined {
  if (path.startsWith('/slack/')) return 'slack';
  if (path.startsWith('/teams/')) return 'teams';
  if (path === '/pagerduty/v2/enqueue') return 'pagerduty';
  if (path.startsWith('/opsgenie/v2/alerts')) return 'opsgenie';
  if (path.startsWith('/webhook/')) return 'webhook';
  return undefined;
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function send(response: ServerResponse, answer: Answer): void {
  if (response.destroyed) return;
  const json = typeof answer.body !== 'string';
  const text = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
  response.writeHead(answer.status, {
    'content-type': json ? 'application/json' : 'text/plain; charset=utf-8',
    ...answer.headers,
  });
  response.end(text);
}

export async function startReceivers(options: ReceiverOptions = {}): Promise<Receivers> {
  const webhookSecret = options.webhookSecret ?? 'receiver-webhook-secret-0123456789';
  const toleranceSeconds = options.toleranceSeconds ?? 300;
  const received = Object.fromEntries(RECEIVER_KINDS.map((kind) => [kind, []])) as unknown as Record<
    ReceiverKind,
    ReceivedRequest[]
  >;
  const scripts = new Map<ReceiverKind, ScriptedAnswer[]>();

  const server = createServer((request, response) => {
    void (async () => {
      const raw = await readBody(request);
      const path = request.url ?? '/';
      const kind = kindOf(path.split('?')[0] ?? path);
      if (kind === undefined) return send(response, { status: 404, body: 'not found' });
      const headers = request.headers;
      const body = parseJson(raw);
      const scripted = scripts.get(kind)?.shift();
      let answer: Answer;
      if (scripted !== undefined) {
        answer = {
          status: scripted.status,
          body: scripted.body ?? defaultBody(kind, scripted.status),
          headers: {
            ...(scripted.retryAfter === undefined ? {} : { 'retry-after': String(scripted.retryAfter) }),
            ...scripted.headers,
          },
        };
      } else if (request.method !== 'POST') answer = { status: 405, body: 'method not allowed' };
      else
        switch (kind) {
          case 'slack':
            answer = slack(body);
            break;
          case 'teams':
            answer = teams(body);
            break;
          case 'pagerduty':
            answer = pagerduty(body);
            break;
          case 'opsgenie':
            answer = opsgenie(path, headers, body, options.opsgenieKey);
            break;
          case 'webhook':
            answer = webhook(headers, raw, webhookSecret, toleranceSeconds);
            break;
        }
      received[kind].push({
        method: request.method ?? 'GET',
        path,
        headers,
        raw,
        body,
        at: Date.now(),
        answered: answer.status,
      });
      if (scripted?.delayMs !== undefined)
        await new Promise((resolve) => setTimeout(resolve, scripted.delayMs));
      send(response, answer);
    })().catch(() => {
      if (!response.headersSent && !response.destroyed)
        send(response, { status: 500, body: 'receiver failed' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    received,
    failNext(kind, answers) {
      scripts.set(kind, [...(scripts.get(kind) ?? []), ...answers]);
    },
    reset() {
      for (const kind of RECEIVER_KINDS) received[kind].length = 0;
      scripts.clear();
    },
    close() {
      return new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}

// --- SMTP ----------------------------------------------------------------------------------------------

export interface SmtpMessage {
  /** The envelope's MAIL FROM. */
  from: string | null;
  /** The envelope's RCPT TOs. */
  to: string[];
  /** The message as sent: headers and body. */
  raw: string;
  /** The authenticated user, when the client logged in. */
  user: string | null;
  at: number;
}

export interface SmtpRejection {
  /** A 4xx (try later) or 5xx (refused) SMTP reply code. */
  code: number;
  message?: string;
}

export interface SmtpReceiver {
  host: string;
  port: number;
  messages: SmtpMessage[];
  /** The next messages are refused, one rejection each, at the end of DATA. */
  rejectNext(rejections: SmtpRejection[]): void;
  close(): Promise<void>;
}

export interface SmtpOptions {
  /** Accepted logins; when unset any login is accepted (and none is required). */
  users?: Record<string, string>;
}

export async function startSmtp(options: SmtpOptions = {}): Promise<SmtpReceiver> {
  const messages: SmtpMessage[] = [];
  const rejections: SmtpRejection[] = [];
  const server = new SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS'],
    authOptional: true,
    allowInsecureAuth: true,
    logger: false,
    disableReverseLookup: true,
    closeTimeout: 1000,
    onAuth(auth, _session, callback) {
      const users = options.users;
      if (users !== undefined && (auth.username === undefined || users[auth.username] !== auth.password)) {
        const error: SMTPServerError = new Error('Invalid username or password');
        error.responseCode = 535;
        callback(error);
        return;
      }
      callback(null, { user: auth.username });
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const rejection = rejections.shift();
        if (rejection !== undefined) {
          const error: SMTPServerError = new Error(
            rejection.message ?? (rejection.code < 500 ? 'Try again later' : 'Message refused'),
          );
          error.responseCode = rejection.code;
          callback(error);
          return;
        }
        const mailFrom = session.envelope.mailFrom;
        messages.push({
          from: mailFrom === false ? null : mailFrom.address,
          to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
          raw: Buffer.concat(chunks).toString('utf8'),
          user: typeof session.user === 'string' ? session.user : null,
          at: Date.now(),
        });
        callback(null, `Queued as ${randomUUID()}`);
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.server.address() as AddressInfo;
  return {
    host: '127.0.0.1',
    port,
    messages,
    rejectNext(next) {
      rejections.push(...next);
    },
    close() {
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
