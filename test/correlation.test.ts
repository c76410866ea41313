import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { investigateIncident } from '../src/investigate/service.js';
import { BACKENDS, type TestServer, testServer } from './support.js';

// A chain of calls, the origin at the bottom: web → api → orders → payments → payments-db. A gateway
// calls orders and search; orders and search both call shared-db (a hub). Legacy has no topology.
const TOPOLOGY = [
  { name: 'web', tier: 1, customerFacing: true, dependsOn: ['api'] },
  { name: 'api', tier: 1, dependsOn: ['orders'] },
  { name: 'orders', tier: 1, dependsOn: ['payments', 'shared-db'] },
  { name: 'payments', tier: 1, dependsOn: ['payments-db'] },
  { name: 'payments-db', kind: 'resource', tier: 1 },
  { name: 'gateway', tier: 1, dependsOn: ['orders', 'search'] },
  { name: 'search', tier: 2, dependsOn: ['shared-db'] },
  { name: 'shared-db', kind: 'resource', tier: 1 },
  { name: 'd4', tier: 3, dependsOn: ['d3'] },
  { name: 'd3', tier: 3, dependsOn: ['d2'] },
  { name: 'd2', tier: 3, dependsOn: ['d1'] },
  { name: 'd1', tier: 3 },
];
const CASCADE = ['payments-db', 'payments', 'orders', 'api', 'web'];
const MINUTE = 60_000;

/** Orders of arrival for the 5-service cascade: the origin first, last, in the middle, reversed. */
const ARRIVALS = [
  [0, 1, 2, 3, 4],
  [4, 3, 2, 1, 0],
  [2, 4, 0, 3, 1],
  [1, 3, 4, 2, 0],
  [3, 0, 4, 1, 2],
];

interface Alert {
  service: string;
  severity?: string;
  startsAt?: number;
  endsAt?: number;
  fingerprint?: string;
  status?: string;
  labels?: Record<string, string>;
}

describe.each(BACKENDS)('one outage, one incident, on %s', (backend) => {
  let server: TestServer;
  let environments = 0;
  /** Each case its own environment, so incidents of one never meet another's. */
  const environment = () => `env-${++environments}`;
  const base = Date.now() - 20 * MINUTE;

  const send = async (env: string, alerts: readonly Alert[]) => {
    const response = await server.request('POST', '/v1/signals', {
      token: server.tokens.ingest,
      body: alerts.map((alert) => ({
        source: 'generic',
        service: alert.service,
        environment: env,
        severity: alert.severity ?? 'critical',
        title: `${alert.service} is failing`,
        fingerprint: alert.fingerprint ?? `${env}-${alert.service}`,
        status: alert.status ?? 'firing',
        startsAt: new Date(alert.startsAt ?? base).toISOString(),
        ...(alert.endsAt ? { endsAt: new Date(alert.endsAt).toISOString() } : {}),
        ...(alert.labels ? { labels: alert.labels } : {}),
      })),
    });
    expect(response.status, response.text).toBe(200);
    return response.json;
  };
  const incidentsOf = async (env: string) => {
    const response = await server.request('GET', '/v1/incidents?limit=500', { token: server.tokens.read });
    return (response.json.items as { id: string; environment: string }[]).filter(
      (incident) => incident.environment === env,
    );
  };
  const detail = async (id: string) =>
    (await server.request('GET', `/v1/incidents/${id}`, { token: server.tokens.read })).json;
  /** Records a change on `service` (shared-db unless named) and returns its id. */
  const change = async (
    env: string,
    startedAt: number,
    service = 'shared-db',
    { kind = 'config', summary = `${service}: lower max_connections` } = {},
  ) => {
    const response = await server.request('POST', '/v1/changes', {
      token: server.tokens.ingest,
      body: { kind, service, environment: env, summary, startedAt: new Date(startedAt).toISOString() },
    });
    expect(response.status, response.text).toBe(201);
    return response.json.change.id as string;
  };
  const events = async (id: string) =>
    (await server.request('GET', `/v1/incidents/${id}/events`, { token: server.tokens.read })).json.items as {
      type: string;
      data: Record<string, unknown>;
    }[];
  const verified = async (id: string) =>
    (await server.request('GET', `/v1/incidents/${id}/verify`, { token: server.tokens.read })).json.valid;

  beforeAll(async () => {
    server = await testServer(backend);
    const response = await server.request('POST', '/v1/services', { body: TOPOLOGY });
    expect(response.status, response.text).toBeLessThan(300);
  });
  afterAll(async () => {
    await server.cleanup();
  });

  it('ships the topology rule on, and shows it with the others', async () => {
    const rules = (await server.request('GET', '/v1/rules', { token: server.tokens.read })).json;
    const topology = (rules.items ?? rules).find(
      (rule: { name: string }) => rule.name === 'service-topology',
    );
    expect(topology).toMatchObject({ kind: 'topology', enabled: true, hops: 2, windowSeconds: 600 });
  });

  it.each(ARRIVALS.map((order) => ({ order, label: order.map((index) => CASCADE[index]).join(', ') })))(
    'a cascade across 5 services arriving as $label opens one incident rooted at the origin',
    async ({ order }) => {
      const env = environment();
      // Each alert starts a minute after the one below it, but arrives in the order given, one request each.
      for (const index of order)
        await send(env, [{ service: CASCADE[index]!, startsAt: base + index * MINUTE }]);
      // Alerts three hops apart (api before payments-db) open two incidents until a signal between
      // them arrives; then the younger merges into the older. One stays open.
      const incidents = await Promise.all((await incidentsOf(env)).map((one) => detail(one.id)));
      const open = incidents.filter((entry) => entry.incident.mergedInto === null);
      expect(open).toHaveLength(1);
      const { incident, signals } = open[0]!;
      for (const entry of incidents)
        if (entry !== open[0])
          expect(entry.incident).toMatchObject({ status: 'CLOSED', mergedInto: incident.id });
      expect(incident.rootService).toBe('payments-db');
      expect([...incident.services].sort()).toEqual([...CASCADE].sort());
      expect(signals).toHaveLength(5);
      expect(incident.title.startsWith('payments-db: ')).toBe(true);
      expect(await verified(incident.id)).toBe(true);
      // Every signal says how it joined: its rule, the topology (with the path) or a merge.
      for (const signal of signals) expect(signal.joinedBy).not.toBeNull();
      const joined = signals.filter(
        (signal: { joinedBy: { kind: string } }) => signal.joinedBy.kind === 'topology',
      );
      expect(joined.length).toBeGreaterThan(0);
      for (const signal of joined) expect(signal.joinedBy.path[0]).toBe(signal.service);
    },
  );

  it('a late upstream alert re-roots the incident and says so on the timeline', async () => {
    const env = environment();
    await send(env, [{ service: 'web', startsAt: base + 3 * MINUTE }]);
    await send(env, [{ service: 'api', startsAt: base + 2 * MINUTE }]);
    const [only] = await incidentsOf(env);
    expect((await detail(only!.id)).incident.rootService).toBe('api');
    // The dependency's alert has a longer `for:` and starts after its callers'.
    await send(env, [{ service: 'orders', startsAt: base + 4 * MINUTE, severity: 'error' }]);
    expect(await incidentsOf(env)).toHaveLength(1);
    const { incident } = await detail(only!.id);
    expect(incident.rootService).toBe('orders');
    const moves = (await events(only!.id)).filter((event) => event.type === 'origin_moved');
    expect(moves.map((event) => [event.data.from, event.data.to])).toEqual([
      ['web', 'api'],
      ['api', 'orders'],
    ]);
    expect(await verified(only!.id)).toBe(true);
  });

  it('takes in the origin alerts that fired earlier and met no threshold when a caller opens the incident', async () => {
    const env = environment();
    // payments-db errs first (one error opens nothing), payments and orders warn, then web pages.
    await send(env, [{ service: 'payments-db', severity: 'error', startsAt: base }]);
    await send(env, [{ service: 'payments', severity: 'warning', startsAt: base + MINUTE }]);
    await send(env, [{ service: 'orders', severity: 'warning', startsAt: base + 2 * MINUTE }]);
    // An error that began long before, outside the window before the incident opens, stays out.
    await send(env, [{ service: 'api', severity: 'error', startsAt: base - 20 * MINUTE }]);
    // A resolved error is not taken in.
    await send(env, [
      { service: 'shared-db', severity: 'error', startsAt: base, endsAt: base + MINUTE, status: 'resolved' },
    ]);
    expect(await incidentsOf(env)).toHaveLength(0);
    await send(env, [{ service: 'web', severity: 'critical', startsAt: base + 4 * MINUTE }]);
    const [only, ...others] = await incidentsOf(env);
    expect(others).toHaveLength(0);
    const { incident, signals } = await detail(only!.id);
    // payments-db is four hops from web: it is reached through the warnings taken in before it.
    expect([...incident.services].sort()).toEqual(['orders', 'payments', 'payments-db', 'web']);
    expect(incident.rootService).toBe('payments-db');
    const taken = signals.find((signal: { service: string }) => signal.service === 'payments-db');
    expect(taken.joinedBy).toMatchObject({ kind: 'topology', rule: 'service-topology' });
    expect(await verified(only!.id)).toBe(true);
  });

  it('opens one incident for errors on a database and its caller, though neither meets a threshold alone', async () => {
    const env = environment();
    await send(env, [{ service: 'payments-db', severity: 'error', startsAt: base }]);
    expect(await incidentsOf(env)).toHaveLength(0);
    await send(env, [{ service: 'payments', severity: 'error', startsAt: base + 2 * MINUTE }]);
    // A warning on the next caller joins it as the topology rule joins any.
    await send(env, [{ service: 'orders', severity: 'warning', startsAt: base + 3 * MINUTE }]);
    const [only, ...others] = await incidentsOf(env);
    expect(others).toHaveLength(0);
    const { incident, signals } = await detail(only!.id);
    expect(incident).toMatchObject({ severity: 'SEV3', rootService: 'payments-db' });
    expect([...incident.services].sort()).toEqual(['orders', 'payments', 'payments-db']);
    const reasons = Object.fromEntries(
      signals.map((signal: { service: string; joinedBy: unknown }) => [signal.service, signal.joinedBy]),
    );
    expect(reasons['payments-db']).toEqual({ kind: 'rule', rule: 'service-topology' });
    expect(reasons.payments).toEqual({ kind: 'rule', rule: 'service-topology' });
    expect(reasons.orders).toMatchObject({ kind: 'topology', relation: 'caller' });
    expect(await verified(only!.id)).toBe(true);
  });

  it("opens nothing for errors that only share a database, are far apart in time, or meet a warning; a caller's error does", async () => {
    const env = environment();
    // orders and search both call shared-db; neither calls the other.
    await send(env, [{ service: 'orders', severity: 'error', startsAt: base }]);
    await send(env, [{ service: 'search', severity: 'error', startsAt: base + MINUTE }]);
    // d1 errs, and the service calling it errs 20 minutes later: two separate blips.
    await send(env, [{ service: 'd1', severity: 'error', startsAt: base - 25 * MINUTE }]);
    await send(env, [{ service: 'd2', severity: 'error', startsAt: base - 5 * MINUTE }]);
    // A warning on a service and an error on the service calling it.
    await send(env, [{ service: 'd3', severity: 'warning', startsAt: base }]);
    await send(env, [{ service: 'd4', severity: 'error', startsAt: base + MINUTE }]);
    expect(await incidentsOf(env)).toHaveLength(0);
    // Then the caller of orders errs too: that is a cascade, and it opens one incident.
    await send(env, [{ service: 'api', severity: 'error', startsAt: base + 2 * MINUTE }]);
    const [only, ...others] = await incidentsOf(env);
    expect(others).toHaveLength(0);
    expect([...(await detail(only!.id)).incident.services].sort()).toEqual(['api', 'orders']);
  });

  it('merges two incidents once a signal proves them connected, both chains intact', async () => {
    const env = environment();
    // d1 and d4 are three hops apart: too far to join, so each opens its own incident.
    await send(env, [{ service: 'd1', startsAt: base }]);
    await send(env, [{ service: 'd4', startsAt: base + MINUTE }]);
    const before = await incidentsOf(env);
    expect(before).toHaveLength(2);
    // d2 alerts: it joins d1's incident, and now d4 depends on it through d3, one silent service.
    await send(env, [{ service: 'd2', startsAt: base + 2 * MINUTE }]);
    const after = await Promise.all(before.map((incident) => detail(incident.id)));
    const survivor = after.find((entry) => entry.incident.mergedInto === null)!;
    const merged = after.find((entry) => entry.incident.mergedInto !== null)!;
    expect(survivor.incident.rootService).toBe('d1');
    expect(merged.incident.mergedInto).toBe(survivor.incident.id);
    expect(merged.incident.status).toBe('CLOSED');
    expect(merged.signals).toHaveLength(0);
    expect(survivor.signals.map((signal: { service: string }) => signal.service).sort()).toEqual([
      'd1',
      'd2',
      'd4',
    ]);
    // The older one survives.
    expect(survivor.incident.detectedAt <= merged.incident.detectedAt).toBe(true);
    expect((await events(survivor.incident.id)).some((event) => event.type === 'merged_from')).toBe(true);
    expect((await events(merged.incident.id)).some((event) => event.type === 'merged_into')).toBe(true);
    expect(await verified(survivor.incident.id)).toBe(true);
    expect(await verified(merged.incident.id)).toBe(true);
  });

  it('keeps two unrelated outages apart, though they share a caller and a busy database', async () => {
    const env = environment();
    await send(env, [{ service: 'payments', startsAt: base }]);
    await send(env, [{ service: 'search', startsAt: base + MINUTE }]);
    // The gateway calls both; a warning on the shared database is a blip.
    await send(env, [{ service: 'gateway', startsAt: base + 2 * MINUTE, severity: 'error' }]);
    await send(env, [{ service: 'shared-db', startsAt: base + 3 * MINUTE, severity: 'warning' }]);
    const incidents = await Promise.all((await incidentsOf(env)).map((incident) => detail(incident.id)));
    const open = incidents.filter((entry) => entry.incident.mergedInto === null);
    expect(open).toHaveLength(2);
    expect(open.map((entry) => entry.incident.rootService).sort()).toEqual(['payments', 'search']);
  });

  it("sends a hub's alert to the outage on the route it names, not to the incident already holding the hub", async () => {
    const env = environment();
    await send(env, [{ service: 'search', startsAt: base }]);
    await send(env, [
      {
        service: 'gateway',
        startsAt: base + MINUTE,
        fingerprint: `${env}-gw-search`,
        labels: { route: '/search' },
      },
    ]);
    await send(env, [{ service: 'payments', startsAt: base + 2 * MINUTE }]);
    await send(env, [{ service: 'orders', startsAt: base + 3 * MINUTE }]);
    await send(env, [
      {
        service: 'gateway',
        startsAt: base + 3 * MINUTE,
        fingerprint: `${env}-gw-orders`,
        labels: { route: '/api/v1/orders/checkout' },
      },
    ]);
    const incidents = await Promise.all((await incidentsOf(env)).map((incident) => detail(incident.id)));
    const byRoot = new Map(incidents.map((entry) => [entry.incident.rootService, entry] as const));
    expect([...byRoot.keys()].sort()).toEqual(['payments', 'search']);
    const servicesOf = (root: string) =>
      (byRoot.get(root)!.signals as { service: string }[]).map((signal) => signal.service).sort();
    expect(servicesOf('search')).toEqual(['gateway', 'search']);
    expect(servicesOf('payments')).toEqual(['gateway', 'orders', 'payments']);
    const routed = (
      byRoot.get('payments')!.signals as { service: string; joinedBy: { path?: string[] } }[]
    ).find((signal) => signal.service === 'gateway');
    expect(routed?.joinedBy.path).toEqual(['gateway', 'orders']);
  });

  it('joins services that only share a dependency when that dependency has just changed', async () => {
    // A change 2 minutes before: orders and search failing together are one outage under shared-db.
    const env = environment();
    const changeId = await change(env, base - 2 * MINUTE);
    await send(env, [{ service: 'orders', startsAt: base }]);
    const joined = await send(env, [{ service: 'search', startsAt: base + MINUTE }]);
    const [outage, ...others] = await incidentsOf(env);
    expect(others).toHaveLength(0);
    expect(joined.signals[0].incidentIds).toEqual([outage!.id]);
    const { signals } = await detail(outage!.id);
    const search = signals.find((signal: { service: string }) => signal.service === 'search');
    expect(search.joinedBy).toMatchObject({
      kind: 'topology',
      relation: 'sibling',
      path: ['search', 'shared-db', 'orders'],
      shared: 'shared-db',
      change: changeId,
    });
    // The same shape with the change three hours old: nothing connects them through a change, but the
    // origin and an error on a service beside it, whose only link is the silent shared-db and which
    // changed nothing itself, are an origin sibling (one failure under shared-db).
    const old = environment();
    await change(old, base - 180 * MINUTE);
    await send(old, [{ service: 'orders', startsAt: base }]);
    await send(old, [{ service: 'search', startsAt: base + MINUTE }]);
    const [together, ...more] = await incidentsOf(old);
    expect(more).toHaveLength(0);
    const beside = (await detail(together!.id)).signals.find(
      (signal: { service: string }) => signal.service === 'search',
    );
    expect(beside.joinedBy).toMatchObject({
      relation: 'sibling',
      path: ['search', 'shared-db', 'orders'],
      shared: 'shared-db',
    });
    expect(beside.joinedBy.change).toBeUndefined();
    // Two outages that share a database stay apart when search changed itself just before (its own
    // change explains it), and a warning beside the origin is not enough to join either.
    const apart = environment();
    await change(apart, base - 5 * MINUTE, 'search');
    await send(apart, [{ service: 'orders', startsAt: base }]);
    await send(apart, [{ service: 'search', startsAt: base + MINUTE }]);
    expect(await incidentsOf(apart)).toHaveLength(2);
    // Nor does search join when the origin changed just before: the deploy of orders explains orders,
    // so the silent database they share explains nothing.
    const originChanged = environment();
    await change(originChanged, base - 5 * MINUTE, 'orders');
    await send(originChanged, [{ service: 'orders', startsAt: base }]);
    await send(originChanged, [{ service: 'search', startsAt: base + MINUTE }]);
    const separate = await Promise.all((await incidentsOf(originChanged)).map((entry) => detail(entry.id)));
    expect(separate.map((entry) => entry.incident.rootService).sort()).toEqual(['orders', 'search']);
    const warned = environment();
    await send(warned, [{ service: 'orders', startsAt: base }]);
    await send(warned, [{ service: 'search', startsAt: base + MINUTE, severity: 'warning' }]);
    const [only, ...none] = await incidentsOf(warned);
    expect(none).toHaveLength(0);
    expect((await detail(only!.id)).signals.map((signal: { service: string }) => signal.service)).toEqual([
      'orders',
    ]);
  });

  it('does not join a sibling through a changed dependency that only a symptom calls', async () => {
    // payments fails and orders follows it (a symptom). shared-db changed just before, and search,
    // which also calls it, fails: but the origin does not reach shared-db, so the change explains
    // neither the incident nor its symptom, and search is another outage.
    const env = environment();
    await change(env, base - 2 * MINUTE);
    await send(env, [{ service: 'payments', startsAt: base }]);
    await send(env, [{ service: 'orders', startsAt: base + MINUTE }]);
    await send(env, [{ service: 'search', startsAt: base + 2 * MINUTE }]);
    const incidents = await Promise.all((await incidentsOf(env)).map((entry) => detail(entry.id)));
    expect(incidents.map((entry) => entry.incident.rootService).sort()).toEqual(['payments', 'search']);
  });

  it('leaves out a blip on a database that only a symptom calls, not the origin', async () => {
    const env = environment();
    await send(env, [{ service: 'payments', startsAt: base }]);
    await send(env, [{ service: 'orders', startsAt: base + MINUTE }]);
    const [outage] = await incidentsOf(env);
    // shared-db is called by orders (a symptom here) but not by payments (the origin).
    const blip = await send(env, [
      { service: 'shared-db', startsAt: base + 2 * MINUTE, severity: 'critical' },
    ]);
    expect(blip.signals[0].incidentIds).not.toContain(outage!.id);
    const { incident, signals } = await detail(outage!.id);
    expect(incident.rootService).toBe('payments');
    expect(signals.map((signal: { service: string }) => signal.service).sort()).toEqual([
      'orders',
      'payments',
    ]);
  });

  it("joins a symptom's other dependency that shares a silent dependency with the origin", async () => {
    // search fails, gateway (which calls search and orders) follows; then orders fails. orders is a
    // dependency of a mere symptom, which alone would be another problem, but orders and search both
    // call shared-db, which is silent: one failure under shared-db, not a second outage.
    const env = environment();
    await send(env, [{ service: 'search', startsAt: base }]);
    await send(env, [{ service: 'gateway', startsAt: base + MINUTE }]);
    await send(env, [{ service: 'orders', startsAt: base + 2 * MINUTE }]);
    const [outage, ...others] = await incidentsOf(env);
    expect(others).toHaveLength(0);
    const orders = (await detail(outage!.id)).signals.find(
      (signal: { service: string }) => signal.service === 'orders',
    );
    expect(orders.joinedBy).toMatchObject({
      relation: 'sibling',
      path: ['orders', 'shared-db', 'search'],
      shared: 'shared-db',
    });
    // The same shape after a deploy of orders: its own change explains it, so it stays apart.
    const changed = environment();
    await change(changed, base, 'orders', { kind: 'deploy', summary: 'orders: deploy 2.4.0' });
    await send(changed, [{ service: 'search', startsAt: base }]);
    await send(changed, [{ service: 'gateway', startsAt: base + MINUTE }]);
    await send(changed, [{ service: 'orders', startsAt: base + 2 * MINUTE }]);
    expect(await incidentsOf(changed)).toHaveLength(2);
  });

  it("splits off a blip on the origin's dependency that recovers while the outage goes on", async () => {
    const env = environment();
    await send(env, [{ service: 'payments', startsAt: base }]);
    await send(env, [{ service: 'orders', startsAt: base + MINUTE }]);
    const [outage] = await incidentsOf(env);
    // The origin calls payments-db, so its alert joins as a possible cause and takes the origin.
    const dbAlert = { service: 'payments-db', severity: 'error', startsAt: base + 4 * MINUTE };
    const joined = await send(env, [dbAlert]);
    expect(joined.signals[0].incidentIds).toEqual([outage!.id]);
    expect((await detail(outage!.id)).incident.rootService).toBe('payments-db');
    // Ninety seconds later it has recovered; payments and orders, failing since before it, still fail.
    const resolved = await send(env, [{ ...dbAlert, status: 'resolved', endsAt: base + 5.5 * MINUTE }]);
    expect(resolved.signals[0].action).toBe('resolved');

    const { incident, signals } = await detail(outage!.id);
    expect(incident.rootService).toBe('payments');
    expect(incident.title.startsWith('payments: ')).toBe(true);
    expect(incident.services).toEqual(['orders', 'payments']);
    expect(signals.map((signal: { service: string }) => signal.service).sort()).toEqual([
      'orders',
      'payments',
    ]);
    const split = (await events(outage!.id)).find((event) => event.type === 'signals_split')!;
    expect(split.data.reason).toMatch(/payments-db recovered within 1\.5 min while payments/);
    const blip = await detail(split.data.incidentId as string);
    expect(blip.incident).toMatchObject({
      rootService: 'payments-db',
      severity: 'SEV4',
      services: ['payments-db'],
    });
    expect(blip.incident.signalsResolvedAt).not.toBeNull();
    expect(blip.signals).toHaveLength(1);
    expect(blip.signals[0].joinedBy).toMatchObject({
      kind: 'split',
      from: outage!.id,
      principal: 'system:correlate',
    });
    expect((await events(blip.incident.id)).map((event) => event.type)).toContain('split_from');
    expect(await verified(outage!.id)).toBe(true);
    expect(await verified(blip.incident.id)).toBe(true);
    // The blip's record is over (resolved with the shipped settings, which do not auto-resolve), so
    // the outage's next alert neither merges it back nor hands it the origin again.
    expect(blip.incident.status).toBe('RESOLVED');
    await send(env, [{ service: 'payments', startsAt: base + 7 * MINUTE, fingerprint: `${env}-payments-2` }]);
    expect((await detail(blip.incident.id)).incident).toMatchObject({ status: 'RESOLVED', mergedInto: null });
    expect((await detail(outage!.id)).incident).toMatchObject({ rootService: 'payments' });
    // Nobody is asked to investigate a blip that is over.
    const jobs = await server.runtime.store.jobs.list({ kind: 'investigate', limit: 500 });
    expect(jobs.some((job) => job.payload.incidentId === blip.incident.id)).toBe(false);
  });

  it('recounts the services in the title when a blip that never took the origin leaves', async () => {
    const env = environment();
    await send(env, [{ service: 'payments', startsAt: base }]);
    await send(env, [{ service: 'orders', startsAt: base + MINUTE }]);
    const [outage] = await incidentsOf(env);
    // A warning joins as a possible cause but may not take the origin.
    const dbAlert = { service: 'payments-db', severity: 'warning', startsAt: base + 4 * MINUTE };
    await send(env, [dbAlert]);
    expect((await detail(outage!.id)).incident.title).toBe('payments: payments is failing (+2 services)');
    await send(env, [{ ...dbAlert, status: 'resolved', endsAt: base + 5 * MINUTE }]);
    const { incident } = await detail(outage!.id);
    expect(incident).toMatchObject({ rootService: 'payments', services: ['orders', 'payments'] });
    expect(incident.title).toBe('payments: payments is failing (+1 service)');
  });

  it('keeps a dependency that stays down for longer than a blip, or outlasts its callers, as the origin', async () => {
    for (const { endsAt, callersEnd } of [
      { endsAt: base + 12 * MINUTE, callersEnd: undefined },
      { endsAt: base + 5 * MINUTE, callersEnd: base + 4.5 * MINUTE },
    ]) {
      const env = environment();
      await send(env, [{ service: 'payments', startsAt: base }]);
      await send(env, [{ service: 'orders', startsAt: base + MINUTE }]);
      const [outage] = await incidentsOf(env);
      const dbAlert = { service: 'payments-db', severity: 'error', startsAt: base + 4 * MINUTE };
      await send(env, [dbAlert]);
      if (callersEnd)
        await send(env, [
          { service: 'payments', status: 'resolved', endsAt: callersEnd },
          { service: 'orders', status: 'resolved', endsAt: callersEnd },
        ]);
      await send(env, [{ ...dbAlert, status: 'resolved', endsAt }]);
      expect(await incidentsOf(env)).toHaveLength(1);
      const { incident, signals } = await detail(outage!.id);
      expect(incident.rootService).toBe('payments-db');
      expect(signals).toHaveLength(3);
    }
  });

  it('renames the incident when its investigation moves the origin, so title and origin agree', async () => {
    const env = environment();
    await change(env, base - 2 * MINUTE, 'payments', {
      kind: 'deploy',
      summary: 'payments 4.2.0: new card tokenizer',
    });
    await send(env, [{ service: 'payments', startsAt: base }]);
    await send(env, [{ service: 'orders', startsAt: base + MINUTE }]);
    // The database alerts later, takes the origin as a possible cause, and recovers after longer than a
    // blip, so it stays on the incident; the investigation weighs it and answers otherwise.
    const dbAlert = { service: 'payments-db', severity: 'error', startsAt: base + 3 * MINUTE };
    await send(env, [dbAlert]);
    await send(env, [{ ...dbAlert, status: 'resolved', endsAt: base + 10 * MINUTE }]);
    const [only] = await incidentsOf(env);
    expect((await detail(only!.id)).incident).toMatchObject({ rootService: 'payments-db' });
    expect((await detail(only!.id)).incident.title.startsWith('payments-db: ')).toBe(true);

    const result = await investigateIncident(server.runtime, only!.id, { principal: 'test' });
    const strategy = result.findings.find((finding) => finding.agent === 'response-strategy')!;
    const answered = (strategy.data.probableRootCause as { service: string }).service;
    expect(answered).toBe('payments');
    const { incident } = await detail(only!.id);
    expect(incident.rootService).toBe('payments');
    expect(incident.title).toBe('payments: payments is failing (+2 services)');
    const moved = (await events(only!.id)).filter((event) => event.type === 'origin_moved').at(-1)!;
    expect(moved.data).toMatchObject({ from: 'payments-db', to: 'payments' });
  });

  it('never joins across environments, and falls back to per-service grouping without topology', async () => {
    const [one, two] = [environment(), environment()];
    await send(one, [{ service: 'orders', startsAt: base }]);
    await send(two, [{ service: 'api', startsAt: base }]);
    expect(await incidentsOf(one)).toHaveLength(1);
    expect(await incidentsOf(two)).toHaveLength(1);
    await send(one, [{ service: 'legacy', startsAt: base + MINUTE }]);
    await send(one, [{ service: 'legacy', startsAt: base + 2 * MINUTE, fingerprint: `${one}-legacy-2` }]);
    const incidents = await incidentsOf(one);
    expect(incidents).toHaveLength(2);
  });

  it('merges and splits by hand, each on both timelines, and the moved signal stays where it was put', async () => {
    const [one, two] = [environment(), environment()];
    const first = (await send(one, [{ service: 'orders', startsAt: base }])).signals[0].incidentIds[0];
    const second = (await send(two, [{ service: 'api', startsAt: base }])).signals[0];
    const respond = server.tokens.respond;
    const merged = await server.request('POST', `/v1/incidents/${second.incidentIds[0]}/merge`, {
      token: respond,
      body: { into: first, reason: 'the same outage seen from staging' },
    });
    expect(merged.status, merged.text).toBe(200);
    expect(merged.json.merged).toMatchObject({ status: 'CLOSED', mergedInto: first });
    let held = await detail(first);
    expect(held.signals).toHaveLength(2);
    const moved = held.signals.find((signal: { id: string }) => signal.id === second.id);
    expect(moved).toMatchObject({ pinned: true, joinedBy: { kind: 'manual', action: 'merge' } });
    const mergedEvents = await events(second.incidentIds[0]);
    expect(mergedEvents.at(-1)).toMatchObject({
      type: 'merged_into',
      data: { incidentId: first, reason: 'the same outage seen from staging' },
    });

    // A merge into a closed incident, a split of a signal it does not hold, and an empty split are refused.
    expect(
      (
        await server.request('POST', `/v1/incidents/${first}/merge`, {
          token: respond,
          body: { into: second.incidentIds[0] },
        })
      ).status,
    ).toBe(409);
    expect(
      (
        await server.request('POST', `/v1/incidents/${first}/split`, {
          token: respond,
          body: { signalIds: ['sig_nope'] },
        })
      ).status,
    ).toBe(400);
    expect(
      (
        await server.request('POST', `/v1/incidents/${first}/split`, {
          token: respond,
          body: { signalIds: held.signals.map((signal: { id: string }) => signal.id) },
        })
      ).status,
    ).toBe(400);

    const split = await server.request('POST', `/v1/incidents/${first}/split`, {
      token: respond,
      body: { signalIds: [second.id], reason: 'staging is its own problem' },
    });
    expect(split.status, split.text).toBe(201);
    const newId = split.json.split.id;
    held = await detail(first);
    expect(held.signals.map((signal: { id: string }) => signal.id)).not.toContain(second.id);
    expect(held.incident.services).toEqual(['orders']);
    const apart = await detail(newId);
    expect(apart.signals.map((signal: { id: string }) => signal.id)).toEqual([second.id]);
    expect(apart.signals[0]).toMatchObject({ pinned: true, joinedBy: { kind: 'manual', action: 'split' } });
    expect((await events(first)).some((event) => event.type === 'signals_split')).toBe(true);
    expect((await events(newId)).some((event) => event.type === 'split_from')).toBe(true);
    for (const id of [first, newId, second.incidentIds[0]]) expect(await verified(id)).toBe(true);
    // A re-sent alert is a repeat of the signal where the human put it.
    await send(two, [{ service: 'api', startsAt: base }]);
    expect((await detail(newId)).signals).toHaveLength(1);
  });

  it('50 concurrent alerts of one cascade still open one incident', async () => {
    const env = environment();
    const alerts = Array.from({ length: 50 }, (_, index) => ({
      service: CASCADE[index % CASCADE.length]!,
      startsAt: base + (index % CASCADE.length) * 10_000 + index,
      fingerprint: `${env}-alert-${index}`,
      severity: index % 3 === 0 ? 'critical' : 'error',
    }));
    await Promise.all(alerts.map((alert) => send(env, [alert])));
    const incidents = await incidentsOf(env);
    expect(incidents).toHaveLength(1);
    const { incident, signals } = await detail(incidents[0]!.id);
    expect(signals).toHaveLength(50);
    expect(incident.rootService).toBe('payments-db');
    expect(await verified(incident.id)).toBe(true);
  });
});

describe.each(BACKENDS)('rehearsing rules on stored signals (%s)', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await testServer(backend);
    await server.request('POST', '/v1/services', { body: TOPOLOGY });
  });
  afterAll(async () => {
    await server.cleanup();
  });

  it('replays what happened through a candidate rule set and compares opened, merged and paged', async () => {
    const since = new Date(Date.now() - 60_000).toISOString();
    const base = Date.now() - 10 * MINUTE;
    for (const [index, service] of CASCADE.entries()) {
      const response = await server.request('POST', '/v1/signals', {
        token: server.tokens.ingest,
        body: {
          service,
          environment: 'prod',
          severity: 'critical',
          title: `${service} is failing`,
          startsAt: new Date(base + (CASCADE.length - index) * MINUTE).toISOString(),
        },
      });
      expect(response.status).toBe(200);
    }
    const live = (await server.request('GET', '/v1/rules', { token: server.tokens.read })).json.items;
    const asInput = (rule: Record<string, unknown>) => {
      const { id: _id, version: _version, builtIn: _builtIn, createdAt: _c, updatedAt: _u, ...input } = rule;
      return input;
    };
    const same = await server.request('POST', '/v1/rules/dry-run', {
      body: { rules: live.map(asInput), since },
    });
    expect(same.status, same.text).toBe(200);
    expect(same.json.signals).toBe(5);
    expect(same.json.candidate).toMatchObject({ opened: 1, merged: 0, pages: 1 });
    expect(same.json.candidate.incidents[0].rootService).toBe('payments-db');
    expect(same.json.actual).toEqual({ opened: 1, merged: 0, pages: 1 });

    // Without the topology rule, each service pages on its own.
    const perService = live.filter((rule: { kind: string }) => rule.kind !== 'topology').map(asInput);
    const split = await server.request('POST', '/v1/rules/dry-run', { body: { rules: perService, since } });
    expect(split.json.candidate).toMatchObject({ opened: 5, pages: 5 });
    // The rehearsal wrote nothing.
    expect(
      (await server.request('GET', '/v1/incidents', { token: server.tokens.read })).json.items,
    ).toHaveLength(1);

    // Bad input is named.
    const bad = await server.request('POST', '/v1/rules/dry-run', {
      body: { rules: [{ kind: 'topology' }] },
    });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('rules');
    const twice = await server.request('POST', '/v1/rules/dry-run', {
      body: { rules: [live.map(asInput)[0], live.map(asInput)[0]] },
    });
    expect(twice.status).toBe(400);
    expect(
      (await server.request('POST', '/v1/rules/dry-run', { token: server.tokens.read, body: {} })).status,
    ).toBe(403);
  });
});
