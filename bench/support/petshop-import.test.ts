import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceInputSchema } from '../../src/domain/service.js';
import { signalInputSchema } from '../../src/domain/signal.js';
import {
  caseSignals,
  listScenarios,
  noIssueCases,
  parseCsv,
  parseGraph,
  parseMetrics,
  parseTarget,
  readIssues,
  readScenario,
  serviceNames,
  toServices,
} from './petshop-import.js';

// A three-node application in the dataset's layout: web calls "search svc", which calls db/main.
const NODES = ['web', 'search svc', 'db/main'];
const GRAPH = [
  ',web,search svc,db/main',
  'web,0.0,1.0,0.0',
  'search svc,0.0,0.0,1.0',
  'db/main,0.0,0.0,0.0',
].join('\n');
const T0 = 1_700_000_000;

function metricsCsv(
  rows: { at: number; latency: (number | null)[]; availability: (number | null)[] }[],
): string {
  const header = [
    ['microservice', ...NODES, ...NODES].join(','),
    ['metric', ...NODES.map(() => 'latency'), ...NODES.map(() => 'availability')].join(','),
    ['statistic', ...NODES.map(() => 'Average'), ...NODES.map(() => 'Average')].join(','),
    ['unix_timestamp', ...NODES.map(() => ''), ...NODES.map(() => '')].join(','),
  ];
  const cell = (value: number | null) => (value === null ? '' : String(value));
  return [
    ...header,
    ...rows.map((row) => [`${row.at}.0`, ...row.latency.map(cell), ...row.availability.map(cell)].join(',')),
  ].join('\n');
}

function normalRows(
  count: number,
  from: number,
): { at: number; latency: (number | null)[]; availability: (number | null)[] }[] {
  return Array.from({ length: count }, (_, index) => ({
    at: from + index * 300,
    latency: [0.1 + (index % 3) * 0.002, 0.01 + (index % 2) * 0.0005, 0.005],
    availability: [100, 100, 100],
  }));
}

describe('petshop import: parsing', () => {
  it('reads quoted CSV fields and the adjacency matrix (row calls column)', () => {
    expect(parseCsv('a,"b,c","d ""e"""\r\n1,2,3\n')).toEqual([
      ['a', 'b,c', 'd "e"'],
      ['1', '2', '3'],
    ]);
    const graph = parseGraph(GRAPH);
    expect(graph.nodes).toEqual(NODES);
    expect(graph.calls.get('web')).toEqual(['search svc']);
    expect(graph.calls.get('search svc')).toEqual(['db/main']);
    expect(graph.calls.get('db/main')).toEqual([]);
  });

  it('reads the three header rows and the timestamped rows, with missing values as null', () => {
    const table = parseMetrics(
      metricsCsv([{ at: T0, latency: [0.1, null, 0.005], availability: [100, 99.5, null] }]),
    );
    expect(table.columns[1]).toEqual({ node: 'search svc', metric: 'latency', statistic: 'Average' });
    expect(table.columns[3]).toEqual({ node: 'web', metric: 'availability', statistic: 'Average' });
    expect(table.times).toEqual([T0 * 1000]);
    expect(table.values[0]).toEqual([0.1, null, 0.005, 100, 99.5, null]);
    expect(() => parseMetrics('a,b\n1,2')).toThrow(/header rows/);
  });

  it('reads target.json, ground truth included', () => {
    expect(
      parseTarget(
        JSON.stringify({
          target: { node: 'web', metric: 'latency', agg: 'Average', timestamp: T0 },
          root_cause: { node: 'search svc', metric: null },
          metadata: { reproducibility: { command: 'inject a delay' } },
        }),
      ),
    ).toEqual({
      node: 'web',
      metric: 'latency',
      statistic: 'Average',
      at: T0 * 1000,
      rootCause: 'search svc',
      command: 'inject a delay',
    });
  });

  it('maps node names onto valid, distinct OPX service names and keeps the dependencies', () => {
    const names = serviceNames(['PGSQL Query_remote', 'PGSQL/Query_remote', 'https://sqs.example/q', '_x']);
    expect([...names.values()]).toEqual([
      'PGSQL_Query_remote',
      'PGSQL_Query_remote-2',
      'https:__sqs.example_q',
      'n_x',
    ]);
    const graph = parseGraph(GRAPH);
    const services = toServices(graph, serviceNames(graph.nodes));
    for (const service of services) expect(serviceInputSchema.safeParse(service).success).toBe(true);
    expect(services.map((service) => [service.name, service.dependsOn, service.description])).toEqual([
      ['web', ['search_svc'], 'web'],
      ['search_svc', ['db_main'], 'search svc'],
      ['db_main', [], 'db/main'],
    ]);
  });
});

describe('petshop import: the dataset layout', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'opx-petshop-'));
    const scenario = path.join(root, 'tiny');
    mkdirSync(path.join(scenario, 'noissue'), { recursive: true });
    mkdirSync(path.join(scenario, 'train', 'issue_0'), { recursive: true });
    writeFileSync(path.join(scenario, 'graph.csv'), GRAPH);
    writeFileSync(path.join(scenario, 'noissue', 'metrics.csv'), metricsCsv(normalRows(40, T0 + 86_400)));
    const window = normalRows(5, T0);
    window[2]!.latency = [0.3, 0.2, 0.005];
    window[3]!.latency = [0.25, 0.15, null];
    writeFileSync(path.join(scenario, 'train', 'issue_0', 'metrics.csv'), metricsCsv(window));
    writeFileSync(
      path.join(scenario, 'train', 'issue_0', 'target.json'),
      JSON.stringify({
        target: { node: 'web', metric: 'latency', agg: 'Average', timestamp: T0 + 550 },
        root_cause: { node: 'search svc', metric: null },
      }),
    );
    mkdirSync(path.join(root, 'not-a-scenario'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('finds scenarios, reads issues, and reports a split that is not there', () => {
    expect(listScenarios(root)).toEqual(['tiny']);
    expect(() => listScenarios(path.join(root, 'absent'))).toThrow(/does not exist/);
    const scenario = readScenario(root, 'tiny');
    expect(readIssues(scenario, 'test')).toEqual({ missing: true });
    const train = readIssues(scenario, 'train');
    expect(train.missing).toBe(false);
    if (train.missing) return;
    expect(train.cases.map((item) => [item.id, item.target.rootCause, item.window.times.length])).toEqual([
      ['tiny/train/issue_0', 'search svc', 5],
    ]);
    expect(train.cases[0]!.baseline?.times).toHaveLength(40);
  });

  it('turns a case into one alert and observations with datapoints from the window and the baseline', () => {
    const scenario = readScenario(root, 'tiny');
    const train = readIssues(scenario, 'train');
    if (train.missing) throw new Error('train is there');
    const names = serviceNames(scenario.graph.nodes);
    const drafts = caseSignals(train.cases[0]!, names);
    expect(drafts.map((draft) => [draft.service, draft.severity, draft.metric?.datapoints?.length])).toEqual([
      ['web', 'critical', 45],
      ['search_svc', 'info', 45],
      ['db_main', 'info', 44],
    ]);
    for (const draft of drafts) {
      const { fingerprint: _fingerprint, acknowledged: _acknowledged, raw: _raw, ...input } = draft;
      expect(signalInputSchema.safeParse(input).success).toBe(true);
      expect(draft.startsAt).toBe((T0 + 550) * 1000);
      expect(draft.labels).toMatchObject({ dataset: 'petshop', metric: 'latency', statistic: 'Average' });
      expect(draft.environment).toBe('petshop/tiny/train/issue_0');
    }
    expect(new Set(drafts.map((draft) => draft.fingerprint)).size).toBe(3);
    // Only the requested metrics: availability adds a second series per node.
    expect(caseSignals(train.cases[0]!, names, { metrics: ['latency', 'availability'] })).toHaveLength(6);
  });

  it('builds no-issue cases the way the dataset does: splits from n/2 in steps of n/10', () => {
    const scenario = readScenario(root, 'tiny');
    const cases = noIssueCases(scenario, [
      { node: 'web', metric: 'latency', statistic: 'Average' },
      { node: 'web', metric: 'latency', statistic: 'Average' },
    ]);
    // n = 40: splits 20, 24, 28, 32, 36 (< 37); the duplicate target adds nothing.
    expect(cases.map((item) => item.id)).toEqual(
      [20, 24, 28, 32, 36].map((split) => `tiny/noissue@${split}/latency`),
    );
    const first = cases[0]!;
    expect(first.kind).toBe('noissue');
    expect(first.target.rootCause).toBeNull();
    expect(first.baseline?.times).toHaveLength(20);
    expect(first.window.times).toHaveLength(5);
    expect(first.target.at).toBe(first.window.times[2]);
    expect(cases.at(-1)!.window.times).toHaveLength(4);
  });
});
