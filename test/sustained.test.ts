import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RULES } from '../src/detect/rules.js';
import { ADAPTERS } from '../src/ingest/adapters/index.js';
import { dryRunRules } from '../src/ingest/dry-run.js';
import { scheduleSustainedSweep } from '../src/ingest/sweep.js';
import { BACKENDS, type TestServer, testServer } from './support.js';

const MINUTE = 60_000;

describe.each(BACKENDS)('an error that goes on firing opens an incident, a blip does not (%s)', (backend) => {
  let server: TestServer;
  let environments = 0;
  /** Each case its own environment; the sweep looks at all of them, so arrival times keep cases apart. */
  const environment = () => `sustained-${++environments}`;

  beforeAll(async () => {
    server = await testServer(backend);
    await server.request('POST', '/v1/services', {
      token: server.tokens.admin,
      body: [
        { name: 'web', tier: 1, dependsOn: ['api'] },
        { name: 'api', tier: 1, dependsOn: ['db'] },
        { name: 'db', kind: 'resource', tier: 1 },
        { name: 'batch', tier: 3 },
      ],
    });
  });
  afterAll(async () => {
    await server?.cleanup();
  });

  /** Ingests as the receivers would have when the signal arrived at `arrived`. */
  const arrive = async (
    env: string,
    arrived: number,
    alerts: { service: string; severity: string; status?: 'firing' | 'resolved'; startsAt?: number }[],
  ) => {
    const parsed = ADAPTERS.generic(
      alerts.map((alert) => ({
        source: 'generic',
        service: alert.service,
        environment: env,
        severity: alert.severity,
        title: `${alert.service}: error rate 12%`,
        fingerprint: `${env}-${alert.service}`,
        status: alert.status ?? 'firing',
        startsAt: new Date(alert.startsAt ?? arrived).toISOString(),
      })),
      { now: arrived },
    );
    if (!parsed.ok) throw new Error(parsed.error.message);
    const { runtime } = server;
    return runtime.writes.run((scope) =>
      runtime.ingest.ingestInScope(scope, parsed.signals, 'test', arrived),
    );
  };
  const sweep = (now: number) => {
    const { runtime } = server;
    return runtime.writes.run((scope) => runtime.ingest.sweepSustained(scope, now));
  };
  const incidentsOf = async (env: string) =>
    (await server.runtime.store.incidents.list({ limit: 500 })).filter(
      (incident) => incident.environment === env,
    );

  it('ships the rule, listed with the others', async () => {
    const response = await server.request('GET', '/v1/rules', { token: server.tokens.read });
    expect(response.status, response.text).toBe(200);
    expect(response.json.items).toContainEqual(
      expect.objectContaining({
        name: 'sustained-error',
        sustainedSeconds: 300,
        severity: 'SEV3',
        enabled: true,
      }),
    );
  });

  it('opens one SEV3 once the error has fired 5 minutes, with the rule as the reason, and only once', async () => {
    const env = environment();
    const arrived = Date.now() - 40 * MINUTE;
    const [signal] = (await arrive(env, arrived, [{ service: 'batch', severity: 'error' }])).signals;
    expect(signal!.incidentIds).toEqual([]);
    expect((await sweep(arrived + 4 * MINUTE)).signals).toBe(0);
    expect(await incidentsOf(env)).toHaveLength(0);

    const swept = await sweep(arrived + 5 * MINUTE);
    expect(swept.signals).toBe(1);
    expect(swept.incidentsCreated).toHaveLength(1);
    const [incident] = await incidentsOf(env);
    expect(incident).toMatchObject({ severity: 'SEV3', services: ['batch'], rootService: 'batch' });
    expect(incident!.title).toBe('batch: batch: error rate 12% (firing for 5 minutes)');
    const linked = await server.runtime.store.incidents.signalLinks(incident!.id);
    expect(linked.map((link) => [link.signalId, link.reason])).toEqual([
      [signal!.id, { kind: 'rule', rule: 'sustained-error' }],
    ]);
    const jobs = await server.runtime.store.jobs.list({ kind: 'investigate', limit: 500 });
    expect(jobs.some((job) => job.payload.incidentId === incident!.id)).toBe(true);

    // Held now: later sweeps leave it alone.
    expect((await sweep(arrived + 6 * MINUTE)).signals).toBe(0);
    expect(await incidentsOf(env)).toHaveLength(1);
  });

  it('opens nothing for an error that resolved within 5 minutes, nor for a warning', async () => {
    const env = environment();
    const arrived = Date.now() - 30 * MINUTE;
    await arrive(env, arrived, [
      { service: 'batch', severity: 'error' },
      { service: 'web', severity: 'warning' },
    ]);
    await arrive(env, arrived + 2 * MINUTE, [
      { service: 'batch', severity: 'error', status: 'resolved', startsAt: arrived },
    ]);
    expect((await sweep(arrived + 5 * MINUTE)).signals).toBe(0);
    expect(await incidentsOf(env)).toHaveLength(0);
  });

  it('opens nothing for an error a maintenance window began to cover after it arrived', async () => {
    const env = environment();
    const arrived = Date.now() - 50 * MINUTE;
    await arrive(env, arrived, [{ service: 'db', severity: 'error' }]);
    const silence = await server.request('POST', '/v1/silences', {
      token: server.tokens.admin,
      body: {
        kind: 'maintenance',
        matchers: [{ field: 'environment', op: '=', value: env }],
        startsAt: new Date(arrived + MINUTE).toISOString(),
        endsAt: new Date(Date.now() + 60 * MINUTE).toISOString(),
        comment: 'failover drill',
      },
    });
    expect(silence.status, silence.text).toBe(201);
    expect((await sweep(arrived + 5 * MINUTE)).signals).toBe(0);
    expect(await incidentsOf(env)).toHaveLength(0);
  });

  it('is swept by the worker on its own schedule', async () => {
    const env = environment();
    await arrive(env, Date.now() - 6 * MINUTE, [{ service: 'api', severity: 'error' }]);
    const stop = new AbortController();
    const lines: string[] = [];
    const running = scheduleSustainedSweep(server.runtime, {
      signal: stop.signal,
      log: (line) => lines.push(line),
      everyMs: 50,
    });
    await expect.poll(async () => (await incidentsOf(env)).length, { timeout: 10_000 }).toBe(1);
    stop.abort();
    await running;
    expect(lines.some((line) => /1 incident\(s\) opened/.test(line))).toBe(true);
    expect((await incidentsOf(env))[0]!.services).toEqual(['api']);
  });

  it('rehearses the sweep: the shipped rules would have opened what the store never swept', async () => {
    const env = environment();
    const arrived = Date.now() - 10 * 60 * MINUTE;
    await arrive(env, arrived, [{ service: 'batch', severity: 'error' }]);
    const report = await dryRunRules(server.runtime.store, DEFAULT_RULES, {
      since: arrived - MINUTE,
      until: arrived + 10 * MINUTE,
      reopenGraceMs: 0,
      autoResolve: true,
    });
    expect(report.actual.opened).toBe(0);
    expect(report.candidate.opened).toBe(1);
    expect(report.candidate.incidents[0]).toMatchObject({ severity: 'SEV3', services: ['batch'] });
  });
});
