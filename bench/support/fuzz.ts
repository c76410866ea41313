/**
 * HTTP fuzzing shared by `npm run bench -- fuzz` (10,000 cases per route) and test/fuzz.test.ts (a few
 * dozen in CI). Every route buildServer registers has a spec here that knows one valid request; the
 * generators send it as is, mutated, or replaced by garbage, and `runCase` checks the properties:
 * no 5xx, no dropped connection, no write from a 4xx (nor from a replay), and a 2xx that can be read
 * back. Writes are counted by triggers on every table (see `installWriteCounter`), so an UPDATE that
 * leaves the row counts alone is caught too.
 */

import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import type { Config } from '../../src/config/index.js';
import type { Runtime } from '../../src/runtime.js';
import type { Scope } from '../../src/store/repositories/access.js';
import { FIXTURES, REPO_ROOT, type TestServer, testServer } from '../../test/support.js';

export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | 'OPTIONS';
const METHODS: readonly Method[] = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'];

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
}

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

const ruleBody = {
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
const consoleNotBuilt = (response: FuzzResponse) =>
  response.status === 503 && response.text.startsWith('The OPX web console is not built yet');

function json(text: string): unknown {
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
    read('/v1/traces', (context) => ({ query: { incidentId: context.incidentId, limit: '5' } })),
    read('/v1/traces/:id', (context) => ({ params: { id: context.traceId } })),
    read('/v1/kb/search', () => ({ query: { q: 'connection pool exhausted', service: 'fuzz', limit: '3' } })),
    read('/v1/kb/documents'),
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

// ---------- generators ----------

/** Header values Node can put on the wire: visible Latin-1 and spaces (CR, LF and NUL never leave a client). */
const headerText = (maxLength: number) =>
  fc.string({
    unit: fc
      .integer({ min: 0x20, max: 0xff })
      .filter((code) => code !== 0x7f)
      .map((code) => String.fromCharCode(code)),
    maxLength,
  });

/** Strings a careless parser trips over. */
const nastyString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '',
    ' ',
    '.',
    '..',
    '%',
    '%00',
    '\u0000',
    '\uFFFF',
    '\uD800',
    'null',
    'undefined',
    '__proto__',
    'constructor',
    'toString',
    '-1',
    '0',
    '1e309',
    'NaN',
    'Infinity',
    '0x10',
    '9007199254740993',
    "' OR 1=1 --",
    '$where',
    '{{7*7}}',
    '../../etc/passwd',
    'inc_',
    'inc_00000000000000000000000000',
    'rec_zzz',
    '2026-13-45T99:99:99Z',
    '🔥'.repeat(50),
  ),
  fc.integer({ min: 200, max: 70_000 }).map((length) => 'x'.repeat(length)),
);

/** A JSON text nested `depth` levels deep, arrays or objects. */
const deepJson = fc
  .tuple(fc.integer({ min: 1, max: 20_000 }), fc.boolean())
  .map(([depth, arrays]) =>
    arrays ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`,
  );

const arbitraryRawBody: fc.Arbitrary<string> = fc.oneof(
  fc.jsonValue().map((value) => JSON.stringify(value) ?? 'null'),
  deepJson,
  nastyString,
  fc.constantFrom(
    '{',
    '[1,',
    '{"a":1,}',
    'nul',
    '\ufeff{}',
    '{"__proto__":{"polluted":1}}',
    '{"constructor":{"prototype":{"x":1}}}',
  ),
  fc.integer({ min: 100_000, max: 1_000_000 }).map((length) => JSON.stringify({ text: 'y'.repeat(length) })),
);

/** Replaces one value somewhere in a JSON tree with another, or deletes a key. */
export function mutate(value: unknown, choices: number[], replacement: unknown, depth = 0): unknown {
  const choice = choices[depth] ?? 0;
  if (Array.isArray(value)) {
    if (value.length === 0 || depth >= choices.length) return replacement;
    const copy = [...value];
    const index = choice % value.length;
    copy[index] = mutate(copy[index], choices, replacement, depth + 1);
    return copy;
  }
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length === 0 || depth >= choices.length) return replacement;
    const key = keys[choice % keys.length]!;
    const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
    if (choice % 5 === 4) delete copy[key];
    else copy[key] = mutate(copy[key], choices, replacement, depth + 1);
    return copy;
  }
  return replacement;
}

const replacementValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  nastyString,
  fc.constantFrom(null, true, false, 0, -1, 1.5, 1e308, -1e308, [], {}, ''),
);

interface Draft {
  method: string;
  params: Record<string, string>;
  /** Pairs, so a key may repeat. */
  query: [string, string][];
  /** Params already in path form (percent-encoded, or deliberately raw). */
  rawParams?: boolean;
  headers: Record<string, string>;
  body?: string;
}

function draftOf(valid: ValidRequest, method: string, context: FuzzContext): Draft {
  const headers: Record<string, string> = { authorization: `Bearer ${context.tokens[valid.scope]}` };
  let body: string | undefined;
  if (valid.rawBody !== undefined) body = valid.rawBody;
  else if (valid.body !== undefined) body = JSON.stringify(valid.body);
  if (body !== undefined) headers['content-type'] = valid.contentType ?? 'application/json';
  return { method, params: { ...valid.params }, query: Object.entries(valid.query ?? {}), headers, body };
}

/** encodeURIComponent, after replacing lone surrogates (which it refuses) with U+FFFD as a UTF-8 encoder would. */
const encode = (value: string) => encodeURIComponent(value.replace(/[\uD800-\uDFFF]/gu, '\uFFFD'));

function toRequest(spec: RouteSpec, variant: string, draft: Draft): FuzzRequest {
  const pattern = spec.route.slice(spec.route.indexOf(' ') + 1);
  const path = pattern.replace(/:([A-Za-z]+)|\*$/g, (whole, name: string | undefined) => {
    const value = draft.params[name ?? whole] ?? '';
    if (draft.rawParams) return value;
    // The wildcard spans segments: its slashes stay, so `../` reaches the server as written.
    return name ? encode(value) : value.split('/').map(encode).join('/');
  });
  const search = draft.query.length
    ? `?${draft.query.map(([key, value]) => `${encode(key)}=${encode(value)}`).join('&')}`
    : '';
  return {
    route: spec.route,
    variant,
    method: draft.method,
    path: `${path}${search}`,
    headers: draft.headers,
    ...(draft.body === undefined ? {} : { body: draft.body }),
  };
}

/** Shared pools, so keys repeat across cases and replays and key reuse both happen. */
const IDEMPOTENCY_KEYS = ['fuzz-key-1', 'fuzz-key-2', 'fuzz-key-3'];

/**
 * Requests for one route: the valid one, mutated bodies, arbitrary bodies, bad path params, bad
 * query values, bad headers, wrong methods and bad credentials. `otherMethods` are the methods the
 * route's URL does not serve (a wrong method must meet a 404, not another handler).
 */
export function requestArbitrary(
  spec: RouteSpec,
  context: FuzzContext,
  otherMethods: readonly string[],
): fc.Arbitrary<FuzzRequest> {
  const method = spec.route.slice(0, spec.route.indexOf(' '));
  const valid = () => spec.valid(context);
  const base = () => draftOf(valid(), method, context);
  const withHeader = (draft: Draft, name: string, value: string | undefined): Draft => {
    const headers = { ...draft.headers };
    if (value === undefined) delete headers[name];
    else headers[name] = value;
    return { ...draft, headers };
  };

  const variants: { weight: number; arbitrary: fc.Arbitrary<FuzzRequest> }[] = [
    { weight: 8, arbitrary: fc.constant(null).map(() => toRequest(spec, 'valid', base())) },
    {
      weight: 6,
      arbitrary: fc.tuple(fc.constantFrom(...IDEMPOTENCY_KEYS), fc.boolean()).map(([key, mutateBody]) => {
        const validRequest = valid();
        const body =
          mutateBody && validRequest.body !== undefined
            ? { ...validRequest, body: mutate(validRequest.body, [1], 'changed') }
            : validRequest;
        return toRequest(
          spec,
          'idempotency-replay',
          withHeader(draftOf(body, method, context), 'idempotency-key', key),
        );
      }),
    },
    {
      weight: 20,
      arbitrary: fc
        .tuple(fc.array(fc.nat(50), { minLength: 1, maxLength: 6 }), replacementValue)
        .map(([choices, replacement]) => {
          const draft = base();
          const body = valid().body ?? {};
          const mutated = JSON.stringify(mutate(body, choices, replacement)) ?? 'null';
          return toRequest(spec, 'mutated-body', {
            ...withHeader(draft, 'content-type', 'application/json'),
            body: mutated,
          });
        }),
    },
    {
      weight: 10,
      arbitrary: fc
        .tuple(
          arbitraryRawBody,
          fc.constantFrom('application/json', 'text/plain', 'application/yaml', undefined),
        )
        .map(([body, contentType]) =>
          toRequest(spec, 'arbitrary-body', {
            ...withHeader(base(), 'content-type', contentType ?? 'application/json'),
            body,
          }),
        ),
    },
    {
      weight: 10,
      arbitrary: fc.tuple(nastyString, fc.boolean()).map(([value, raw]) => {
        const draft = base();
        const names = Object.keys(draft.params);
        if (names.length === 0) {
          // No params: an extra path segment instead (a 404, or the console's catch-all for a GET).
          const request = toRequest(
            { ...spec, route: `${spec.route.replace(/\/$/, '')}/:extra` },
            'bad-path',
            {
              ...draft,
              params: { extra: value || 'x' },
            },
          );
          return { ...request, route: spec.route };
        }
        const params = {
          ...draft.params,
          [names[value.length % names.length]!]: raw ? rawPathText(value) : value,
        };
        if (raw)
          for (const name of names)
            if (name !== names[value.length % names.length]) params[name] = encode(params[name]!);
        return toRequest(spec, raw ? 'raw-path-param' : 'bad-path-param', {
          ...draft,
          params,
          rawParams: raw,
        });
      }),
    },
    {
      weight: 10,
      arbitrary: fc
        .tuple(fc.nat(), nastyString, fc.constantFrom('replace', 'add', 'repeat', 'unknown'))
        .map(([pick, value, how]) => {
          const draft = base();
          const query = [...draft.query];
          const known = [
            'limit',
            'since',
            'until',
            'status',
            'severity',
            'service',
            'cursor',
            'q',
            'days',
            'history',
            'alarm',
            'kind',
            'perDocument',
            'agent',
            'incidentId',
            'alert',
          ];
          if (how === 'replace' && query.length > 0)
            query[pick % query.length] = [query[pick % query.length]![0], value];
          else if (how === 'repeat' && query.length > 0) query.push([query[pick % query.length]![0], value]);
          else if (how === 'unknown') query.push([value || 'x', value]);
          else query.push([known[pick % known.length]!, value]);
          return toRequest(spec, 'bad-query', { ...draft, query });
        }),
    },
    {
      weight: 12,
      arbitrary: fc
        .tuple(
          fc.constantFrom(
            'idempotency-key',
            'content-type',
            'authorization',
            'content-encoding',
            'accept',
            'x-forwarded-for',
          ),
          fc.oneof(
            headerText(300),
            fc.constantFrom(
              'application/json; charset=utf-16',
              'application/json; charset=latin1',
              'application/x-www-form-urlencoded',
              'multipart/form-data; boundary=x',
              'application/yaml',
              'text/plain',
              'gzip',
              'Bearer',
              'Bearer ',
              'Basic ',
              'Basic Og==',
              'Basic !!!',
              `Basic ${Buffer.from(':'.repeat(300)).toString('base64')}`,
              'x'.repeat(300),
            ),
          ),
        )
        .map(([name, value]) => toRequest(spec, `bad-header:${name}`, withHeader(base(), name, value))),
    },
    {
      weight: 6,
      arbitrary: fc
        .tuple(
          fc.constantFrom<Scope | 'none' | 'unknown'>(
            'none',
            'unknown',
            'read',
            'ingest',
            'respond',
            'admin',
          ),
        )
        .map(([who]) => {
          const draft = base();
          const value =
            who === 'none'
              ? undefined
              : who === 'unknown'
                ? 'Bearer opx_not_a_token'
                : `Bearer ${context.tokens[who]}`;
          return toRequest(spec, `auth:${who}`, withHeader(draft, 'authorization', value));
        }),
    },
  ];
  if (otherMethods.length > 0)
    variants.push({
      weight: 4,
      arbitrary: fc
        .constantFrom(...otherMethods)
        .map((other) => toRequest(spec, 'wrong-method', { ...base(), method: other })),
    });
  return fc.oneof(...variants);
}

/** Text a client can put in a path unencoded (Node refuses anything outside U+0021–U+00FF); no `/?#`. */
function rawPathText(value: string): string {
  return (
    [...value]
      .map((char) => (/^[\u0021-\u00ff]$/.test(char) && !'/?#'.includes(char) ? char : '%25'))
      .join('') || '%'
  );
}

/** Methods a URL does not serve, per URL pattern. */
export function otherMethodsByUrl(routes: readonly string[]): Map<string, Method[]> {
  const served = new Map<string, Set<string>>();
  for (const route of routes) {
    const [method, url] = route.split(' ') as [string, string];
    const set = served.get(url) ?? new Set<string>();
    set.add(method);
    if (method === 'GET') set.add('HEAD');
    served.set(url, set);
  }
  return new Map(
    [...served].map(([url, methods]) => [
      url,
      METHODS.filter((method) => !methods.has(method) && method !== 'OPTIONS'),
    ]),
  );
}

// ---------- client ----------

export interface Client {
  send(request: FuzzRequest): Promise<FuzzResponse>;
  get(path: string): Promise<FuzzResponse>;
  close(): void;
}

/** A keep-alive HTTP/1.1 client; node:http rather than fetch so odd methods and headers go out as given. */
export function httpClient(baseUrl: string, adminToken: string, sockets = 8): Client {
  const url = new URL(baseUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: sockets });
  /**
   * A keep-alive socket the server closed after its last answer fails the next request before it is
   * sent; Node's advice is to retry exactly that case (req.reusedSocket), and only once.
   */
  const send = async (request: FuzzRequest): Promise<FuzzResponse> => {
    try {
      return await sendOnce(request);
    } catch (error) {
      if ((error as { reusedSocket?: boolean }).reusedSocket) return sendOnce(request);
      throw error;
    }
  };
  const sendOnce = (request: FuzzRequest) =>
    new Promise<FuzzResponse>((resolve, reject) => {
      const outgoing = http.request(
        {
          host: url.hostname,
          port: url.port,
          method: request.method,
          path: request.path,
          // An explicit length: node:http sends a GET or DELETE body unframed otherwise, which the
          // server must read as the start of the next request.
          headers:
            request.body === undefined
              ? request.headers
              : { ...request.headers, 'content-length': String(Buffer.byteLength(request.body)) },
          agent,
        },
        (incoming) => {
          const chunks: Buffer[] = [];
          // An event stream never ends by itself: its first event is the answer.
          const stream = String(incoming.headers['content-type'] ?? '').startsWith('text/event-stream');
          incoming.on('data', (chunk: Buffer) => {
            chunks.push(chunk);
            if (stream) {
              resolve({
                status: incoming.statusCode ?? 0,
                headers: incoming.headers,
                text: Buffer.concat(chunks).toString('utf8'),
              });
              outgoing.destroy();
            }
          });
          incoming.on('end', () =>
            resolve({
              status: incoming.statusCode ?? 0,
              headers: incoming.headers,
              text: Buffer.concat(chunks).toString('utf8'),
            }),
          );
          incoming.on('error', reject);
        },
      );
      outgoing.setTimeout(60_000, () => outgoing.destroy(new Error('no answer within 60 s')));
      outgoing.on('error', (error) =>
        reject(
          Object.assign(error, {
            reusedSocket: outgoing.reusedSocket && (error as NodeJS.ErrnoException).code === 'ECONNRESET',
          }),
        ),
      );
      outgoing.end(request.body);
    });
  return {
    send,
    get: (path) =>
      send({
        route: 'read-back',
        variant: 'read-back',
        method: 'GET',
        path,
        headers: { authorization: `Bearer ${adminToken}` },
      }),
    close: () => agent.destroy(),
  };
}

// ---------- the write counter ----------

const COUNTER = 'fuzz_write_counter';

/** Committed row writes so far, per table. */
export type WriteCounts = Record<string, number>;

/** The tables whose counts moved between two readings, as "table +n"; empty when nothing was written. */
export function writesBetween(before: WriteCounts, after: WriteCounts): string[] {
  return Object.keys(after)
    .filter((table) => after[table] !== before[table])
    .map((table) => `${table} +${(after[table] ?? 0) - (before[table] ?? 0)}`);
}

/**
 * Counts committed row writes per table: a trigger on every table bumps that table's row here. A
 * write rolled back rolls its bumps back too, so the counts move only for writes that stuck, and an
 * UPDATE that leaves row counts alone still shows. Installed after the seed, on a throwaway store,
 * so the migrations never see it.
 */
export async function installWriteCounter(runtime: Runtime): Promise<() => Promise<WriteCounts>> {
  const db = runtime.store.db;
  const postgres = runtime.store.dialect === 'postgres';
  const listing = postgres
    ? sql<{
        name: string;
      }>`select table_name as name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE'`
    : sql<{ name: string }>`select name from sqlite_master where type = 'table' and name not like 'sqlite_%'`;
  const tables = (await listing.execute(db)).rows.map((row) => row.name).filter((name) => name !== COUNTER);
  // Schema-qualified on PostgreSQL: the LangGraph checkpointer writes through its own pool, whose
  // search_path does not name the test schema.
  const schema = postgres
    ? `"${(await sql<{ name: string }>`select current_schema() as name`.execute(db)).rows[0]!.name}".`
    : '';
  await sql.raw(`create table ${schema}${COUNTER} (tbl text primary key, n bigint not null)`).execute(db);
  for (const table of tables)
    await sql.raw(`insert into ${schema}${COUNTER} (tbl, n) values ('${table}', 0)`).execute(db);
  if (postgres) {
    await sql
      .raw(
        `create function ${schema}fuzz_bump() returns trigger language plpgsql as $$ begin update ${schema}${COUNTER} set n = n + 1 where tbl = TG_TABLE_NAME; return null; end $$`,
      )
      .execute(db);
    for (const table of tables)
      await sql
        .raw(
          `create trigger fuzz_bump after insert or update or delete on ${schema}"${table}" for each row execute function ${schema}fuzz_bump()`,
        )
        .execute(db);
  } else {
    for (const table of tables)
      for (const event of ['insert', 'update', 'delete'])
        await sql
          .raw(
            `create trigger "fuzz_${event}_${table}" after ${event} on "${table}" begin update ${COUNTER} set n = n + 1 where tbl = '${table}'; end`,
          )
          .execute(db);
  }
  return async () => {
    const rows = await sql<{
      tbl: string;
      n: number | string;
    }>`select tbl, n from ${sql.table(COUNTER)}`.execute(db);
    return Object.fromEntries(rows.rows.map((row) => [row.tbl, Number(row.n)]));
  };
}

// ---------- properties ----------

export interface CaseFailure {
  route: string;
  variant: string;
  problem: string;
  request: { method: string; path: string; headers: Record<string, string>; body?: string };
  status?: number;
  response?: string;
}

const clip = (text: string, length = 400) =>
  text.length > length ? `${text.slice(0, length)}… (${text.length} chars)` : text;

export function describeFailure(request: FuzzRequest, problem: string, response?: FuzzResponse): CaseFailure {
  return {
    route: request.route,
    variant: request.variant,
    problem,
    request: {
      method: request.method,
      path: clip(request.path, 200),
      headers: Object.fromEntries(
        Object.entries(request.headers).map(([name, value]) => [name, clip(value, 120)]),
      ),
      ...(request.body === undefined ? {} : { body: clip(request.body) }),
    },
    ...(response ? { status: response.status, response: clip(response.text) } : {}),
  };
}

/**
 * Sends one request and checks what needs no isolation: an answer arrives, it is not a 5xx, and a
 * 4xx carries OPX's error shape. With `writes`, the counter read before and after (so the caller must
 * run nothing else at the same time) also proves a 4xx or a replay wrote nothing, and a 2xx is
 * checked by the route's own read-back.
 */
export async function runCase(
  client: Client,
  spec: RouteSpec,
  request: FuzzRequest,
  context: FuzzContext,
  writes?: () => Promise<WriteCounts>,
): Promise<CaseFailure | undefined> {
  const before = writes ? await writes() : {};
  let response: FuzzResponse;
  try {
    response = await client.send(request);
  } catch (error) {
    return describeFailure(request, `no answer: ${(error as Error).message}`);
  }
  // Any GET may fall through to the console's catch-all, so its not-built answer is allowed on every GET.
  const allowed =
    spec.allow?.(response) ||
    ((request.method === 'GET' || request.method === 'HEAD') && consoleNotBuilt(response));
  if ((response.status >= 500 && !allowed) || response.status < 100)
    return describeFailure(request, `answered ${response.status}`, response);
  const checkable = request.variant !== 'wrong-method' && request.method === spec.route.split(' ')[0];
  if (!writes) {
    if (response.status < 300 && checkable && spec.verify) {
      const problem = await spec.verify(response, client, context);
      if (problem) return describeFailure(request, problem, response);
    }
    return undefined;
  }
  if (response.status >= 400 && request.method !== 'HEAD') {
    // biome-ignore lint/suspicious/noExplicitAny: the error shape is checked field by field.
    const code = (json(response.text) as any)?.error?.code;
    if (typeof code !== 'string')
      return describeFailure(request, 'a 4xx without { error: { code } }', response);
  }
  const written = writesBetween(before, await writes());
  if (response.status >= 400 && written.length > 0)
    return describeFailure(request, `answered ${response.status} but wrote: ${written.join(', ')}`, response);
  if (response.headers['idempotent-replayed'] === 'true' && written.length > 0)
    return describeFailure(request, `a replay wrote: ${written.join(', ')}`, response);
  if (response.status < 300 && checkable && spec.verify) {
    const problem = await spec.verify(response, client, context);
    if (problem) return describeFailure(request, problem, response);
  }
  return undefined;
}

/** Every incident's event chain still verifies: no write left an incident half-updated. */
export async function checkIncidentChains(client: Client): Promise<string | undefined> {
  let cursor: string | null = null;
  do {
    const page = await client.get(
      `/v1/incidents?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    // biome-ignore lint/suspicious/noExplicitAny: a response body is checked field by field.
    const body = json(page.text) as any;
    if (page.status !== 200) return `GET /v1/incidents answered ${page.status}`;
    for (const incident of body.items) {
      const verify = await client.get(`/v1/incidents/${encodeURIComponent(incident.id)}/verify`);
      // biome-ignore lint/suspicious/noExplicitAny: a response body is checked field by field.
      const result = json(verify.text) as any;
      if (verify.status !== 200 || result?.valid !== true)
        return `incident ${incident.id} fails verification: ${clip(verify.text)}`;
    }
    cursor = body.nextCursor;
  } while (cursor);
  return undefined;
}

// ---------- the target ----------

export interface FuzzTarget {
  server: TestServer;
  client: Client;
  context: FuzzContext;
  /** Committed row writes so far (see installWriteCounter). */
  writes(): Promise<WriteCounts>;
  /** Every route the server serves, `METHOD /url`. */
  routes: string[];
  close(): Promise<void>;
}

async function seedRequest(
  client: Client,
  token: string,
  method: string,
  path: string,
  body?: unknown,
  // biome-ignore lint/suspicious/noExplicitAny: seed answers are read field by field.
): Promise<any> {
  const response = await client.send({
    route: 'seed',
    variant: 'seed',
    method,
    path,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (response.status >= 300)
    throw new Error(`seed ${method} ${path} answered ${response.status}: ${response.text}`);
  return json(response.text);
}

/**
 * A real server on a loopback port with a seeded store: services, an open incident with a signal, a
 * rule, a silence, a token to revoke and a finished investigation with recommendations. The
 * per-token rate limit is off, or the run would measure it instead of the routes.
 */
export async function startFuzzTarget(
  backend: 'sqlite' | 'postgres',
  sockets = 8,
  overrides: Partial<Config> = {},
): Promise<FuzzTarget> {
  const server = await testServer(backend, { rateLimitPerMinute: 0, ...overrides });
  const client = httpClient(server.baseUrl, server.tokens.admin, sockets);
  const admin = server.tokens.admin;
  await seedRequest(client, admin, 'POST', '/v1/services', [
    { name: 'fuzz', tier: 1, customerFacing: true, dependsOn: ['fuzz-db'] },
    { name: 'fuzz-db', kind: 'resource', tier: 1 },
  ]);
  const ingested = await seedRequest(client, server.tokens.ingest, 'POST', '/v1/signals', {
    source: 'generic',
    service: 'fuzz',
    environment: 'prod',
    severity: 'critical',
    title: 'fuzz is failing',
    fingerprint: 'fuzz-fp',
  });
  const signal = ingested.signals[0];
  const incidentId: string = signal.incidentIds[0];
  const lifecycle = await seedRequest(client, server.tokens.ingest, 'POST', '/v1/signals', {
    source: 'generic',
    service: 'fuzz-db',
    environment: 'prod',
    severity: 'critical',
    title: 'fuzz-db is failing',
    fingerprint: 'fuzz-db-fp',
  });
  const rule = await seedRequest(client, admin, 'POST', '/v1/rules', ruleBody);
  const silence = await seedRequest(client, admin, 'POST', '/v1/silences', {
    matchers: [{ field: 'service', op: '=', value: 'fuzz-silenced' }],
    endsAt: '2099-01-01T00:00:00Z',
  });
  const victim = await seedRequest(client, admin, 'POST', '/v1/tokens', {
    name: 'fuzz-victim',
    scopes: ['read'],
  });
  const investigation = await seedRequest(
    client,
    server.tokens.respond,
    'POST',
    `/v1/incidents/${incidentId}/investigations`,
  );
  const traces = await seedRequest(client, admin, 'GET', '/v1/traces?limit=1');
  const context: FuzzContext = {
    tokens: server.tokens,
    incidentId,
    lifecycleIncidentId: lifecycle.signals[0].incidentIds[0],
    signalId: signal.id,
    ruleId: rule.id,
    silenceId: silence.id,
    tokenId: victim.id,
    recommendationId: investigation.recommendations?.[0]?.id ?? 'rec_none',
    investigationId: investigation.investigationId,
    serviceName: 'fuzz',
    traceId: traces.items?.[0]?.id ?? 'trace_none',
  };
  const writes = await installWriteCounter(server.runtime);
  return {
    server,
    client,
    context,
    writes,
    routes: registeredRoutes(server.app),
    async close() {
      client.close();
      await server.cleanup();
    },
  };
}
