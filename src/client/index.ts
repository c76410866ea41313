/**
 * A typed client for the OPX HTTP API, on the global fetch (Node 20, browsers). Every answer's type
 * comes from the zod schemas the server's route mappers are typed by (src/api/schemas.ts), and every
 * body's from the schemas the routes parse with, so a change to either shows here at compile time.
 * The imports are types only: this module loads nothing of the server.
 *
 *   const opx = new OpxClient({ baseUrl: 'http://127.0.0.1:8080', token });
 *   const { items } = await opx.listIncidents({ status: ['OPEN'], limit: 10 });
 *
 * A non-2xx answer throws OpxApiError with the API's `{ error: { code, message, path } }` body.
 */
import type { z } from 'zod';
import type {
  ChainVerificationView,
  ChangeRecorded,
  CloudWatchIngest,
  DecisionResponse,
  ErrorBody,
  Evidence,
  EvidenceFrozen,
  Health,
  IncidentDetail,
  IncidentEventList,
  IncidentList,
  IncidentView,
  IngestSummary,
  InvestigationList,
  InvestigationRun,
  KnowledgeDocument,
  KnowledgeSearch,
  MergeResponse,
  NoteResponse,
  RecommendationList,
  ReplayResultView,
  ServicesImported,
  SeverityResponse,
  SignalDetail,
  SignalList,
  SplitResponse,
  TraceList,
  TraceView,
  TransitionResponse,
  WhoAmI,
} from '../api/schemas.js';
import type { AlarmRow, AlarmTransition, AuditEntry, TokenReport } from '../domain/analytics.js';
import type { ChangeInput } from '../domain/change.js';
import type { IncidentSeverity } from '../domain/common.js';
import type {
  IncidentStatus,
  mergeInputSchema,
  resolveInputSchema,
  splitInputSchema,
  transitionInputSchema,
} from '../domain/incident.js';
import type { ChannelView, DeliveryStatus, DeliveryView, Notice, Route } from '../domain/notification.js';
import type { ServiceInput } from '../domain/service.js';
import type { SignalInput, SignalStatus } from '../domain/signal.js';

/** An answer's times are ISO-8601 text. */
type Iso<T, Keys extends keyof T> = Omit<T, Keys> & { [K in Keys]: string };

/** `GET /v1/alarms`: each alarm's state and the latest state changes, newest first. */
export interface AlarmList {
  alarms: Iso<AlarmRow, 'updatedAt'>[];
  history: Iso<AlarmTransition, 'at'>[];
}

/** `GET /v1/audit`. */
export interface AuditList {
  items: Iso<AuditEntry, 'at'>[];
}

/** `GET /v1/notifications/channels`: settings only; a channel's secret is never shown back. */
export interface ChannelList {
  items: Iso<ChannelView, 'createdAt' | 'updatedAt'>[];
}

/** `GET /v1/notifications/routes`. */
export interface RouteList {
  items: Iso<Route, 'createdAt' | 'updatedAt'>[];
}

/** `GET /v1/notifications/deliveries`, newest first. */
export interface DeliveryList {
  items: DeliveryView[];
}

/** `GET /v1/notifications/deliveries/:id`: the delivery with the message it sends. */
export type DeliveryDetail = DeliveryView & { notice: Notice };

export type * from '../api/schemas.js';
export type { DeliveryStatus, DeliveryView };

/** A non-2xx answer. `body` is the API's error body when it sent one (a proxy may send anything). */
export class OpxApiError extends Error {
  override readonly name = 'OpxApiError';

  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    /** The answer's text as received. */
    readonly text: string,
    readonly body: ErrorBody | undefined,
  ) {
    super(`${method} ${path} answered ${status}: ${text}`);
  }

  /** The stable error code (docs/api.md), or undefined when the answer was not OPX's error shape. */
  get code(): ErrorBody['error']['code'] | undefined {
    return this.body?.error.code;
  }

  /** Worth sending again: the store was busy or the rate limit was hit. */
  get retryable(): boolean {
    return this.status === 503 || this.status === 429;
  }
}

export interface OpxClientOptions {
  /** Where the API listens, e.g. `http://127.0.0.1:8080`; a trailing slash is ignored. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** Gives up on a request after this long (no limit when unset). */
  timeoutMs?: number;
  /** How many times to send a request again after a 503 (a busy store), waiting a little longer each time. */
  retryUnavailable?: number;
  /** Another fetch (tests, proxies); the global one by default. */
  fetch?: typeof fetch;
}

type QueryValue = string | number | boolean | Date | readonly string[] | undefined;

export interface RequestOptions {
  query?: Record<string, QueryValue>;
  /** A value is sent as JSON; a string is sent as it is, with `contentType`. */
  body?: unknown;
  contentType?: string;
  /** Makes a write safe to send again (docs/api.md, Idempotency). */
  idempotencyKey?: string;
  /** Cancels the request (a page that no longer needs the answer). */
  signal?: AbortSignal;
}

/** `GET /v1/incidents`: several statuses or severities match any of them. */
export interface IncidentListQuery {
  status?: IncidentStatus | readonly IncidentStatus[];
  severity?: IncidentSeverity | readonly IncidentSeverity[];
  service?: string;
  /** Free text over titles, services and notes, ignoring case. */
  q?: string;
  /** Detected at or after; ISO-8601 text or a Date. */
  since?: string | Date;
  until?: string | Date;
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

export interface SignalListQuery {
  service?: string;
  status?: SignalStatus;
  limit?: number;
}

export interface TraceListQuery {
  incidentId?: string;
  agent?: string;
  limit?: number;
}

/** `GET /v1/notifications/deliveries`. */
export interface DeliveryListQuery {
  status?: DeliveryStatus;
  incidentId?: string;
  limit?: number;
}

/** `GET /v1/kb/search`: at least one of q, service and alert. */
export interface KnowledgeSearchQuery {
  q?: string;
  service?: string;
  alert?: string;
  kind?: 'runbook' | 'postmortem';
  limit?: number;
  perDocument?: number;
}

/** For the writes a person clicks: a key that makes sending the same request again harmless. */
export interface WriteOptions {
  idempotencyKey?: string;
}

export type TransitionVerb = 'acknowledge' | 'mitigate' | 'resolve' | 'close' | 'reopen';

const encode = encodeURIComponent;

function queryString(query: Record<string, QueryValue> | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined) continue;
    if (value instanceof Date) params.set(name, value.toISOString());
    else if (Array.isArray(value)) params.set(name, value.join(','));
    else params.set(name, String(value));
  }
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

function errorBodyOf(text: string): ErrorBody | undefined {
  try {
    const parsed = JSON.parse(text) as Partial<ErrorBody> | null;
    return parsed && typeof parsed.error?.code === 'string' && typeof parsed.error.message === 'string'
      ? (parsed as ErrorBody)
      : undefined;
  } catch {
    return undefined;
  }
}

/** The caller's signal, the timeout, or both. */
function signalOf(signal: AbortSignal | undefined, timeoutMs: number | undefined): { signal?: AbortSignal } {
  const timeout = timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs);
  if (signal && timeout) return { signal: AbortSignal.any([signal, timeout]) };
  const either = signal ?? timeout;
  return either ? { signal: either } : {};
}

export class OpxClient {
  readonly baseUrl: string;
  readonly #token: string | undefined;
  readonly #timeoutMs: number | undefined;
  readonly #retries: number;
  readonly #fetch: typeof fetch;
  /** Requests sent, retries included. */
  requests = 0;

  constructor(options: OpxClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#token = options.token;
    this.#timeoutMs = options.timeoutMs;
    this.#retries = options.retryUnavailable ?? 0;
    // Called through a wrapper: a browser's fetch refuses to run with another object as `this`.
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  /** Any route: the typed methods below are this with the route's types. Empty answers give undefined. */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const route = `${path}${queryString(options.query)}`;
    const raw = typeof options.body === 'string';
    const headers: Record<string, string> = {};
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    if (options.body !== undefined)
      headers['content-type'] = options.contentType ?? (raw ? 'text/plain' : 'application/json');
    if (options.idempotencyKey !== undefined) headers['idempotency-key'] = options.idempotencyKey;
    const body =
      options.body === undefined ? undefined : raw ? (options.body as string) : JSON.stringify(options.body);
    for (let attempt = 0; ; attempt += 1) {
      this.requests += 1;
      const response = await this.#fetch(`${this.baseUrl}${route}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body }),
        ...signalOf(options.signal, this.#timeoutMs),
      });
      const text = await response.text();
      if (response.status === 503 && attempt < this.#retries) {
        await new Promise((resolve) => setTimeout(resolve, 200 * (attempt + 1)));
        continue;
      }
      if (!response.ok) throw new OpxApiError(method, route, response.status, text, errorBodyOf(text));
      return (text === '' ? undefined : JSON.parse(text)) as T;
    }
  }

  #get<T>(path: string, query?: object): Promise<T> {
    return this.request<T>('GET', path, query ? { query: query as Record<string, QueryValue> } : {});
  }

  #post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('POST', path, body === undefined ? {} : { body });
  }

  // Probes.

  health(): Promise<Health> {
    return this.#get('/healthz');
  }

  /** The server's OpenAPI 3.1 document (docs/openapi.json). */
  openapi(): Promise<Record<string, unknown>> {
    return this.#get('/openapi.json');
  }

  /** `GET /v1/whoami`: the token's name and scopes (any token with `read`). */
  whoami() {
    return this.#get<WhoAmI>('/v1/whoami');
  }

  // Ingest.

  /** `POST /v1/signals`: one signal, several, or `{ signals }`. */
  sendSignals(signals: SignalInput | readonly SignalInput[] | { signals: readonly SignalInput[] }) {
    return this.#post<IngestSummary>('/v1/signals', signals);
  }

  /** An Alertmanager webhook body (version 4), as Alertmanager posts it. */
  ingestAlertmanager(notification: unknown) {
    return this.#post<IngestSummary>('/v1/ingest/alertmanager', notification);
  }

  /** Alerts as Prometheus posts them to an Alertmanager; the answer is empty. */
  async ingestPrometheus(alerts: readonly unknown[]): Promise<void> {
    await this.#post<undefined>('/api/v2/alerts', alerts);
  }

  /** An SNS notification carrying a CloudWatch alarm, as SNS posts it (JSON text as text/plain). */
  ingestCloudWatch(message: unknown) {
    return this.request<CloudWatchIngest>('POST', '/v1/ingest/cloudwatch', {
      body: typeof message === 'string' ? message : JSON.stringify(message),
      contentType: 'text/plain; charset=UTF-8',
    });
  }

  ingestEventBridge(event: unknown) {
    return this.#post<IngestSummary>('/v1/ingest/eventbridge', event);
  }

  recordChange(change: ChangeInput) {
    return this.#post<ChangeRecorded>('/v1/changes', change);
  }

  /** Services as JSON, or a Backstage catalog as YAML text. */
  importServices(
    services: ServiceInput | readonly ServiceInput[] | { services: readonly ServiceInput[] } | string,
  ) {
    return typeof services === 'string'
      ? this.request<ServicesImported>('POST', '/v1/services', {
          body: services,
          contentType: 'application/yaml',
        })
      : this.#post<ServicesImported>('/v1/services', services);
  }

  // Incidents.

  listIncidents(query: IncidentListQuery = {}) {
    return this.#get<IncidentList>('/v1/incidents', query);
  }

  /** Every incident that matches, page after page. */
  async *eachIncident(query: Omit<IncidentListQuery, 'cursor'> = {}): AsyncGenerator<IncidentView> {
    let cursor: string | undefined;
    do {
      const page = await this.listIncidents({ ...query, ...(cursor ? { cursor } : {}) });
      yield* page.items;
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
  }

  incident(id: string) {
    return this.#get<IncidentDetail>(`/v1/incidents/${encode(id)}`);
  }

  incidentEvents(id: string) {
    return this.#get<IncidentEventList>(`/v1/incidents/${encode(id)}/events`);
  }

  verifyIncident(id: string) {
    return this.#get<ChainVerificationView>(`/v1/incidents/${encode(id)}/verify`);
  }

  /** `options.idempotencyKey` makes a resent click the same move, not a second one (docs/api.md). */
  transition(
    id: string,
    verb: TransitionVerb,
    body: z.input<typeof transitionInputSchema> | z.input<typeof resolveInputSchema> = {},
    options: WriteOptions = {},
  ) {
    return this.request<TransitionResponse>('POST', `/v1/incidents/${encode(id)}/${verb}`, {
      body,
      ...options,
    });
  }

  setSeverity(id: string, severity: IncidentSeverity, reason?: string, options: WriteOptions = {}) {
    return this.request<SeverityResponse>('POST', `/v1/incidents/${encode(id)}/severity`, {
      body: { severity, ...(reason === undefined ? {} : { reason }) },
      ...options,
    });
  }

  addNote(id: string, text: string, options: WriteOptions = {}) {
    return this.request<NoteResponse>('POST', `/v1/incidents/${encode(id)}/notes`, {
      body: { text },
      ...options,
    });
  }

  merge(id: string, body: z.input<typeof mergeInputSchema>) {
    return this.#post<MergeResponse>(`/v1/incidents/${encode(id)}/merge`, body);
  }

  split(id: string, body: z.input<typeof splitInputSchema>) {
    return this.#post<SplitResponse>(`/v1/incidents/${encode(id)}/split`, body);
  }

  // Evidence and investigations.

  freezeEvidence(id: string) {
    return this.#post<EvidenceFrozen>(`/v1/incidents/${encode(id)}/evidence`);
  }

  evidence(id: string) {
    return this.#get<Evidence>(`/v1/incidents/${encode(id)}/evidence`);
  }

  /** Runs an investigation now and answers when it has completed. */
  investigate(id: string) {
    return this.#post<InvestigationRun>(`/v1/incidents/${encode(id)}/investigations`);
  }

  investigations(id: string) {
    return this.#get<InvestigationList>(`/v1/incidents/${encode(id)}/investigations`);
  }

  recommendations(id: string) {
    return this.#get<RecommendationList>(`/v1/incidents/${encode(id)}/recommendations`);
  }

  /** Re-runs a completed investigation (the latest unless named) on its frozen bundle. */
  replay(id: string, investigationId?: string) {
    return this.#post<ReplayResultView>(
      `/v1/incidents/${encode(id)}/replay`,
      investigationId === undefined ? {} : { investigationId },
    );
  }

  /** A human's decision; `idempotencyKey` makes a resent click the same decision, not a second one. */
  decide(
    recommendationId: string,
    decision: 'approve' | 'reject',
    reason: string,
    options: { idempotencyKey?: string } = {},
  ) {
    return this.request<DecisionResponse>(
      'POST',
      `/v1/recommendations/${encode(recommendationId)}/${decision}`,
      {
        body: { reason },
        ...options,
      },
    );
  }

  traces(query: TraceListQuery = {}) {
    return this.#get<TraceList>('/v1/traces', query);
  }

  trace(id: string) {
    return this.#get<TraceView>(`/v1/traces/${encode(id)}`);
  }

  // Costs, alarms, audit.

  /** Tokens and cost by day, agent and model, and the month against the budget (`days`, or `since`/`until`). */
  tokenUsage(query: { days?: number; since?: string | Date; until?: string | Date } = {}) {
    return this.#get<TokenReport>('/v1/analytics/tokens', query);
  }

  alarms(query: { history?: number; alarm?: string } = {}) {
    return this.#get<AlarmList>('/v1/alarms', query);
  }

  /** Needs an admin token. */
  audit(
    query: {
      principal?: string;
      target?: string;
      action?: string;
      since?: string | Date;
      until?: string | Date;
      limit?: number;
    } = {},
  ) {
    return this.#get<AuditList>('/v1/audit', query);
  }

  // Notifications (docs/notifications.md).

  notificationChannels() {
    return this.#get<ChannelList>('/v1/notifications/channels');
  }

  notificationRoutes() {
    return this.#get<RouteList>('/v1/notifications/routes');
  }

  deliveries(query: DeliveryListQuery = {}) {
    return this.#get<DeliveryList>('/v1/notifications/deliveries', query);
  }

  delivery(id: string) {
    return this.#get<DeliveryDetail>(`/v1/notifications/deliveries/${encode(id)}`);
  }

  /** Needs an admin token. Sends a dead delivery again with fresh attempts; 409 when it is not dead. */
  redrive(id: string, options: WriteOptions = {}) {
    return this.request<{ redriven: string }>(
      'POST',
      `/v1/notifications/deliveries/${encode(id)}/redrive`,
      options,
    );
  }

  // Signals and knowledge.

  signals(query: SignalListQuery = {}) {
    return this.#get<SignalList>('/v1/signals', query);
  }

  signal(id: string) {
    return this.#get<SignalDetail>(`/v1/signals/${encode(id)}`);
  }

  searchKnowledge(query: KnowledgeSearchQuery) {
    return this.#get<KnowledgeSearch>('/v1/kb/search', query);
  }

  /** One runbook or postmortem whole: its Markdown and its sections (a hit's `chunkId` is one of them). */
  knowledgeDocument(id: string) {
    return this.#get<KnowledgeDocument>(`/v1/kb/documents/${encode(id)}`);
  }
}
