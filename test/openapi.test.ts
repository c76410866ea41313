import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { registeredRoutes } from '../bench/support/fuzz/routes.js';
import { API_ROUTES, openApiText } from '../src/api/openapi.js';
import type { listQuery } from '../src/api/routes/incidents.js';
import type { tracesQuery } from '../src/api/routes/investigations.js';
import type { searchQuery } from '../src/api/routes/knowledge.js';
import type { deliveriesQuery } from '../src/api/routes/notifications.js';
import type { signalsQuery } from '../src/api/routes/signals.js';
import { errorBodySchema } from '../src/api/schemas.js';
import {
  type DeliveryListQuery,
  type IncidentListQuery,
  type KnowledgeSearchQuery,
  OpxApiError,
  OpxClient,
  type SignalListQuery,
  type TraceListQuery,
} from '../src/client/index.js';
import { importKnowledge, readKnowledgeDirectory } from '../src/knowledge/import.js';
import { BACKENDS, payload, REPO_ROOT, type TestResponse, type TestServer, testServer } from './support.js';

const COMMITTED = path.join(REPO_ROOT, 'docs', 'openapi.json');
/** The console's pages: served by the API process, not part of the API. */
const CONSOLE_PAGES = ['GET /', 'GET /*'];

/** The response schema the document gives a route for a status (`default`, the error body, for 4xx/5xx). */
function responseSchema(method: string, route: string, status: number): z.ZodType {
  if (status >= 400) return errorBodySchema;
  const entry = API_ROUTES.find((item) => item.method === method.toLowerCase() && item.path === route);
  const schema = entry?.responses[status]?.content?.schema;
  if (!schema) throw new Error(`the document has no JSON answer for ${method} ${route} ${status}`);
  return schema;
}

/** The body is valid for the schema, and the schema neither drops nor adds a field of it. */
function expectConforms(schema: z.ZodType, body: unknown, what: string): void {
  const parsed = schema.safeParse(body);
  if (!parsed.success)
    throw new Error(`${what} does not match its schema:\n${z.prettifyError(parsed.error)}`);
  expect(parsed.data, `${what}: fields the schema does not describe`).toEqual(body);
}

describe.each(BACKENDS)('the OpenAPI document and the answers it describes (%s)', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await testServer(backend);
    // The example runbooks, so evidence bundles and searches carry knowledge sections.
    const knowledge = readKnowledgeDirectory(path.join(REPO_ROOT, 'examples', 'kb'));
    await server.runtime.writes.run((scope) => importKnowledge(scope, knowledge.prepared));
  });
  afterAll(async () => {
    await server?.cleanup();
  });

  /** Sends a request to a route and checks the answer against the route's schema in the document. */
  async function answer(
    method: string,
    route: string,
    url: string,
    expected: number,
    options: Parameters<TestServer['request']>[2] = {},
  ): Promise<TestResponse> {
    const response = await server.request(method, url, options);
    expect(response.status, `${method} ${url}: ${response.text}`).toBe(expected);
    expectConforms(responseSchema(method, route, expected), response.json, `${method} ${url}`);
    return response;
  }

  it('serves the committed docs/openapi.json at /openapi.json, without a token', async () => {
    const committed = readFileSync(COMMITTED, 'utf8');
    // `npm run openapi` regenerates the file; this fails until it is run after a schema or route changes.
    expect(openApiText(), 'docs/openapi.json is out of date: run `npm run openapi`').toBe(committed);
    const response = await fetch(`${server.baseUrl}/openapi.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const served = (await response.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(served).toEqual(JSON.parse(committed));
    expect(served.openapi).toBe('3.1.0');
  });

  it('describes every route the server registers, and each needs the scope the document names', async () => {
    const documented = API_ROUTES.map((route) => `${route.method.toUpperCase()} ${route.path}`);
    expect(new Set(documented).size).toBe(documented.length);
    expect([...documented, ...CONSOLE_PAGES].sort()).toEqual(registeredRoutes(server.app));

    for (const route of API_ROUTES) {
      const url = route.path.replace(/:[a-z]+/g, 'inc_missing');
      if (route.scope === 'public') {
        const response = await server.request(route.method.toUpperCase(), url, { token: null });
        expect(response.status, `${route.method} ${route.path}`).toBe(200);
        continue;
      }
      // A token without the scope is refused before the request is read, naming the scope it needs.
      const token = route.scope === 'read' ? server.tokens.ingest : server.tokens.read;
      const response = await server.request(route.method.toUpperCase(), url, { token });
      expect(response.status, `${route.method} ${route.path}: ${response.text}`).toBe(403);
      expect(response.json.error.message, `${route.method} ${route.path}`).toContain(
        `"${route.scope}" scope`,
      );
    }
  });

  it('answers as the document says: ingest, incidents, signals, catalog, tokens, investigations, errors', async () => {
    const { ingest, respond } = server.tokens;
    await answer('GET', '/healthz', '/healthz', 200, { token: null });
    await answer('POST', '/v1/changes', '/v1/changes', 201, {
      token: ingest,
      body: {
        kind: 'deploy',
        service: 'api-gateway',
        summary: 'v2',
        startedAt: new Date(Date.now() - 10 * 60_000).toISOString(),
        externalId: 'openapi-test',
      },
    });
    await answer('POST', '/v1/ingest/alertmanager', '/v1/ingest/alertmanager', 200, {
      token: ingest,
      body: payload('alertmanager-0.25-webhook-firing.json'),
    });
    await answer('POST', '/v1/signals', '/v1/signals', 200, {
      token: ingest,
      body: [
        {
          service: 'api-gateway',
          environment: 'prod',
          severity: 'critical',
          title: 'HighErrorRate on api-gateway',
          labels: { alertname: 'HighErrorRate' },
          metric: { name: 'error_ratio', value: 0.08, threshold: 0.05 },
          links: [{ href: 'https://runbooks.example/api-gateway' }],
        },
        { service: 'api-gateway', environment: 'prod', severity: 'warning', title: 'HighLatency' },
      ],
    });

    const list = await answer('GET', '/v1/incidents', '/v1/incidents', 200);
    expect(list.json.items.length).toBeGreaterThan(0);
    const page = await answer('GET', '/v1/incidents', '/v1/incidents?limit=1&status=OPEN,INVESTIGATING', 200);
    expect(page.json.items).toHaveLength(1);
    const id: string = list.json.items[0].id;
    const detail = await answer('GET', '/v1/incidents/:id', `/v1/incidents/${id}`, 200);
    expect(detail.json.signals.length).toBeGreaterThan(0);
    await answer('GET', '/v1/incidents/:id/events', `/v1/incidents/${id}/events`, 200);
    await answer('GET', '/v1/incidents/:id/verify', `/v1/incidents/${id}/verify`, 200);

    const signals = await answer('GET', '/v1/signals', '/v1/signals', 200);
    expect(signals.json.items.length).toBeGreaterThan(1);
    for (const signal of signals.json.items)
      await answer('GET', '/v1/signals/:id', `/v1/signals/${signal.id}`, 200);
    const changes = await answer('GET', '/v1/changes', '/v1/changes', 200);
    expect(changes.json.items.length).toBeGreaterThan(0);
    await server.request('POST', '/v1/services', { body: [{ name: 'api-gateway', tier: 1 }] });
    await answer('GET', '/v1/services', '/v1/services', 200);
    await answer('GET', '/v1/services/:id', '/v1/services/api-gateway', 200);
    await answer('POST', '/v1/tokens', '/v1/tokens', 201, {
      body: { name: 'openapi-test', scopes: ['read'] },
    });
    await answer('GET', '/v1/tokens', '/v1/tokens', 200);
    const whoami = await answer('GET', '/v1/whoami', '/v1/whoami', 200, { token: server.tokens.read });
    expect(whoami.json).toEqual({ name: 'token:test-read', scopes: ['read'] });

    await answer('POST', '/v1/incidents/:id/severity', `/v1/incidents/${id}/severity`, 200, {
      token: respond,
      body: { severity: 'SEV1', reason: 'checking the schema' },
    });
    await answer('POST', '/v1/incidents/:id/notes', `/v1/incidents/${id}/notes`, 201, {
      token: respond,
      body: { text: 'a note' },
    });
    await answer('POST', '/v1/incidents/:id/acknowledge', `/v1/incidents/${id}/acknowledge`, 200, {
      token: respond,
      body: {},
    });

    const run = await answer(
      'POST',
      '/v1/incidents/:id/investigations',
      `/v1/incidents/${id}/investigations`,
      201,
      { token: respond },
    );
    expect(run.json.findings).toHaveLength(6);
    await answer('GET', '/v1/incidents/:id/investigations', `/v1/incidents/${id}/investigations`, 200);
    const recommendations = await answer(
      'GET',
      '/v1/incidents/:id/recommendations',
      `/v1/incidents/${id}/recommendations`,
      200,
    );
    const evidence = await answer('GET', '/v1/incidents/:id/evidence', `/v1/incidents/${id}/evidence`, 200);
    expect(evidence.json.bundle.knowledge.length).toBeGreaterThan(0);
    await answer('POST', '/v1/incidents/:id/evidence', `/v1/incidents/${id}/evidence`, 201, {
      token: respond,
    });
    await answer('POST', '/v1/incidents/:id/replay', `/v1/incidents/${id}/replay`, 200, {
      token: respond,
      body: {},
    });
    await answer('GET', '/v1/traces', `/v1/traces?incidentId=${id}`, 200);
    const recommendation = recommendations.json.items[0];
    expect(recommendation).toBeDefined();
    await answer(
      'POST',
      '/v1/recommendations/:id/approve',
      `/v1/recommendations/${recommendation.id}/approve`,
      200,
      { token: respond, body: { reason: 'matches the deploy' } },
    );
    const hits = await answer('GET', '/v1/kb/search', '/v1/kb/search?q=5xx&service=api-gateway', 200);
    expect(hits.json.items.length).toBeGreaterThan(0);
    const { documentId } = hits.json.items[0];
    await answer('GET', '/v1/kb/documents/:id', `/v1/kb/documents/${documentId}`, 200);
    await answer('GET', '/v1/kb/documents/:id', '/v1/kb/documents/doc_missing', 404);

    // A responder moves a signal out and back: split answers 201, merge 200.
    {
      expect(detail.json.signals.length).toBeGreaterThan(1);
      const split = await answer('POST', '/v1/incidents/:id/split', `/v1/incidents/${id}/split`, 201, {
        token: respond,
        body: { signalIds: [detail.json.signals[0].id], reason: 'unrelated' },
      });
      await answer('POST', '/v1/incidents/:id/merge', `/v1/incidents/${split.json.split.id}/merge`, 200, {
        token: respond,
        body: { into: id, reason: 'related after all' },
      });
    }
    await answer('POST', '/v1/incidents/:id/resolve', `/v1/incidents/${id}/resolve`, 200, {
      token: respond,
      body: { rootCause: 'a deploy', resolution: 'rolled back' },
    });

    // Errors have one shape everywhere.
    await answer('GET', '/v1/incidents/:id', '/v1/incidents/inc_missing', 404);
    await answer('GET', '/v1/incidents', '/v1/incidents?limit=0', 400);
    await answer('GET', '/v1/incidents', '/v1/incidents', 401, { token: null });
  });

  it('the typed client reads the same answers and raises the API error body', async () => {
    const client = new OpxClient({ baseUrl: `${server.baseUrl}/`, token: server.tokens.read });
    expect((await client.health()).status).toBe('ok');
    expect(await client.openapi()).toEqual(JSON.parse(readFileSync(COMMITTED, 'utf8')));
    const listed = await client.listIncidents({ limit: 1 });
    expect(listed).toEqual((await server.request('GET', '/v1/incidents?limit=1')).json);
    const all: string[] = [];
    // One incident a page: the generator follows nextCursor to the last.
    for await (const incident of client.eachIncident({ limit: 1 })) all.push(incident.id);
    expect(all).toEqual(
      (await server.request('GET', '/v1/incidents?limit=500')).json.items.map(
        (item: { id: string }) => item.id,
      ),
    );
    expect(all.length).toBeGreaterThan(1);
    const detail = await client.incident(listed.items[0]!.id);
    expect(detail.incident.id).toBe(listed.items[0]!.id);
    expect((await client.signals({ limit: 1 })).items).toHaveLength(1);

    const missing = await client.incident('inc_missing').catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(OpxApiError);
    expect(missing).toMatchObject({ status: 404, code: 'not_found', path: '/v1/incidents/inc_missing' });
    expect((missing as OpxApiError).body?.error.message).toContain('inc_missing');
    const refused = await client.setSeverity(listed.items[0]!.id, 'SEV2').catch((error: unknown) => error);
    expect(refused).toMatchObject({ status: 403, code: 'forbidden' });
  });

  it("the client's query types name exactly the parameters the routes parse", () => {
    expectTypeOf<keyof IncidentListQuery>().toEqualTypeOf<keyof z.input<typeof listQuery>>();
    expectTypeOf<keyof SignalListQuery>().toEqualTypeOf<keyof z.input<typeof signalsQuery>>();
    expectTypeOf<keyof TraceListQuery>().toEqualTypeOf<keyof z.input<typeof tracesQuery>>();
    expectTypeOf<keyof KnowledgeSearchQuery>().toEqualTypeOf<keyof z.input<typeof searchQuery>>();
    expectTypeOf<keyof DeliveryListQuery>().toEqualTypeOf<keyof z.input<typeof deliveriesQuery>>();
  });
});
