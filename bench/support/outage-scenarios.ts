/**
 * Outage scenarios for `npm run bench -- outages`: one YAML (or JSON) file per scenario in
 * bench/data/outages/, each following a public post-incident report. bench/data/outages/README.md
 * documents the format; this module reads and checks it, and turns its relative times into one
 * ordered feed.
 *
 * Times in a file are offsets from the outage's onset: `"-23h30m"`, `"90s"`, `"2m"`, `"-91d"`, or a
 * number of seconds. The runner maps onset to a real time when it sends the scenario.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 } as const;

/** `-1h30m`, `45s`, `2m`, `0`, `-91d`, or a number of seconds, to milliseconds. */
export function parseDuration(value: string | number): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`not a duration: ${value}`);
    return Math.round(value * 1000);
  }
  const text = value.trim();
  const match = /^([+-])?((?:\d+(?:\.\d+)?[dhms])+|0)$/.exec(text);
  if (!match) throw new Error(`not a duration: ${JSON.stringify(value)} (use e.g. "90s", "-2m", "1h30m")`);
  let total = 0;
  for (const part of match[2]!.matchAll(/(\d+(?:\.\d+)?)([dhms])/g))
    total += Number(part[1]) * UNIT_MS[part[2] as keyof typeof UNIT_MS];
  return Math.round(match[1] === '-' ? -total : total);
}

const duration = z.union([z.number(), z.string()]).transform((value, context) => {
  try {
    return parseDuration(value);
  } catch (error) {
    context.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});

const name = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, 'use letters, digits, ".", "_", ":" or "-"');

const serviceSchema = z.strictObject({
  name,
  kind: z.enum(['component', 'resource']).default('component'),
  type: z.string().max(100).optional(),
  tier: z.number().int().min(1).max(4).optional(),
  customerFacing: z.boolean().optional(),
  owner: z.string().max(200).optional(),
  description: z.string().max(2000).optional(),
  dependsOn: z.array(name).max(50).default([]),
});

const changeSchema = z.strictObject({
  id: name,
  kind: z.enum(['deploy', 'config', 'feature_flag', 'infra', 'db_migration', 'rollback']),
  service: name,
  summary: z.string().min(1).max(2000),
  startedAt: duration,
  finishedAt: duration.optional(),
  /** When the change reaches OPX; defaults to 30 s after it starts (a pipeline posts it as it begins). */
  recordedAt: duration.optional(),
  versionFrom: z.string().max(200).optional(),
  versionTo: z.string().max(200).optional(),
  author: z.string().max(200).optional(),
  source: z.string().max(64).default('ci'),
});

const cloudwatchSchema = z.strictObject({
  alarmName: z.string().min(1).max(255).optional(),
  namespace: z.string().min(1).max(255),
  metric: z.string().min(1).max(255),
  statistic: z.string().default('Average'),
  threshold: z.number(),
  value: z.number(),
  comparison: z.string().default('GreaterThanThreshold'),
  period: z.number().int().min(10).default(60),
  evaluationPeriods: z.number().int().min(1).default(3),
  unit: z.string().optional(),
  dimensions: z.record(z.string(), z.string()).default({}),
  region: z.string().default('us-east-1'),
  account: z.string().default('123456789012'),
});

export const VIAS = ['alertmanager', 'prometheus', 'generic', 'cloudwatch'] as const;
export type Via = (typeof VIAS)[number];

const signalSchema = z.strictObject({
  /** Unique in the scenario; defaults to `<service>/<alertname>`. */
  id: z.string().min(1).max(200).optional(),
  service: name,
  alertname: z.string().min(1).max(200),
  severity: z.enum(['critical', 'error', 'warning', 'info']),
  summary: z.string().min(1).max(500),
  description: z.string().max(2000).optional(),
  /** When the condition began (Prometheus' activeAt; CloudWatch's first breaching datapoint). */
  startsAt: duration,
  /** The rule's `for:` (or the alarm's evaluation window): how long the condition holds before it fires. */
  // zod applies a default to the parsed output, after the transform: so in milliseconds.
  for: duration.default(60_000),
  /** Sender's delay after firing: evaluation interval, Alertmanager's group_wait, SNS delivery. */
  delay: duration.default(30_000),
  /** When it arrives at OPX; defaults to startsAt + for + delay. */
  arrives: duration.optional(),
  /** When the condition ended, for alerts that resolve within the scenario. */
  resolvedAt: duration.optional(),
  /** How it reaches OPX: Alertmanager webhook v4 (default), Prometheus /api/v2/alerts, OPX generic, CloudWatch via SNS. */
  via: z.enum(VIAS).default('alertmanager'),
  /** The outage (truth.outages[].id) this alert belongs to, or `noise`; defaults to the only outage. */
  outage: z.string().min(1).max(100).optional(),
  labels: z.record(z.string(), z.string()).default({}),
  /** For `via: generic`: a metric reading attached to the signal. */
  metric: z
    .strictObject({
      name: z.string().min(1),
      value: z.number(),
      threshold: z.number().optional(),
      unit: z.string().optional(),
    })
    .optional(),
  /** For `via: cloudwatch`: the alarm's metric. */
  cloudwatch: cloudwatchSchema.optional(),
});

const outageSchema = z.strictObject({
  id: z.string().min(1).max(100),
  origin: name,
  /** The change that caused it (changes[].id), or null when no recorded change did. */
  culpritChange: z.string().min(1).nullable(),
  note: z.string().max(2000).optional(),
});

export const NEGATIVE_KINDS = ['two-outages', 'hub-blip', 'noise-only'] as const;
export type NegativeKind = (typeof NEGATIVE_KINDS)[number];

const scenarioSchema = z.strictObject({
  id: z
    .string()
    .min(1)
    .max(80)
    .regex(/^[a-z0-9][a-z0-9-]*$/, 'lower-case letters, digits and "-"'),
  title: z.string().min(1).max(300),
  kind: z.enum(['outage', 'negative']),
  negative: z.enum(NEGATIVE_KINDS).optional(),
  /** The public report the scenario follows (negatives: the reports their parts follow, or none). */
  report: z.union([z.string().url(), z.array(z.string().url())]).optional(),
  /** The onset in the report, for reading; the bench re-bases every time. */
  onset: z.string().optional(),
  environment: z.string().min(1).max(100).default('production'),
  summary: z.string().min(1),
  simplified: z.string().min(1),
  services: z.array(serviceSchema).min(5).max(12),
  changes: z.array(changeSchema).default([]),
  signals: z.array(signalSchema).default([]),
  truth: z.strictObject({
    /** Incidents a responder should get in the end: 1 for one outage, 2 for two, 0 for noise. */
    expectedIncidents: z.number().int().min(0).max(10),
    outages: z.array(outageSchema).max(5),
  }),
});

export type ScenarioFile = z.output<typeof scenarioSchema>;
export type ScenarioService = ScenarioFile['services'][number];
export type ScenarioChange = ScenarioFile['changes'][number];
export type ScenarioOutage = ScenarioFile['truth']['outages'][number];

export const NOISE = 'noise';

export interface ScenarioSignal extends Omit<ScenarioFile['signals'][number], 'id' | 'outage' | 'arrives'> {
  id: string;
  /** An outage id, or `noise`. */
  outage: string;
  arrives: number;
}

export interface Scenario extends Omit<ScenarioFile, 'signals'> {
  file: string;
  signals: ScenarioSignal[];
}

/** One thing to send, at its arrival time. */
export type FeedEvent =
  | { at: number; order: number; type: 'change'; change: ScenarioChange }
  | { at: number; order: number; type: 'signal'; signal: ScenarioSignal; status: 'firing' | 'resolved' };

function check(condition: boolean, file: string, message: string): void {
  if (!condition) throw new Error(`${file}: ${message}`);
}

/** Cross-field checks the schema cannot express. */
function validate(scenario: Scenario): void {
  const { file } = scenario;
  const services = new Set(scenario.services.map((service) => service.name));
  check(services.size === scenario.services.length, file, 'service names must be unique');
  for (const service of scenario.services) {
    for (const dependency of service.dependsOn)
      check(services.has(dependency), file, `${service.name} depends on unknown service ${dependency}`);
    check(!service.dependsOn.includes(service.name), file, `${service.name} depends on itself`);
  }
  const changes = new Set<string>();
  for (const change of scenario.changes) {
    check(!changes.has(change.id), file, `change id ${change.id} appears twice`);
    changes.add(change.id);
    check(services.has(change.service), file, `change ${change.id} is on unknown service ${change.service}`);
  }
  const outages = new Set(scenario.truth.outages.map((outage) => outage.id));
  check(outages.size === scenario.truth.outages.length, file, 'outage ids must be unique');
  check(!outages.has(NOISE), file, `"${NOISE}" is reserved for noise signals`);
  for (const outage of scenario.truth.outages) {
    check(services.has(outage.origin), file, `outage ${outage.id} has unknown origin ${outage.origin}`);
    check(
      outage.culpritChange === null || changes.has(outage.culpritChange),
      file,
      `outage ${outage.id} names unknown culprit change ${outage.culpritChange}`,
    );
  }
  const ids = new Set<string>();
  for (const signal of scenario.signals) {
    check(!ids.has(signal.id), file, `signal id ${signal.id} appears twice (give one an explicit id)`);
    ids.add(signal.id);
    check(services.has(signal.service), file, `signal ${signal.id} is on unknown service ${signal.service}`);
    check(
      signal.outage === NOISE || outages.has(signal.outage),
      file,
      `signal ${signal.id} names unknown outage ${signal.outage}`,
    );
    check(signal.arrives >= signal.startsAt, file, `signal ${signal.id} arrives before it starts`);
    check(
      signal.resolvedAt === undefined || signal.resolvedAt > signal.startsAt,
      file,
      `signal ${signal.id} resolves before it starts`,
    );
    check(
      signal.via !== 'cloudwatch' || signal.cloudwatch !== undefined,
      file,
      `signal ${signal.id} is sent via cloudwatch but has no cloudwatch block`,
    );
  }
  const count = scenario.truth.outages.length;
  if (scenario.kind === 'outage') {
    check(scenario.negative === undefined, file, 'an outage scenario has no `negative`');
    check(count === 1, file, 'an outage scenario has exactly one outage in truth.outages');
    check(scenario.truth.expectedIncidents === 1, file, 'an outage scenario expects one incident');
    check(scenario.report !== undefined, file, 'an outage scenario names the report it follows');
  } else {
    check(scenario.negative !== undefined, file, 'a negative scenario says which kind (`negative`)');
    if (scenario.negative === 'two-outages') check(count === 2, file, 'two-outages has two outages');
    if (scenario.negative === 'hub-blip') {
      check(count === 1, file, 'hub-blip has one outage');
      check(
        scenario.signals.some((signal) => signal.outage === NOISE),
        file,
        'hub-blip needs the blip as noise signals',
      );
    }
    if (scenario.negative === 'noise-only') {
      check(count === 0, file, 'noise-only has no outage');
      check(scenario.truth.expectedIncidents === 0, file, 'noise-only expects no incident');
    }
  }
}

function parseScenario(file: string, text: string): Scenario {
  const raw: unknown = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  const parsed = scenarioSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${file}: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
  }
  const data = parsed.data;
  const onlyOutage = data.truth.outages.length === 1 ? data.truth.outages[0]!.id : undefined;
  const seen = new Map<string, number>();
  const signals = data.signals.map((signal): ScenarioSignal => {
    const base = signal.id ?? `${signal.service}/${signal.alertname}`;
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    const outage = signal.outage ?? onlyOutage;
    if (outage === undefined)
      throw new Error(`${file}: signal ${base} must name its outage (this scenario has several, or none)`);
    return {
      ...signal,
      id: signal.id ?? (n === 1 ? base : `${base}#${n}`),
      outage,
      arrives: signal.arrives ?? signal.startsAt + signal.for + signal.delay,
    };
  });
  const scenario: Scenario = { ...data, file, signals };
  validate(scenario);
  return scenario;
}

/** Every scenario file in `directory` (*.yaml, *.yml, *.json; README and dot-files skipped), by file name. */
export function loadScenarios(directory: string): Scenario[] {
  const files = readdirSync(directory)
    .filter((entry) => /\.(ya?ml|json)$/.test(entry) && !entry.startsWith('.'))
    .sort();
  const scenarios = files.map((entry) =>
    parseScenario(path.join(directory, entry), readFileSync(path.join(directory, entry), 'utf8')),
  );
  const ids = new Set<string>();
  for (const scenario of scenarios) {
    if (ids.has(scenario.id)) throw new Error(`${scenario.file}: scenario id ${scenario.id} is used twice`);
    ids.add(scenario.id);
  }
  return scenarios;
}

/** When a resolved alert reaches OPX: the rule's next evaluation plus the sender's delay. */
export function resolveArrival(signal: ScenarioSignal): number | undefined {
  return signal.resolvedAt === undefined ? undefined : signal.resolvedAt + signal.delay;
}

/** When a change reaches OPX. */
export function changeArrival(change: ScenarioChange): number {
  return change.recordedAt ?? change.startedAt + 30_000;
}

/** Changes and alert deliveries (firing, then resolved where it resolves) in arrival order; ties keep file order. */
export function feedOf(scenario: Scenario): FeedEvent[] {
  const events: FeedEvent[] = [];
  let order = 0;
  for (const change of scenario.changes)
    events.push({ at: changeArrival(change), order: order++, type: 'change', change });
  for (const signal of scenario.signals) {
    events.push({ at: signal.arrives, order: order++, type: 'signal', signal, status: 'firing' });
    const resolved = resolveArrival(signal);
    if (resolved !== undefined)
      events.push({
        at: Math.max(resolved, signal.arrives + 1),
        order: order++,
        type: 'signal',
        signal,
        status: 'resolved',
      });
  }
  return events.sort((a, b) => a.at - b.at || a.order - b.order);
}

/** The earliest and latest offsets a scenario mentions, for choosing its base time. */
export function timeSpan(scenario: Scenario): { first: number; last: number } {
  const times = [
    ...scenario.changes.flatMap((change) => [
      change.startedAt,
      change.finishedAt ?? change.startedAt,
      changeArrival(change),
    ]),
    ...scenario.signals.flatMap((signal) => [
      signal.startsAt,
      signal.arrives,
      signal.resolvedAt ?? signal.startsAt,
      resolveArrival(signal) ?? signal.arrives,
    ]),
    0,
  ];
  return { first: Math.min(...times), last: Math.max(...times) };
}

/**
 * Services whose signals belong to one outage only: such a signal is evidence of that outage. A
 * service that alerts for two outages (a shared caller) is evidence of neither.
 */
export function distinctiveServices(scenario: Scenario): Map<string, string> {
  const owners = new Map<string, Set<string>>();
  for (const signal of scenario.signals) {
    const set = owners.get(signal.service) ?? new Set<string>();
    set.add(signal.outage);
    owners.set(signal.service, set);
  }
  const out = new Map<string, string>();
  for (const [service, set] of owners) if (set.size === 1) out.set(service, [...set][0]!);
  return out;
}
