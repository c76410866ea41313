import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AlarmName,
  evaluateAlarms,
  readAlarms,
  webhookNotifier,
  webhookSignature,
} from '../src/analytics/alarms.js';
import type { Config } from '../src/config/index.js';
import type { LlmTrace } from '../src/store/repositories/safety.js';
import { BACKENDS, type TestRuntime, type TestServer, testRuntime, testServer } from './support.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const NOW = Date.parse('2026-03-10T12:00:00Z');

function trace(createdAt: number, overrides: Partial<Omit<LlmTrace, 'id'>> = {}): Omit<LlmTrace, 'id'> {
  return {
    incidentId: 'inc_x',
    investigationId: 'inv_x',
    agent: 'change-intelligence',
    provider: 'openai-compatible',
    model: 'gpt-4.1-mini',
    attempt: 1,
    prompt: 'p',
    response: '{}',
    inputTokens: 500,
    outputTokens: 100,
    cacheReadTokens: null,
    cacheWriteTokens: null,
    costUsd: 0.001,
    latencyMs: 10,
    status: 'ok',
    error: null,
    createdAt,
    ...overrides,
  };
}

const violation = (createdAt: number, entityType: string) => ({
  incidentId: 'inc_x',
  agent: 'change-intelligence',
  direction: 'input' as const,
  entityType,
  action: 'anonymize',
  location: 'input:0-5',
  valueHash: 'h',
  createdAt,
});

describe.each(BACKENDS)('alarms (%s)', (backend) => {
  let ctx: TestRuntime;
  let config: Config;
  beforeAll(async () => {
    ctx = await testRuntime(backend, { budgetMonthlyUsd: 10 });
    config = ctx.runtime.config;
  });
  afterAll(() => ctx.cleanup());

  const state = async (name: AlarmName, now: number) =>
    (await readAlarms(ctx.runtime.store, config, now)).find((reading) => reading.name === name)!;

  it('says INSUFFICIENT_DATA before there is traffic, and OK for a budget with nothing spent', async () => {
    const { readings, changes } = await evaluateAlarms(ctx.runtime.store, config, {
      now: NOW - 40 * 24 * HOUR,
    });
    const byName = Object.fromEntries(readings.map((reading) => [reading.name, reading.state]));
    expect(byName).toEqual({
      'Guardrails-HighContentViolationRate': 'INSUFFICIENT_DATA',
      'Guardrails-HighPIIViolationRate': 'INSUFFICIENT_DATA',
      'TokenAnalytics-BudgetWarning-80pct': 'OK',
      'TokenAnalytics-BudgetCritical-95pct': 'OK',
      'TokenAnalytics-CostSpike': 'INSUFFICIENT_DATA',
      'Validation-HighFailureRate': 'INSUFFICIENT_DATA',
      'Validation-HighRetryRate': 'INSUFFICIENT_DATA',
    });
    expect(changes.map((change) => [change.name, change.from, change.state])).toEqual([
      ['TokenAnalytics-BudgetWarning-80pct', 'INSUFFICIENT_DATA', 'OK'],
      ['TokenAnalytics-BudgetCritical-95pct', 'INSUFFICIENT_DATA', 'OK'],
    ]);
  });

  it('drives the violation-rate and validation-rate alarms into ALARM and back to OK as the window slides', async () => {
    const t0 = NOW - 10 * 24 * HOUR;
    const store = ctx.runtime.store;
    // 22 calls in a minute: 6 invalid, 8 retries; 5 PII matches and 2 injection matches.
    await store.safety.addTraces([
      ...Array.from({ length: 8 }, (_, i) => trace(t0 + i * 1000)),
      ...Array.from({ length: 6 }, (_, i) => trace(t0 + 10_000 + i, { status: 'invalid' })),
      ...Array.from({ length: 8 }, (_, i) => trace(t0 + 20_000 + i, { attempt: 2 })),
    ]);
    await store.safety.addViolations([
      ...Array.from({ length: 5 }, (_, i) => violation(t0 + 30_000 + i, 'EMAIL')),
      violation(t0 + 31_000, 'INJECTION:instruction-override'),
      violation(t0 + 31_001, 'INJECTION:role-override'),
    ]);
    const during = t0 + 5 * MINUTE;
    const first = await evaluateAlarms(store, config, { now: during });
    const moved = Object.fromEntries(first.changes.map((change) => [change.name, change.state]));
    expect(moved).toMatchObject({
      'Guardrails-HighPIIViolationRate': 'ALARM',
      'Guardrails-HighContentViolationRate': 'ALARM',
      'Validation-HighFailureRate': 'ALARM',
      'Validation-HighRetryRate': 'ALARM',
    });
    expect(await state('Guardrails-HighPIIViolationRate', during)).toMatchObject({
      value: 5 / 22,
      threshold: 0.1,
    });
    expect(await state('Validation-HighFailureRate', during)).toMatchObject({
      value: 6 / 22,
      state: 'ALARM',
    });
    expect((await state('Validation-HighFailureRate', during)).reason).toContain('6 of 22 calls');

    // Twenty-five minutes on, twenty clean calls fill the window: every rate is back under its threshold.
    const later = t0 + 25 * MINUTE;
    await store.safety.addTraces(Array.from({ length: 20 }, (_, i) => trace(later - 5 * MINUTE + i * 1000)));
    const second = await evaluateAlarms(store, config, { now: later });
    expect(
      Object.fromEntries(second.changes.map((change) => [change.name, [change.from, change.state]])),
    ).toMatchObject({
      'Guardrails-HighPIIViolationRate': ['ALARM', 'OK'],
      'Guardrails-HighContentViolationRate': ['ALARM', 'OK'],
      'Validation-HighFailureRate': ['ALARM', 'OK'],
      'Validation-HighRetryRate': ['ALARM', 'OK'],
    });
    const history = await store.analytics.alarmHistory({ alarm: 'Validation-HighRetryRate' });
    expect(history.map((item) => [item.from, item.to])).toEqual([
      ['ALARM', 'OK'],
      ['INSUFFICIENT_DATA', 'ALARM'],
    ]);
    // A second evaluation with nothing new records nothing.
    expect((await evaluateAlarms(store, config, { now: later + 1000 })).changes).toEqual([]);
  });

  it('drives the cost-spike alarm into ALARM when an hour costs far more than the usual hour, and back', async () => {
    const t0 = NOW - 5 * 24 * HOUR;
    const store = ctx.runtime.store;
    // A steady $0.50 an hour for a day, then $4 in one hour.
    await store.safety.addTraces(
      Array.from({ length: 24 }, (_, i) => trace(t0 + i * HOUR + 10 * MINUTE, { costUsd: 0.5 })),
    );
    const spikeAt = t0 + 24 * HOUR;
    await store.safety.addTraces([trace(spikeAt + 5 * MINUTE, { costUsd: 4 })]);
    const during = spikeAt + 30 * MINUTE;
    expect(await state('TokenAnalytics-CostSpike', during)).toMatchObject({
      state: 'ALARM',
      value: 4,
      threshold: 1.5,
    });
    const up = await evaluateAlarms(store, config, { now: during });
    expect(up.changes.find((change) => change.name === 'TokenAnalytics-CostSpike')).toMatchObject({
      state: 'ALARM',
    });
    // Two hours later the expensive hour is in the baseline, whose median it barely moves.
    await store.safety.addTraces([trace(during + 100 * MINUTE, { costUsd: 0.5 })]);
    const after = during + 2 * HOUR;
    const down = await evaluateAlarms(store, config, { now: after });
    expect(down.changes.find((change) => change.name === 'TokenAnalytics-CostSpike')).toMatchObject({
      from: 'ALARM',
      state: 'OK',
    });
  });
});

describe('alarm webhook', () => {
  let server: Server;
  let url: string;
  const received: { headers: Record<string, string | string[] | undefined>; body: string }[] = [];
  let failuresLeft = 0;
  beforeAll(async () => {
    server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => {
        body += chunk.toString('utf8');
      });
      request.on('end', () => {
        received.push({ headers: request.headers, body });
        response.writeHead(failuresLeft-- > 0 ? 503 : 204);
        response.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/opx`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const change = {
    name: 'TokenAnalytics-BudgetWarning-80pct' as const,
    from: 'OK' as const,
    state: 'ALARM' as const,
    value: 0.82,
    threshold: 0.8,
    reason: '$82.00 of the $100 monthly budget spent (82%; alarm at 80%)',
    at: NOW,
  };

  it('posts each change as JSON signed with HMAC-SHA256 over the timestamp and body, retrying a 5xx', async () => {
    failuresLeft = 1;
    received.length = 0;
    const secret = 's'.repeat(32);
    await webhookNotifier(url, secret, { backoffMs: 1 })(change);
    expect(received).toHaveLength(2);
    const { headers, body } = received[1]!;
    expect(JSON.parse(body)).toEqual({
      alarm: 'TokenAnalytics-BudgetWarning-80pct',
      from: 'OK',
      to: 'ALARM',
      value: 0.82,
      threshold: 0.8,
      reason: change.reason,
      at: new Date(NOW).toISOString(),
    });
    const timestamp = String(headers['x-opx-timestamp']);
    expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(60);
    expect(headers['x-opx-signature']).toBe(webhookSignature(secret, timestamp, body));
    expect(headers['x-opx-signature']).not.toBe(
      webhookSignature('another-secret-of-length', timestamp, body),
    );
  });

  it('gives up after three failures and says why', async () => {
    failuresLeft = 5;
    received.length = 0;
    await expect(webhookNotifier(url, undefined, { backoffMs: 1 })(change)).rejects.toThrow('HTTP 503');
    expect(received).toHaveLength(3);
    expect(received[0]!.headers['x-opx-signature']).toBeUndefined();
  });
});

describe('bad input to the analytics and alarm endpoints', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await testServer('sqlite');
  });
  afterAll(() => server.cleanup());

  it('answers 400 naming the field, and needs the right scope', async () => {
    const get = (route: string) => server.request('GET', route, { token: server.tokens.read });
    const days = await get('/v1/analytics/tokens?days=0');
    expect(days.status).toBe(400);
    expect(days.json.error).toMatchObject({ code: 'invalid_request', path: 'query.days' });
    const backwards = await get('/v1/analytics/tokens?since=2026-03-02T00:00:00Z&until=2026-03-01T00:00:00Z');
    expect(backwards.status).toBe(400);
    expect(backwards.json.error).toMatchObject({
      path: 'query.until',
      message: 'query.until: must be after since',
    });
    const unknown = await get('/v1/alarms?colour=red');
    expect(unknown.status).toBe(400);
    expect((await get('/v1/alarms?history=-1')).json.error).toMatchObject({ path: 'query.history' });
    // Evaluating writes alarm state: admin only.
    expect((await server.request('POST', '/v1/alarms/evaluate', { token: server.tokens.read })).status).toBe(
      403,
    );
    expect(await server.runtime.store.analytics.alarms()).toEqual([]);
    const ok = await get('/v1/analytics/tokens?days=7');
    expect(ok.status).toBe(200);
    expect(ok.json.total).toMatchObject({ calls: 0, costUsd: 0 });
  });
});
