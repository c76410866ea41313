import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { NormalizedRuleInput } from '../../src/domain/rule.js';
import { ruleInputSchema } from '../../src/domain/rule.js';
import { type NormalizedServiceInput, serviceInputSchema } from '../../src/domain/service.js';
import { type SignalDraft, signalInputSchema } from '../../src/domain/signal.js';

/**
 * Reads the PetShop root-cause dataset (Hardt et al., 2023) in its original layout and turns it into
 * OPX's own model: every node of `graph.csv` becomes a service whose `dependsOn` lists the nodes it
 * calls, and each case's metrics become signals whose `metric.datapoints` hold the values around the
 * issue plus the normal-operation reference. The node whose SLO is violated gets the alert; every
 * other series is an observation (severity info).
 *
 *   <scenario>/graph.csv                              adjacency matrix, row calls column
 *   <scenario>/noissue/metrics.csv                    normal operation (optional)
 *   <scenario>/<split>/issue_N/{metrics.csv,target.json}
 *
 * metrics.csv has three header rows (node, metric, statistic), then one row per timestamp (epoch
 * seconds; a value stands for the 5-minute period starting then).
 */

export interface Graph {
  nodes: string[];
  /** Node → the nodes it calls. */
  calls: Map<string, string[]>;
}

export interface MetricColumn {
  node: string;
  metric: string;
  statistic: string;
}

export interface MetricTable {
  columns: MetricColumn[];
  /** Epoch milliseconds, one per row. */
  times: number[];
  /** values[row][column]; null where the dataset has no value. */
  values: (number | null)[][];
}

export interface Target {
  node: string;
  metric: string;
  statistic: string;
  /** Epoch milliseconds of the SLO violation. */
  at: number;
  /** Ground truth, or null on no-issue data. */
  rootCause: string | null;
  /** How the issue was injected (metadata.reproducibility.command), when given. */
  command: string | null;
}

export interface PetshopCase {
  /** `<scenario>/<split>/issue_N` or `<scenario>/noissue@<row>/<metric>`. */
  id: string;
  scenario: string;
  kind: 'issue' | 'noissue';
  split: string | null;
  target: Target;
  /** The rows around the issue. */
  window: MetricTable;
  /** Normal-operation rows the window is compared with, or null when the scenario has none. */
  baseline: MetricTable | null;
}

export class PetshopFormatError extends Error {}

/** A minimal RFC 4180 reader: commas, quoted fields with doubled quotes, CRLF or LF. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let index = 0; index < text.length; index += 1) {
    const char = text[index]!;
    if (quoted) {
      if (char === '"' && text[index + 1] === '"') {
        field += '"';
        index += 1;
      } else if (char === '"') quoted = false;
      else field += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') {
      row.push(field);
      field = '';
    } else if (char === '\n' || char === '\r') {
      if (char === '\r' && text[index + 1] === '\n') index += 1;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += char;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((cells) => cells.some((cell) => cell.trim() !== ''));
}

function number(cell: string | undefined): number | null {
  if (cell === undefined || cell.trim() === '') return null;
  const value = Number(cell);
  return Number.isFinite(value) ? value : null;
}

/** graph.csv: the header row names the columns; each row names its node and marks the nodes it calls. */
export function parseGraph(text: string): Graph {
  const [header, ...rows] = parseCsv(text);
  if (!header || header.length < 2) throw new PetshopFormatError('graph.csv has no header row');
  const columns = header.slice(1);
  const nodes: string[] = [];
  const calls = new Map<string, string[]>();
  const add = (node: string) => {
    if (!calls.has(node)) {
      calls.set(node, []);
      nodes.push(node);
    }
  };
  for (const column of columns) add(column);
  for (const row of rows) {
    const node = row[0]!;
    add(node);
    columns.forEach((column, index) => {
      const weight = number(row[index + 1]);
      if (weight !== null && weight !== 0 && column !== node) calls.get(node)!.push(column);
    });
  }
  return { nodes, calls };
}

/** metrics.csv: header rows `microservice`, `metric`, `statistic`, then timestamped rows. */
export function parseMetrics(text: string): MetricTable {
  const rows = parseCsv(text);
  const header = (label: string) => rows.find((row) => row[0]?.trim().toLowerCase() === label);
  const nodes = header('microservice');
  const metrics = header('metric');
  const statistics = header('statistic');
  if (!nodes || !metrics || !statistics)
    throw new PetshopFormatError('metrics.csv needs the header rows microservice, metric and statistic');
  const columns = nodes.slice(1).map((node, index) => ({
    node,
    metric: metrics[index + 1] ?? '',
    statistic: statistics[index + 1] ?? '',
  }));
  const times: number[] = [];
  const values: (number | null)[][] = [];
  for (const row of rows) {
    const time = number(row[0]);
    if (time === null) continue;
    times.push(Math.round(time * 1000));
    values.push(columns.map((_, index) => number(row[index + 1])));
  }
  return { columns, times, values };
}

export function parseTarget(text: string): Target {
  const json = JSON.parse(text) as {
    target?: { node?: string; metric?: string; agg?: string; timestamp?: number };
    root_cause?: { node?: string | null };
    metadata?: { reproducibility?: { command?: string } };
  };
  const target = json.target;
  if (!target?.node || !target.metric || typeof target.timestamp !== 'number')
    throw new PetshopFormatError('target.json needs target.node, target.metric and target.timestamp');
  return {
    node: target.node,
    metric: target.metric,
    statistic: target.agg ?? 'Average',
    at: Math.round(target.timestamp * 1000),
    rootCause: json.root_cause?.node ?? null,
    command: json.metadata?.reproducibility?.command ?? null,
  };
}

export function sliceRows(table: MetricTable, from: number, to: number): MetricTable {
  return { columns: table.columns, times: table.times.slice(from, to), values: table.values.slice(from, to) };
}

/**
 * OPX service names allow letters, digits, ".", "_", ":" and "-"; PetShop nodes also use spaces, "/",
 * "@" and URLs. Every other character becomes "_", a leading one gets an "n" in front, and a name
 * that would collide gets "-2", "-3", …. Node → service name; the mapping is one-to-one.
 */
export function serviceNames(nodes: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  const used = new Set<string>();
  for (const node of nodes) {
    if (out.has(node)) continue;
    let base = node.replace(/[^A-Za-z0-9._:-]/g, '_').slice(0, 190);
    if (!/^[A-Za-z0-9]/.test(base)) base = `n${base}`;
    let name = base;
    for (let suffix = 2; used.has(name); suffix += 1) name = `${base}-${suffix}`;
    used.add(name);
    out.set(node, name);
  }
  return out;
}

/** The catalog entries: one service per node, depending on the nodes it calls; the node name as description. */
export function toServices(graph: Graph, names: Map<string, string>): NormalizedServiceInput[] {
  return graph.nodes.map((node) =>
    serviceInputSchema.parse({
      name: names.get(node)!,
      kind: 'component',
      type: 'petshop-node',
      description: node,
      dependsOn: (graph.calls.get(node) ?? []).map((callee) => names.get(callee)!),
    }),
  );
}

/**
 * The correlation rule that groups one case's signals into one incident: every signal labelled
 * `dataset=petshop`, grouped by environment (one environment per case).
 */
export const PETSHOP_RULE: NormalizedRuleInput = ruleInputSchema.parse({
  name: 'petshop-case',
  description: 'PetShop benchmark: all signals of one case (one environment) form one incident.',
  matchers: [{ field: 'dataset', op: '=', value: 'petshop' }],
  groupBy: ['environment'],
  windowSeconds: 24 * 3600,
  threshold: { kind: 'count', value: 1 },
  severity: 'SEV2',
  titleTemplate: '{{title}}',
});

const MAX_DATAPOINTS = 1000;
const UNITS: Record<string, string> = { latency: 's', availability: '%', requests: 'count' };

export interface CaseSignalOptions {
  /** Metrics to import for every node (default: the target's metric). */
  metrics?: readonly string[];
  /** Statistic to import (default: the target's). */
  statistic?: string;
}

/**
 * One signal per (node, metric) series with a value in the case's window: the target's own series is
 * a critical alert, the others observations. Datapoints: the window's values and the baseline's
 * (at most 1,000; baseline points nearest the window first). All start at the target's time.
 */
export function caseSignals(
  item: PetshopCase,
  names: Map<string, string>,
  options: CaseSignalOptions = {},
): SignalDraft[] {
  const metrics = new Set(options.metrics ?? [item.target.metric]);
  const statistic = options.statistic ?? item.target.statistic;
  const environment = `petshop/${item.id}`.slice(0, 100);
  const startsAt = item.target.at;
  const drafts: SignalDraft[] = [];
  item.window.columns.forEach((column, index) => {
    if (!metrics.has(column.metric) || column.statistic !== statistic) return;
    const service = names.get(column.node);
    if (!service) return;
    const points = (table: MetricTable) =>
      table.times.flatMap((at, row) => {
        const value = table.values[row]![index];
        return value === null || value === undefined ? [] : [{ at, value }];
      });
    const window = points(item.window);
    if (window.length === 0) return;
    const baselineIndex = item.baseline?.columns.findIndex(
      (other) =>
        other.node === column.node && other.metric === column.metric && other.statistic === column.statistic,
    );
    const baseline =
      item.baseline && baselineIndex !== undefined && baselineIndex >= 0
        ? item.baseline.times.flatMap((at, row) => {
            const value = item.baseline!.values[row]![baselineIndex];
            return value === null || value === undefined ? [] : [{ at, value }];
          })
        : [];
    const kept = baseline
      .sort((a, b) => Math.abs(a.at - startsAt) - Math.abs(b.at - startsAt) || a.at - b.at)
      .slice(0, Math.max(0, MAX_DATAPOINTS - window.length));
    const datapoints = [...kept, ...window].sort((a, b) => a.at - b.at);
    const alert = column.node === item.target.node && column.metric === item.target.metric;
    const parsed = signalInputSchema.parse({
      source: 'generic',
      severity: alert ? 'critical' : 'info',
      service,
      environment,
      title: alert
        ? `${column.node}: ${column.metric} (${statistic}) SLO violation`
        : `${column.node}: ${column.metric} (${statistic})`,
      labels: {
        alertname: alert ? 'SLOViolation' : `${column.metric}_${statistic}`,
        dataset: 'petshop',
        metric: column.metric,
        statistic,
      },
      annotations: { node: column.node, case: item.id },
      metric: {
        name: column.metric,
        statistic,
        ...(UNITS[column.metric] ? { unit: UNITS[column.metric] } : {}),
        datapoints,
      },
      startsAt,
    });
    const { fingerprint: _none, startsAt: _at, endsAt: _end, ...fields } = parsed;
    drafts.push({
      ...fields,
      fingerprint: `petshop:${item.id}:${column.node}:${column.metric}:${statistic}`.slice(0, 256),
      startsAt,
    });
  });
  // The alert first: the incident takes its title from the first signal.
  return drafts.sort((a, b) => Number(b.severity === 'critical') - Number(a.severity === 'critical'));
}

export interface Scenario {
  name: string;
  dir: string;
  graph: Graph;
  noissue: MetricTable | null;
}

/** Scenario directories under the dataset root: those holding a graph.csv, by name. */
export function listScenarios(datasetDir: string): string[] {
  if (!existsSync(datasetDir) || !statSync(datasetDir).isDirectory())
    throw new PetshopFormatError(`dataset directory ${datasetDir} does not exist`);
  return readdirSync(datasetDir)
    .filter((name) => existsSync(path.join(datasetDir, name, 'graph.csv')))
    .sort();
}

export function readScenario(datasetDir: string, name: string): Scenario {
  const dir = path.join(datasetDir, name);
  const noissuePath = path.join(dir, 'noissue', 'metrics.csv');
  return {
    name,
    dir,
    graph: parseGraph(readFileSync(path.join(dir, 'graph.csv'), 'utf8')),
    noissue: existsSync(noissuePath) ? parseMetrics(readFileSync(noissuePath, 'utf8')) : null,
  };
}

/**
 * The issues of one split, by number; `missing` when the split's directory is not there (a dataset
 * copy may hold only some splits).
 */
export function readIssues(
  scenario: Scenario,
  split: string,
): { missing: true } | { missing: false; cases: PetshopCase[] } {
  const dir = path.join(scenario.dir, split);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return { missing: true };
  const issues = readdirSync(dir)
    .filter((name) => !name.startsWith('.') && existsSync(path.join(dir, name, 'target.json')))
    .sort((a, b) => issueNumber(a) - issueNumber(b) || a.localeCompare(b));
  return {
    missing: false,
    cases: issues.map((issue) => {
      const target = parseTarget(readFileSync(path.join(dir, issue, 'target.json'), 'utf8'));
      return {
        id: `${scenario.name}/${split}/${issue}`,
        scenario: scenario.name,
        kind: 'issue' as const,
        split,
        target,
        window: parseMetrics(readFileSync(path.join(dir, issue, 'metrics.csv'), 'utf8')),
        baseline: scenario.noissue,
      };
    }),
  };
}

function issueNumber(name: string): number {
  const match = /(\d+)$/.exec(name);
  return match ? Number(match[1]) : Number.POSITIVE_INFINITY;
}

/** Rows of an issue window: the dataset's issue files hold five; the alert sits at the third. */
export const WINDOW_ROWS = 5;
const TRIGGER_ROW = 2;

/**
 * No-issue cases, the way the dataset's own evaluation builds them: for each target (node, metric,
 * statistic) seen in the scenario's issues, split the normal-operation rows at n/2, n/2 + n/10, … (while
 * fewer than n − 3); the rows before the split are the baseline, the rows after it the data to judge.
 * The case holds the first five rows after the split (an issue file's shape) and the alert fires at
 * the third, the row the dataset's code analyses. The right answer is "no root cause".
 */
export function noIssueCases(
  scenario: Scenario,
  targets: readonly Pick<Target, 'node' | 'metric' | 'statistic'>[],
): PetshopCase[] {
  const normal = scenario.noissue;
  if (!normal) return [];
  const rows = normal.times.length;
  const step = Math.floor(rows * 0.1);
  if (step < 1) return [];
  const seen = new Set<string>();
  const out: PetshopCase[] = [];
  for (const target of targets) {
    const key = `${target.node}|${target.metric}|${target.statistic}`;
    if (seen.has(key)) continue;
    seen.add(key);
    for (let split = Math.floor(rows / 2); split < rows - 3; split += step) {
      const window = sliceRows(normal, split, split + WINDOW_ROWS);
      const trigger = window.times[Math.min(TRIGGER_ROW, window.times.length - 1)]!;
      out.push({
        id: `${scenario.name}/noissue@${split}/${target.metric}`,
        scenario: scenario.name,
        kind: 'noissue',
        split: null,
        target: { ...target, at: trigger, rootCause: null, command: null },
        window,
        baseline: sliceRows(normal, 0, split),
      });
    }
  }
  return out;
}
