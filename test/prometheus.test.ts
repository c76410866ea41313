import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { type StandInModel, startStandInModel } from '../src/llm/stand-in.js';
import { REPO_ROOT, type TestServer, testServer } from './support.js';

const RULES = path.join(REPO_ROOT, 'docs', 'prometheus', 'opx-alerts.yml');
const RULE_TESTS = path.join(REPO_ROOT, 'test', 'prometheus', 'opx-alerts.test.yml');
const DASHBOARD = path.join(REPO_ROOT, 'docs', 'grafana', 'opx-token-analytics.json');
const PROMTOOL = process.env.OPX_PROMTOOL_BIN ?? '/usr/bin/promtool';
const hasPromtool = spawnSync(PROMTOOL, ['--version']).status === 0;

// `.ci/run` installs Debian's `prometheus` package, which brings promtool.
describe.skipIf(!hasPromtool)('Prometheus alerting rules, checked by promtool', () => {
  it('are valid rules', () => {
    const run = spawnSync(PROMTOOL, ['check', 'rules', RULES], { encoding: 'utf8' });
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain('SUCCESS: 10 rules found');
  });

  it('fire as the seven alarms do on the unit-test series: budget 80% then 95%, validation, PII, cost spike', () => {
    const run = spawnSync(PROMTOOL, ['test', 'rules', RULE_TESTS], { encoding: 'utf8' });
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain('SUCCESS');
  });
});

/** Metric families and the label names each carries, from a /metrics text. */
function families(text: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) {
      const names =
        type[2] === 'histogram'
          ? ['_bucket', '_count', '_sum'].map((suffix) => type[1] + suffix)
          : [type[1]!];
      for (const name of names) out.set(name, out.get(name) ?? new Set());
      continue;
    }
    const sample = /^([a-z_:][a-z0-9_:]*)\{([^}]*)\}/.exec(line);
    if (sample) for (const pair of sample[2]!.matchAll(/([a-z_]+)="/g)) out.get(sample[1]!)?.add(pair[1]!);
  }
  return out;
}

/** Every `opx_…` metric an expression reads, with the label names its selector uses. */
function selectors(expr: string): { metric: string; labels: string[] }[] {
  return [...expr.matchAll(/\b(opx_[a-z0-9_]+)(\{([^}]*)\})?/g)].map((match) => ({
    metric: match[1]!,
    labels: [...(match[3] ?? '').matchAll(/([a-z_]+)\s*(?:=~|!~|!=|=)/g)].map((label) => label[1]!),
  }));
}

describe('the dashboard and the rules read metrics that /metrics serves', () => {
  let model: StandInModel;
  let server: TestServer;
  let exposed: Map<string, Set<string>>;
  beforeAll(async () => {
    model = await startStandInModel();
    server = await testServer('sqlite', {
      // A queued investigation job (no worker runs here) gives opx_jobs a series.
      autoInvestigate: true,
      investigateDelaySeconds: 3600,
      llmProvider: 'openai-compatible',
      llmBaseUrl: model.url,
      llmModel: 'gpt-4.1-mini',
    });
    const opened = await server.request('POST', '/v1/signals', {
      body: {
        service: 'checkout-service',
        severity: 'critical',
        title: 'HighErrorRate on checkout for ana@example.com',
      },
      token: server.tokens.ingest,
    });
    const incidentId = opened.json.signals[0].incidentIds[0];
    await server.request('POST', `/v1/incidents/${incidentId}/investigations`, {
      token: server.tokens.respond,
    });
    await server.request('POST', '/v1/alarms/evaluate', {});
    exposed = families((await server.request('GET', '/metrics', { token: server.tokens.read })).text);
  });
  afterAll(async () => {
    await server.cleanup();
    await model.close();
  });

  const check = (expr: string) => {
    for (const { metric, labels } of selectors(expr)) {
      expect(exposed.has(metric), `${metric} in ${expr}`).toBe(true);
      for (const label of labels)
        expect(exposed.get(metric)?.has(label), `${metric}{${label}} in ${expr}`).toBe(true);
    }
  };

  it('the Grafana dashboard: every panel query', () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
      title: string;
      panels: { title: string; targets: { expr: string }[] }[];
    };
    expect(dashboard.title).toBe('OPX token analytics');
    const exprs = dashboard.panels.flatMap((panel) => panel.targets.map((target) => target.expr));
    expect(exprs.length).toBeGreaterThan(10);
    for (const expr of exprs) check(expr);
    const titles = dashboard.panels.map((panel) => panel.title);
    expect(titles).toEqual(
      expect.arrayContaining([
        'Cost per day',
        'Cost by agent (range)',
        'Cost by model (range)',
        'Budget used this month',
      ]),
    );
  });

  it('the alerting rules: every expression, and one alert per OPX alarm', () => {
    const rules = parseYaml(readFileSync(RULES, 'utf8')) as {
      groups: { rules: { alert?: string; expr: string }[] }[];
    };
    const all = rules.groups.flatMap((group) => group.rules);
    for (const rule of all) check(rule.expr);
    expect(all.flatMap((rule) => (rule.alert ? [rule.alert] : [])).sort()).toEqual(
      [
        'Guardrails-HighContentViolationRate',
        'Guardrails-HighPIIViolationRate',
        'TokenAnalytics-BudgetCritical-95pct',
        'TokenAnalytics-BudgetWarning-80pct',
        'TokenAnalytics-CostSpike',
        'Validation-HighFailureRate',
        'Validation-HighRetryRate',
      ].sort(),
    );
  });
});
