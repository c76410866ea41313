import { execFile } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StandInModel, startStandInModel } from '../src/llm/stand-in.js';
import { REPO_ROOT, type TestServer, testServer } from './support.js';

const BIN = path.join(REPO_ROOT, 'bin', 'opx.js');
const WARNING = 'TokenAnalytics-BudgetWarning-80pct';
const CRITICAL = 'TokenAnalytics-BudgetCritical-95pct';

interface AlarmsBody {
  alarms: { name: string; state: string; value: number | null }[];
  history: { alarm: string; from: string; to: string; at: string }[];
}

async function investigate(server: TestServer, service: string, n: number) {
  const opened = await server.request('POST', '/v1/signals', {
    body: {
      service,
      severity: 'critical',
      title: `HighErrorRate on ${service} (${n})`,
      fingerprint: `budget-${n}`,
    },
    token: server.tokens.ingest,
  });
  expect(opened.status, opened.text).toBe(200);
  const incidentId = opened.json.signals[0].incidentIds[0] as string;
  const run = await server.request('POST', `/v1/incidents/${incidentId}/investigations`, {
    token: server.tokens.respond,
  });
  expect(run.status, run.text).toBe(201);
  return run.json as { findings: { engine: { provider: string }; degraded: boolean }[] };
}

/** A server whose agents call the stand-in model, priced at `usdPerMillion` for every token. */
function pricedServer(
  model: StandInModel,
  usdPerMillion: number,
  overrides: Parameters<typeof testServer>[1],
) {
  return testServer('sqlite', {
    autoInvestigate: false,
    llmProvider: 'openai-compatible',
    llmBaseUrl: model.url,
    llmModel: 'opx-budget-model',
    llmPrices: { 'opx-budget-model': { input: usdPerMillion, output: usdPerMillion } },
    ...overrides,
  });
}

function metric(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((entry) => entry.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

describe('the budget test of the original design: 80% warns, then 95% is critical, and investigations go on', () => {
  let model: StandInModel;
  let server: TestServer;
  beforeAll(async () => {
    model = await startStandInModel();
    // $1 per million tokens and an investigation of ~4,000 tokens against a $0.06 budget: each
    // investigation spends about 7% of it, so the two thresholds are crossed on different runs.
    server = await pricedServer(model, 1, { budgetMonthlyUsd: 0.06 });
  });
  afterAll(async () => {
    await server.cleanup();
    await model.close();
  });

  it('fires the warning before the critical alarm, keeps investigating with the model, and shows it everywhere', async () => {
    const seen: { warning: string; critical: string; spent: number }[] = [];
    for (let n = 1; n <= 30; n += 1) {
      const result = await investigate(server, 'checkout-service', n);
      // Advisory: over budget or not, every agent still reasons with the model.
      for (const finding of result.findings) {
        expect(finding.engine.provider).toBe('openai-compatible');
        expect(finding.degraded).toBe(false);
      }
      const evaluated = await server.request('POST', '/v1/alarms/evaluate', {});
      expect(evaluated.status, evaluated.text).toBe(200);
      const states = Object.fromEntries(
        (evaluated.json.readings as { name: string; state: string; value: number }[]).map((reading) => [
          reading.name,
          reading,
        ]),
      );
      const warning = states[WARNING]!;
      const critical = states[CRITICAL]!;
      seen.push({ warning: warning.state, critical: critical.state, spent: warning.value });
      if (critical.state === 'ALARM' && warning.value > 1.05) break;
    }
    const firstWarning = seen.findIndex((step) => step.warning === 'ALARM');
    const firstCritical = seen.findIndex((step) => step.critical === 'ALARM');
    expect(firstWarning).toBeGreaterThan(0);
    expect(firstCritical).toBeGreaterThan(firstWarning);
    expect(seen[firstWarning]!.spent).toBeGreaterThanOrEqual(0.8);
    expect(seen[firstWarning]!.critical).toBe('OK');
    expect(seen[firstCritical - 1]!.spent).toBeLessThan(0.95);
    expect(seen.at(-1)!.spent).toBeGreaterThan(1); // past the budget, still investigating (above)

    // API: both in ALARM, and the history has the warning's change before the critical's.
    const alarms = (await server.request('GET', '/v1/alarms', { token: server.tokens.read }))
      .json as AlarmsBody;
    expect(alarms.alarms.find((alarm) => alarm.name === WARNING)?.state).toBe('ALARM');
    expect(alarms.alarms.find((alarm) => alarm.name === CRITICAL)?.state).toBe('ALARM');
    const toAlarm = alarms.history.filter((item) => item.to === 'ALARM').reverse();
    expect(toAlarm.map((item) => item.alarm)).toEqual([WARNING, CRITICAL]);
    expect(Date.parse(toAlarm[0]!.at)).toBeLessThan(Date.parse(toAlarm[1]!.at));

    // CLI, on the same store.
    // Asynchronous, so the server in this process keeps its event loop while the CLI runs: a blocked
    // loop lets an idle keep-alive socket expire on both sides at once, and the next request meets a reset.
    const cli = (...args: string[]) =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        execFile(
          process.execPath,
          [BIN, '--data-dir', server.dataDir, '--json', ...args],
          { encoding: 'utf8', env: { ...process.env, OPX_DATABASE_URL: '', OPX_BUDGET_MONTHLY_USD: '0.06' } },
          (error, stdout, stderr) =>
            resolve({
              status: error ? (typeof error.code === 'number' ? error.code : 1) : 0,
              stdout,
              stderr,
            }),
        );
      });
    const shown = await cli('alarms', '--no-evaluate');
    expect(shown.status, shown.stderr).toBe(0);
    const fromCli = JSON.parse(shown.stdout) as AlarmsBody;
    expect(fromCli.alarms.filter((alarm) => alarm.state === 'ALARM').map((alarm) => alarm.name)).toEqual(
      expect.arrayContaining([WARNING, CRITICAL]),
    );
    const costs = await cli('costs');
    expect(costs.status, costs.stderr).toBe(0);
    const report = JSON.parse(costs.stdout);
    expect(report.budget.fraction).toBeGreaterThan(1);
    expect(report.total.calls).toBe(6 * seen.length);
    expect(report.investigations.count).toBe(seen.length);
    expect(report.byAgent).toHaveLength(6);

    // /metrics.
    const scraped = await server.request('GET', '/metrics', { token: server.tokens.read });
    expect(scraped.status).toBe(200);
    expect(scraped.headers.get('content-type')).toContain('text/plain');
    expect(metric(scraped.text, 'opx_alarm_state', `alarm="${WARNING}",state="ALARM"`)).toBe(1);
    expect(metric(scraped.text, 'opx_alarm_state', `alarm="${CRITICAL}",state="ALARM"`)).toBe(1);
    expect(metric(scraped.text, 'opx_alarm_state', `alarm="${CRITICAL}",state="OK"`)).toBe(0);
    expect(metric(scraped.text, 'opx_budget_monthly_usd')).toBe(0.06);
    expect(metric(scraped.text, 'opx_budget_spent_usd')).toBeCloseTo(report.budget.spentUsd, 6);
    expect(
      metric(
        scraped.text,
        'opx_llm_calls_total',
        'agent="change-intelligence",model="opx-budget-model",status="ok"',
      ),
    ).toBe(seen.length);
    expect(scraped.text).toMatch(
      /^opx_llm_tokens_total\{agent="knowledge-rag",model="opx-budget-model",type="input"\} \d+/m,
    );
    expect(scraped.text).toMatch(/^opx_investigation_duration_seconds_count\{outcome="completed"\} \d+/m);
    expect(scraped.text).toMatch(/^opx_agent_duration_seconds_count\{agent="risk-blast-radius"\} \d+/m);
    expect(metric(scraped.text, 'opx_signals_ingested_total', 'source="generic",action="created"')).toBe(
      seen.length,
    );
    expect(scraped.text).toMatch(/^opx_detection_latency_seconds_count \d+/m);
    expect(scraped.text).toMatch(/^opx_incidents\{status="ADVISORY_READY",severity="SEV\d"\} \d+/m);
    expect(scraped.text).toMatch(/^opx_process_resident_memory_bytes \d+/m);
    expect((await server.request('GET', '/metrics', { token: null })).status).toBe(401);
  });
});

describe('a hard budget cap', () => {
  let model: StandInModel;
  let server: TestServer;
  beforeAll(async () => {
    model = await startStandInModel();
    server = await pricedServer(model, 10, { budgetMonthlyUsd: 0.01, budgetHardCap: true });
  });
  afterAll(async () => {
    await server.cleanup();
    await model.close();
  });

  it('switches agents to the engine once the month is spent, and never stops ingestion or investigation', async () => {
    const first = await investigate(server, 'checkout-service', 1);
    expect(first.findings.every((finding) => finding.engine.provider === 'openai-compatible')).toBe(true);
    const calls = model.exchanges.length;
    expect(calls).toBe(6);
    // About $0.04 spent of $0.01: the next investigation runs on the engine alone.
    const second = await investigate(server, 'payment-service', 2);
    expect(second.findings.every((finding) => finding.engine.provider === 'deterministic')).toBe(true);
    expect(second.findings.every((finding) => !finding.degraded)).toBe(true);
    expect(model.exchanges.length).toBe(calls);
  });
});
