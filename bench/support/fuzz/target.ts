/** The server under fuzzing, seeded with one of everything a route can name. */
import type { Config } from '../../../src/config/index.js';
import { newId } from '../../../src/domain/common.js';
import { type TestServer, testServer } from '../../../test/support.js';
import { type Client, httpClient } from './client.js';
import { type FuzzContext, fuzzChannel, json, registeredRoutes, ruleBody } from './routes.js';
import { installWriteCounter, type WriteCounts } from './writes.js';

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
 * per-token rate limit and the failed-authentication limit are off, or the run would measure them
 * instead of the routes (it sends hundreds of deliberately bad credentials from one address).
 */
export async function startFuzzTarget(
  backend: 'sqlite' | 'postgres',
  sockets = 8,
  overrides: Partial<Config> = {},
): Promise<FuzzTarget> {
  const server = await testServer(backend, { rateLimitPerMinute: 0, authFailuresPerMinute: 0, ...overrides });
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
  const channel = await seedRequest(
    client,
    admin,
    'POST',
    '/v1/notifications/channels',
    fuzzChannel('fuzz-hook'),
  );
  await seedRequest(client, admin, 'POST', '/v1/notifications/channels', fuzzChannel('fuzz-unused-hook'));
  const route = await seedRequest(client, admin, 'POST', '/v1/notifications/routes', {
    name: 'fuzz-route',
    channels: ['fuzz-hook'],
  });
  // A dead delivery, for the redrive route to find.
  const deliveryId = await server.runtime.writes.run(async (scope) => {
    const id = await scope.notifications.createDelivery({
      key: 'fuzz-dead',
      incidentId,
      channelId: channel.id,
      routeId: route.id,
      event: 'opened',
      notice: (await scope.notifications.deliveries({ incidentId, limit: 1 }))[0]?.notice ?? ({} as never),
      maxAttempts: 1,
    });
    await scope.db
      .updateTable('jobs')
      .set({ status: 'dead' })
      .where('dedup_key', '=', 'deliver:fuzz-dead')
      .execute();
    return id ?? 'dlv_none';
  });
  const documentId = newId('document');
  await server.runtime.writes.run((scope) =>
    scope.knowledge.insert(
      {
        id: documentId,
        path: 'runbooks/fuzz.md',
        title: 'Fuzz pool exhausted',
        kind: 'runbook',
        services: ['fuzz'],
        alerts: ['FuzzDown'],
        contentHash: 'fuzz-document',
        body: '# Fuzz pool exhausted\n## Mitigation\n```sh\nkubectl rollout undo deploy/fuzz\n```',
        importedAt: Date.now(),
      },
      [
        {
          id: newId('chunk'),
          documentId,
          ordinal: 0,
          heading: 'Fuzz pool exhausted',
          text: 'connection pool exhausted',
        },
        {
          id: newId('chunk'),
          documentId,
          ordinal: 1,
          heading: 'Fuzz pool exhausted > Mitigation',
          text: '```sh\nkubectl rollout undo deploy/fuzz\n```',
        },
      ],
    ),
  );
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
    channelId: channel.id,
    routeId: route.id,
    deliveryId,
    documentId,
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
