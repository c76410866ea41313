/**
 * HTTP fuzzing shared by `npm run bench -- fuzz` (10,000 cases per route) and test/fuzz.test.ts (a few
 * dozen in CI). Every route buildServer registers has a spec in this file that knows one valid request; the
 * generators send it as is, mutated, or replaced by garbage, and `runCase` checks the properties:
 * no 5xx, no dropped connection, no write from a 4xx (nor from a replay), and a 2xx that can be read
 * back. Writes are counted by triggers on every table (see `installWriteCounter`), so an UPDATE that
 * leaves the row counts alone is caught too.
 *
 * This file: what the fuzzer knows of each route; generators.ts, client.ts, writes.ts, properties.ts and
 * target.ts hold the rest.
 */

import { readFileSync } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Scope } from '../../../src/store/repositories/access.js';
import { FIXTURES, REPO_ROOT } from '../../../test/support.js';
import type { Client } from './client.js';

export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | 'OPTIONS';
export const METHODS: readonly Method[] = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'];

/** Ids of seeded rows, so a valid request can name something that exists. */
export interface FuzzContext {
  tokens: Record<Scope, string>;
  incidentId: string;
  /** An incident of its own for the status moves, so the others stay open for investigations. */
  lifecycleIncidentId: string;
  signalId: string;
  ruleId: string;
  silenceId: string;
  tokenId: string;
  recommendationId: string;
  investigationId: string;
  serviceName: string;
  traceId: string;
  /** A notification channel a route uses, one no route uses, the route, and a dead delivery. */
  channelId: string;
  routeId: string;
  deliveryId: string;
  /** A knowledge document with two sections. */
  documentId: string;
}

/** The channel the fuzzer creates and replaces: a webhook to a port nothing listens on. */
export const fuzzChannel = (name: string) => ({
  name,
  type: 'webhook',
  secret: { url: 'http://127.0.0.1:9/fuzz', hmacSecret: 'fuzz-hmac-secret-0123456789' },
});

/** One request as a route expects it; bodies are JSON unless `rawBody` is set. */
export interface ValidRequest {
  params?: Record<string, string>;
  query?: Record<string, string>;
  body?: unknown;
  rawBody?: string;
  contentType?: string;
  scope: Scope;
}

export interface RouteSpec {
  /** `METHOD /pattern`, exactly as Fastify registered it. */
  route: string;
  valid(context: FuzzContext): ValidRequest;
  /**
   * A 5xx this route may answer by design, whatever the request (see consoleNotBuilt); every other
   * 5xx is a failure.
   */
  allow?(response: FuzzResponse): boolean;
  /** Why a case costs far more than a request (the bench may run fewer of them; see --costly-cases). */
  costly?: string;
  /** Checks a 2xx against what a reader sees afterwards; returns a problem, or undefined. */
  verify?(response: FuzzResponse, client: Client, context: FuzzContext): Promise<string | undefined>;
}

export interface FuzzRequest {
  route: string;
  variant: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

export interface FuzzResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(path.join(REPO_ROOT, 'src', 'ingest', 'adapters', 'fixtures', name), 'utf8'));
const payload = (name: string): unknown =>
  JSON.parse(readFileSync(path.join(FIXTURES, 'payloads', name), 'utf8'));

export const ruleBody = {
  name: 'fuzz-rule',
  windowSeconds: 300,
  threshold: { kind: 'count', value: 3 },
  severity: 'SEV3',
  titleTemplate: 'fuzz {{service}}',
  matchers: [{ field: 'service', op: '=', value: 'fuzz-other' }],
};
const catalogYaml = `apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: fuzz-yaml
  annotations:
    opx.dev/tier: "2"
spec:
  type: service
  lifecycle: production
  owner: team-fuzz
  dependsOn:
    - component:fuzz-db
`;

/**
 * The console routes answer 503 with a fixed text when web/dist has not been built (a checkout
 * without `npm run build`): a state of the install, not of the request, so it is not a fuzz failure.
 */
export const consoleNotBuilt = (response: FuzzResponse) =>
  response.status === 503 && response.text.startsWith('The OPX web console is not built yet');

export function json(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The 2xx body of an ingest receiver: every accepted signal and incident it names can be read back. */
async function readBackIngest(response: FuzzResponse, client: Client): Promise<string | undefined> {
  // biome-ignore lint/suspicious/noExplicitAny: a response body is checked field by field.
  const body = json(response.text) as any;
  if (!body || !Array.isArray(body.signals)) return 'a 2xx ingest answer without signals';
  for (const signal of body.signals) {
    if (signal.id) {
      const read = await client.get(`/v1/signals/${encodeURIComponent(signal.id)}`);
      if (read.status !== 200) return `signal ${signal.id} was acknowledged but reads ${read.status}`;
    }
    for (const incidentId of signal.incidentIds ?? []) {
      const read = await client.get(`/v1/incidents/${encodeURIComponent(incidentId)}`);
      if (read.status !== 200) return `incident ${incidentId} was acknowledged but reads ${read.status}`;
    }
  }
  return undefined;
}

const ingestSpec = (route: string, valid: () => unknown, verify = true): RouteSpec => ({
  route: `POST ${route}`,
  valid: () => ({ body: valid(), scope: 'ingest' }),
  ...(verify ? { verify: (response, client) => readBackIngest(response, client) } : {}),
});

const incidentTransition = (verb: string, status: string): RouteSpec => ({
  route: `POST /v1/incidents/:id/${verb}`,
  valid: (context) => ({
    params: { id: context.lifecycleIncidentId },
    body: verb === 'resolve' ? { rootCause: 'fuzz', resolution: 'fuzz' } : { reason: 'fuzz' },
    scope: 'respond',
  }),
  async verify(response, client) {
    // biome-ignore lint/suspicious/noExplicitAny: a response body is checked field by field.
    const body = json(response.text) as any;
    const read = await client.get(`/v1/incidents/${encodeURIComponent(body?.incident?.id ?? '-')}`);
    // biome-ignore lint/suspicious/noExplicitAny: a response body is checked field by field.
    const stored = (json(read.text) as any)?.incident?.status;
    return stored === status ? undefined : `${verb} answered 2xx but the incident reads ${stored}`;
  },
});

/** One spec per route; `routeSpecs()` is checked against the live route table, both ways. */
export function routeSpecs(): RouteSpec[] {
  let servicesFlip = false;
  let ruleNames = 0;
  const read = (
    route: string,
    valid: (context: FuzzContext) => Omit<ValidRequest, 'scope'> = () => ({}),
  ) => ({
    route: `GET ${route}`,
    valid: (context: FuzzContext): ValidRequest => ({ ...valid(context), scope: 'read' }),
  });
  return [
    { route: 'GET /healthz', valid: () => ({ scope: 'read' }) },
    { route: 'GET /openapi.json', valid: () => ({ scope: 'read' }) },
    { route: 'GET /', valid: () => ({ scope: 'read' }), allow: consoleNotBuilt },
    {
      route: 'GET /*',
      valid: () => ({ params: { '*': 'incidents/inc_00000000000000000000000000' }, scope: 'read' }),
      allow: consoleNotBuilt,
      async verify(response) {
        // The catch-all serves files from web/dist only: a path that climbs out must never return a file.
        return /"name": "opx"|BEGIN [A-Z ]*PRIVATE KEY|root:x:0:0/.test(response.text)
          ? 'served a file from outside the console root'
          : undefined;
      },
    },
    read('/v1/stream/incidents'),
    read('/v1/safety/summary'),
    read('/v1/whoami'),
    read('/v1/incidents/:id/safety', (context) => ({ params: { id: context.incidentId } })),
    read('/metrics'),
    ingestSpec('/v1/signals', () => ({
      service: 'fuzz',
      title: 'fuzz signal',
      severity: 'error',
      labels: { a: 'b' },
    })),
    ingestSpec('/v1/ingest/alertmanager', () => payload('alertmanager-0.25-webhook-firing.json')),
    ingestSpec('/api/v2/alerts', () => fixture('prometheus-alerts.json'), false),
    ingestSpec('/v1/ingest/cloudwatch', () => payload('cloudwatch-alarm-sns-payload-multiple-metrics.json')),
    ingestSpec('/v1/ingest/eventbridge', () => fixture('eventbridge-alarm-single-metric.json')),
    ingestSpec('/v2/enqueue', () => fixture('pagerduty-trigger.json'), false),
    ingestSpec('/v2/change/enqueue', () => fixture('pagerduty-change.json'), false),
    {
      route: 'POST /v1/changes',
      valid: () => ({
        body: { kind: 'deploy', service: 'fuzz', summary: 'v1', startedAt: '2026-11-26T10:00:00Z' },
        scope: 'ingest',
      }),
    },
    {
      route: 'POST /v1/services',
      // Alternates JSON and Backstage YAML, so both parsers meet mutated input.
      valid: (): ValidRequest => {
        servicesFlip = !servicesFlip;
        return servicesFlip
          ? { body: [{ name: 'fuzz-svc', tier: 2, dependsOn: ['fuzz-db'] }], scope: 'admin' }
          : { rawBody: catalogYaml, contentType: 'application/yaml', scope: 'admin' };
      },
    },
    read('/v1/signals', () => ({ query: { service: 'fuzz', status: 'firing', limit: '10' } })),
    read('/v1/signals/:id', (context) => ({ params: { id: context.signalId } })),
    read('/v1/silences'),
    {
      route: 'POST /v1/silences',
      valid: () => ({
        body: {
          matchers: [{ field: 'service', op: '=', value: 'fuzz-silenced' }],
          endsAt: '2099-01-01T00:00:00Z',
          comment: 'fuzz',
        },
        scope: 'admin',
      }),
    },
    {
      route: 'DELETE /v1/silences/:id',
      valid: (context) => ({ params: { id: context.silenceId }, scope: 'admin' }),
    },
    read('/v1/services'),
    read('/v1/services/:id', (context) => ({ params: { id: context.serviceName } })),
    { route: 'GET /v1/ingest/cloudwatch/subscriptions', valid: () => ({ scope: 'admin' }) },
    read('/v1/incidents', () => ({
      query: {
        status: 'OPEN,ACKNOWLEDGED',
        severity: 'SEV1,SEV2',
        since: '2020-01-01T00:00:00Z',
        limit: '5',
      },
    })),
    read('/v1/incidents/:id', (context) => ({ params: { id: context.incidentId } })),
    read('/v1/incidents/:id/events', (context) => ({ params: { id: context.incidentId } })),
    read('/v1/incidents/:id/verify', (context) => ({ params: { id: context.incidentId } })),
    read('/v1/incidents/:id/evidence', (context) => ({ params: { id: context.incidentId } })),
    read('/v1/incidents/:id/recommendations', (context) => ({ params: { id: context.incidentId } })),
    read('/v1/incidents/:id/investigations', (context) => ({ params: { id: context.incidentId } })),
    {
      route: 'POST /v1/incidents/:id/evidence',
      valid: (context) => ({ params: { id: context.incidentId }, scope: 'respond' }),
    },
    incidentTransition('acknowledge', 'ACKNOWLEDGED'),
    incidentTransition('mitigate', 'MITIGATED'),
    incidentTransition('resolve', 'RESOLVED'),
    incidentTransition('close', 'CLOSED'),
    incidentTransition('reopen', 'OPEN'),
    {
      route: 'POST /v1/incidents/:id/severity',
      valid: (context) => ({
        params: { id: context.incidentId },
        body: { severity: 'SEV2', reason: 'fuzz' },
        scope: 'respond',
      }),
    },
    // Merge and split change which incident the other routes work on, so their valid requests are
    // well-formed but refused: a merge into an incident that does not exist (404) and a split of every
    // signal the incident holds (400). The tests in test/correlation.test.ts cover their 2xx.
    {
      route: 'POST /v1/incidents/:id/merge',
      valid: (context) => ({
        params: { id: context.lifecycleIncidentId },
        body: { into: 'inc_00000000000000000000000000', reason: 'fuzz' },
        scope: 'respond',
      }),
    },
    {
      route: 'POST /v1/incidents/:id/split',
      valid: (context) => ({
        params: { id: context.incidentId },
        body: { signalIds: [context.signalId], reason: 'fuzz' },
        scope: 'respond',
      }),
    },
    {
      route: 'POST /v1/incidents/:id/notes',
      valid: (context) => ({
        params: { id: context.incidentId },
        body: { text: 'fuzz note' },
        scope: 'respond',
      }),
      // The verified chain must reach the note's seq. Verifying walks the whole chain, so doing it
      // for each of 10,000 notes is quadratic (about 15 minutes): the first 100 notes and every
      // 100th after are checked here, and checkIncidentChains checks every chain after the route.
      async verify(response, client, context) {
        // biome-ignore lint/suspicious/noExplicitAny: a response body is checked field by field.
        const seq = (json(response.text) as any)?.event?.seq;
        if (typeof seq === 'number' && seq > 100 && seq % 100 !== 0) return undefined;
        const read = await client.get(`/v1/incidents/${encodeURIComponent(context.incidentId)}/verify`);
        // biome-ignore lint/suspicious/noExplicitAny: a response body is checked field by field.
        const chain = json(read.text) as any;
        return typeof seq === 'number' && chain?.valid === true && chain.events >= seq
          ? undefined
          : `note #${seq} answered 2xx but the chain reads ${read.text.slice(0, 200)}`;
      },
    },
    {
      route: 'POST /v1/incidents/:id/investigations',
      valid: (context) => ({ params: { id: context.incidentId }, scope: 'respond' }),
      costly: 'each 2xx runs a whole investigation: about 0.4 s on 2 cores',
    },
    {
      route: 'POST /v1/incidents/:id/replay',
      valid: (context) => ({
        params: { id: context.incidentId },
        body: { investigationId: context.investigationId },
        scope: 'respond',
      }),
    },
    {
      route: 'POST /v1/recommendations/:id/approve',
      valid: (context) => ({
        params: { id: context.recommendationId },
        body: { reason: 'fuzz' },
        scope: 'respond',
      }),
    },
    {
      route: 'POST /v1/recommendations/:id/reject',
      valid: (context) => ({
        params: { id: context.recommendationId },
        body: { reason: 'fuzz' },
        scope: 'respond',
      }),
    },
    read('/v1/changes', () => ({ query: { service: 'fuzz', limit: '5' } })),
    read('/v1/rules'),
    read('/v1/rules/:id', (context) => ({ params: { id: context.ruleId } })),
    {
      route: 'POST /v1/rules',
      // A new name each time: a name that exists is a 409, and the create path would run once.
      valid: () => {
        ruleNames += 1;
        return { body: { ...ruleBody, name: `fuzz-rule-${ruleNames}` }, scope: 'admin' };
      },
      async verify(response, client) {
        // biome-ignore lint/suspicious/noExplicitAny: a response body is checked field by field.
        const rule = json(response.text) as any;
        const read = await client.get(`/v1/rules/${encodeURIComponent(rule?.id ?? '-')}`);
        return read.status === 200 ? undefined : `rule ${rule?.id} was created but reads ${read.status}`;
      },
    },
    {
      route: 'POST /v1/rules/dry-run',
      // A rehearsal replays the last hour's signals in a scratch store and writes nothing here.
      valid: () => ({
        body: { rules: [ruleBody], since: new Date(Date.now() - 3_600_000).toISOString() },
        scope: 'admin',
      }),
      costly: 'each 2xx replays the stored signals of the window into a scratch store',
    },
    {
      route: 'PUT /v1/rules/:id',
      valid: (context) => ({ params: { id: context.ruleId }, body: ruleBody, scope: 'admin' }),
      async verify(response, client, context) {
        // biome-ignore lint/suspicious/noExplicitAny: a response body is checked field by field.
        const rule = json(response.text) as any;
        const read = await client.get(`/v1/rules/${encodeURIComponent(context.ruleId)}`);
        // biome-ignore lint/suspicious/noExplicitAny: a response body is checked field by field.
        const version = (json(read.text) as any)?.version;
        return version === rule?.version
          ? undefined
          : `rule answered version ${rule?.version}, reads ${version}`;
      },
    },
    {
      route: 'DELETE /v1/rules/:id',
      valid: (context) => ({ params: { id: context.ruleId }, scope: 'admin' }),
    },
    { route: 'GET /v1/tokens', valid: () => ({ scope: 'admin' }) },
    {
      route: 'GET /v1/audit',
      valid: () => ({
        query: { limit: '5', since: '2020-01-01T00:00:00Z', action: 'rule.create' },
        scope: 'admin',
      }),
    },
    {
      route: 'POST /v1/tokens',
      valid: () => ({ body: { name: 'fuzz-token', scopes: ['read'] }, scope: 'admin' }),
      async verify(response, client) {
        // biome-ignore lint/suspicious/noExplicitAny: a response body is checked field by field.
        const id = (json(response.text) as any)?.id;
        const list = await client.get('/v1/tokens');
        return list.text.includes(String(id)) ? undefined : `token ${id} was created but is not listed`;
      },
    },
    {
      route: 'DELETE /v1/tokens/:id',
      valid: (context) => ({ params: { id: context.tokenId }, scope: 'admin' }),
    },
    read('/v1/notifications/channels'),
    read('/v1/notifications/channels/:id', (context) => ({ params: { id: context.channelId } })),
    {
      route: 'POST /v1/notifications/channels',
      valid: () => ({ body: fuzzChannel('fuzz-new-hook'), scope: 'admin' }),
    },
    {
      route: 'PUT /v1/notifications/channels/:id',
      valid: (context) => ({
        params: { id: context.channelId },
        body: fuzzChannel('fuzz-hook'),
        scope: 'admin',
      }),
    },
    {
      route: 'DELETE /v1/notifications/channels/:id',
      valid: () => ({ params: { id: 'fuzz-unused-hook' }, scope: 'admin' }),
    },
    read('/v1/notifications/routes'),
    read('/v1/notifications/routes/:id', (context) => ({ params: { id: context.routeId } })),
    {
      route: 'POST /v1/notifications/routes',
      valid: () => ({
        body: { name: 'fuzz-new-route', match: { severities: ['SEV1'] }, channels: ['fuzz-hook'] },
        scope: 'admin',
      }),
    },
    {
      route: 'PUT /v1/notifications/routes/:id',
      valid: (context) => ({
        params: { id: context.routeId },
        body: { name: 'fuzz-route', match: { services: ['fuzz'] }, channels: ['fuzz-hook'], enabled: false },
        scope: 'admin',
      }),
    },
    {
      route: 'DELETE /v1/notifications/routes/:id',
      valid: () => ({ params: { id: 'fuzz-new-route' }, scope: 'admin' }),
    },
    {
      route: 'POST /v1/notifications/routes/:id/test',
      valid: (context) => ({ params: { id: context.routeId }, scope: 'admin' }),
      costly: 'sends a sample message through each channel of the route',
    },
    read('/v1/notifications/deliveries', () => ({ query: { status: 'dead', limit: '5' } })),
    read('/v1/notifications/deliveries/:id', (context) => ({ params: { id: context.deliveryId } })),
    {
      route: 'POST /v1/notifications/deliveries/:id/redrive',
      valid: (context) => ({ params: { id: context.deliveryId }, scope: 'admin' }),
    },
    read('/v1/traces', (context) => ({ query: { incidentId: context.incidentId, limit: '5' } })),
    read('/v1/traces/:id', (context) => ({ params: { id: context.traceId } })),
    read('/v1/kb/search', () => ({ query: { q: 'connection pool exhausted', service: 'fuzz', limit: '3' } })),
    read('/v1/kb/documents'),
    read('/v1/kb/documents/:id', (context) => ({ params: { id: context.documentId } })),
    read('/v1/analytics/tokens', () => ({ query: { days: '7' } })),
    read('/v1/alarms', () => ({ query: { history: '5' } })),
    { route: 'POST /v1/alarms/evaluate', valid: () => ({ scope: 'admin' }) },
    {
      route: 'POST /v1/guardrails/check',
      valid: () => ({ body: { text: 'mail jane@example.com, key AKIAIOSFODNN7EXAMPLE' }, scope: 'read' }),
    },
  ];
}

/** `METHOD /url` for every route the app serves (HEAD twins of GET routes left out), from printRoutes. */
export function registeredRoutes(app: FastifyInstance): string[] {
  const routes: string[] = [];
  const stack: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^((?:│ {3}| {4})*)(?:├── |└── )(\S+)(?: \(([^)]*)\))?$/.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4;
    stack.length = depth;
    const url = `${stack.join('')}${match[2]}`;
    stack.push(match[2]!);
    for (const method of (match[3] ?? '').split(',').map((part) => part.trim()))
      if (method && method !== 'HEAD') routes.push(`${method} ${url}`);
  }
  return routes.sort();
}
