/**
 * Seeded synthetic incidents over a service topology, for the root-cause quality benchmark.
 *
 * A fault case has one faulty service (the origin). Its own alert fires first; the services that call
 * it, directly or through others, alert minutes later (a few minutes per hop, with jitter), each with
 * some probability that falls with distance. Most faults follow a change on the origin (a deploy, a
 * config change, a flag, a migration or infrastructure work) a few minutes to a couple of hours
 * earlier; the rest have no recorded cause (capacity, a provider, an unrecorded failure). A few origins
 * alert late (a slow `for:` clause), after their first caller.
 *
 * Around every case there is noise: flapping warnings (often still flapping when the investigation
 * runs), one-off low-severity alerts and short error or critical blips on unrelated services, and
 * unrelated changes on other services, some of them minutes before the onset. A quiet case has only
 * noise, one source of it loud enough to open an incident (a fast-flapping warning storm or a critical
 * blip), and no change on a noisy service; the right answer is "insufficient evidence".
 *
 * Everything is a pure function of (seed, case index, topology): case i is the same whether 10 or 1,000
 * cases are generated. Alerts are rendered as the native bodies OPX's adapters accept (Prometheus
 * `POST /api/v2/alerts` arrays, or OPX generic signals with a metric for resource alarms).
 */
import { seededRandom } from './alerts.js';

/** What the generator needs of a service; the catalog's normalized services fit it. */
export interface TopologyNode {
  name: string;
  kind: 'component' | 'resource';
  type?: string | undefined;
  tier: number;
  customerFacing: boolean;
  dependsOn: string[];
}

export type ChangeKindName = 'deploy' | 'config' | 'feature_flag' | 'infra' | 'db_migration' | 'rollback';
export type FaultCause = Exclude<ChangeKindName, 'rollback'> | 'none';
export type ServiceClass = 'service' | 'database' | 'cache' | 'queue' | 'search';
export type AlertRole = 'origin' | 'cascade' | 'noise';
export type Severity = 'critical' | 'error' | 'warning' | 'info';
/** Noise shapes: a fast flapping warning storm, a slower flapping warning, a lasting low-severity alert, a short error/critical blip. */
export type NoiseKind = 'storm' | 'flap' | 'steady' | 'blip';

export interface SyntheticChange {
  /** Stable within a case: `cause`, `decoy-1`, `mitigation`. */
  ref: string;
  role: 'cause' | 'decoy' | 'mitigation';
  kind: ChangeKindName;
  service: string;
  summary: string;
  versionFrom?: string;
  versionTo?: string;
  author: string;
  startedAt: number;
  finishedAt: number;
  /** When the change reaches OPX (its pipeline posts it as the rollout starts). */
  recordedAt: number;
}

/** One firing period of one alert. A flapping alert is several episodes with the same labels. */
export interface AlertEpisode {
  ref: string;
  role: AlertRole;
  service: string;
  alertname: string;
  severity: Severity;
  title: string;
  startsAt: number;
  /** When it stopped firing; null while it still fires at investigation time. */
  endsAt: number | null;
  format: 'prometheus' | 'generic';
  metric?: { name: string; value: number; threshold: number; unit: string };
}

/** A request body as a source would post it, and when it arrives. */
export interface Delivery {
  at: number;
  format: 'prometheus' | 'generic';
  body: unknown;
  /** The episode it reports and whether it says firing or resolved. */
  episode: string;
  status: 'firing' | 'resolved';
}

export interface CaseShape {
  /** Class of the origin service (fault cases). */
  originClass: ServiceClass | null;
  /** Services whose alerts belong to the fault, origin included. */
  faultServices: number;
  /** The origin's alert fired after its first caller's. */
  lateOrigin: boolean;
  spread: 'contained' | 'normal' | 'wide' | null;
  noiseSources: number;
  /** Unrelated changes within 40 minutes before the onset. */
  decoysNearOnset: number;
  decoys: number;
  /** A change on the origin after the onset (a responder's mitigation). */
  mitigation: boolean;
  /** Minutes between the causal change and the origin's alert. */
  causeLeadMinutes: number | null;
  /** Quiet windows: the noise source loud enough to open an incident. */
  pagingNoise: { service: string; kind: NoiseKind } | null;
}

export interface SyntheticCase {
  index: number;
  id: string;
  kind: 'fault' | 'quiet';
  /** The fault's start (fault cases) or the middle of the window (quiet ones). */
  onset: number;
  /** Deliveries stop here: the investigation runs at this moment. */
  investigateAt: number;
  truth: {
    rootCause: string | null;
    cause: FaultCause | null;
    /** `ref` of the causal change, when a change caused the fault. */
    culprit: string | null;
    originAlert: string | null;
  };
  shape: CaseShape;
  episodes: AlertEpisode[];
  changes: SyntheticChange[];
  deliveries: Delivery[];
}

export interface GeneratorOptions {
  seed: number;
  /** Day the cases happen on (epoch ms, midnight UTC); every case lies within it. */
  day: number;
  /** Share of quiet (no-fault) cases, 0–1. */
  quietShare?: number;
}

const MINUTE = 60_000;
const ENVIRONMENT = 'prod';

/** Uniform, integer, weighted and normal draws over one seeded stream. */
export class Random {
  readonly #next: () => number;

  constructor(seed: number) {
    this.#next = seededRandom(seed);
  }

  next(): number {
    return this.#next();
  }

  uniform(min: number, max: number): number {
    return min + (max - min) * this.#next();
  }

  /** An integer from min to max, both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.#next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.#next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.#next() * items.length)]!;
  }

  weighted<T>(entries: readonly (readonly [T, number])[]): T {
    const total = entries.reduce((sum, [, weight]) => sum + weight, 0);
    let roll = this.#next() * total;
    for (const [value, weight] of entries) {
      roll -= weight;
      if (roll < 0) return value;
    }
    return entries[entries.length - 1]![0];
  }

  /** Box–Muller; one draw per call keeps the stream easy to reason about. */
  normal(mean: number, deviation: number): number {
    const u = Math.max(this.#next(), Number.EPSILON);
    const v = this.#next();
    return mean + deviation * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** `count` distinct items in random order (a partial Fisher–Yates on a copy). */
  sample<T>(items: readonly T[], count: number): T[] {
    const pool = [...items];
    const out: T[] = [];
    while (out.length < count && pool.length > 0) {
      const position = Math.floor(this.#next() * pool.length);
      out.push(pool[position]!);
      pool[position] = pool[pool.length - 1]!;
      pool.pop();
    }
    return out;
  }
}

/** Independent streams per case, so case i does not depend on how many cases come before it. */
export function caseSeed(seed: number, index: number): number {
  let mixed = (Math.imul(seed ^ 0x5bd1e995, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0;
  mixed = Math.imul(mixed ^ (mixed >>> 15), 0xc2b2ae35);
  return (mixed ^ (mixed >>> 13)) >>> 0;
}

export function serviceClass(node: TopologyNode): ServiceClass {
  if (node.kind === 'component') return 'service';
  if (node.type === 'database') return 'database';
  if (node.type === 'cache') return 'cache';
  if (node.type === 'queue') return 'queue';
  return 'search';
}

/** Callers of each service: the reverse of `dependsOn`. Faults travel from a dependency to its callers. */
function callerMap(topology: readonly TopologyNode[]): Map<string, string[]> {
  const callers = new Map<string, string[]>();
  for (const node of topology) {
    for (const target of node.dependsOn) callers.set(target, [...(callers.get(target) ?? []), node.name]);
  }
  for (const list of callers.values()) list.sort();
  return callers;
}

const round1 = (value: number) => Math.round(value * 10) / 10;
const percent = (random: Random, min: number, max: number) => round1(random.uniform(min, max));

// ---------------------------------------------------------------------------------------------------
// Alerts

interface AlertSpec {
  alertname: string;
  title: string;
  format: 'prometheus' | 'generic';
  metric?: AlertEpisode['metric'];
}

/** Alert text with the numbers a real rule would print; different each time, like real alerts. */
function alertSpec(
  random: Random,
  alertname: string,
  service: string,
  context: { upstream?: string },
): AlertSpec {
  const prometheus = (title: string): AlertSpec => ({ alertname, title, format: 'prometheus' });
  const generic = (title: string, metric: NonNullable<AlertSpec['metric']>): AlertSpec =>
    // Resource alarms come from a metrics exporter with the value and threshold attached.
    random.chance(0.5) ? { alertname, title, format: 'generic', metric } : prometheus(title);
  switch (alertname) {
    case 'HighErrorRate': {
      const value = percent(random, 6, 40);
      return prometheus(`5xx ratio ${value}% on ${service} (threshold 5%)`);
    }
    case 'HighLatencyP99': {
      const value = round1(random.uniform(1.2, 9));
      return prometheus(`p99 latency ${value}s on ${service} (SLO 800ms)`);
    }
    case 'PodCrashLooping':
      return prometheus(`${service} pods in CrashLoopBackOff: ${random.int(4, 30)} restarts in 10m`);
    case 'Upstream5xx':
      return prometheus(
        `${service} receiving 5xx from ${context.upstream ?? 'an upstream'} (${percent(random, 3, 60)}% of calls)`,
      );
    case 'SLOBurnRateFast':
      return prometheus(
        `${service} availability SLO burning ${round1(random.uniform(6, 30))}x budget (1h window)`,
      );
    case 'DBConnectionsExhausted': {
      const value = percent(random, 92, 100);
      return generic(`${service} connections at ${value}% of max_connections`, {
        name: 'connections_used_ratio',
        value,
        threshold: 90,
        unit: 'percent',
      });
    }
    case 'ReplicationLag': {
      const value = random.int(45, 900);
      return generic(`${service} replica lag ${value}s (threshold 30s)`, {
        name: 'replica_lag_seconds',
        value,
        threshold: 30,
        unit: 'seconds',
      });
    }
    case 'DiskFull': {
      const value = percent(random, 86, 99);
      return generic(`${service} disk ${value}% full on ${service}-${random.int(0, 5)}`, {
        name: 'disk_used_ratio',
        value,
        threshold: 85,
        unit: 'percent',
      });
    }
    case 'CacheMemoryHigh': {
      const value = percent(random, 88, 99);
      return generic(`${service} memory at ${value}% of maxmemory, ${random.int(200, 9000)} evictions/s`, {
        name: 'memory_used_ratio',
        value,
        threshold: 85,
        unit: 'percent',
      });
    }
    case 'ConsumerLagHigh': {
      const value = random.int(20_000, 900_000);
      return generic(`consumer lag ${value} messages on ${service}`, {
        name: 'consumer_lag_messages',
        value,
        threshold: 10_000,
        unit: 'messages',
      });
    }
    case 'QueueBacklogHigh': {
      const value = random.int(5_000, 400_000);
      return generic(`${service} backlog ${value} messages`, {
        name: 'queue_backlog_messages',
        value,
        threshold: 5_000,
        unit: 'messages',
      });
    }
    case 'CertificateExpiringSoon':
      return prometheus(`${service} TLS certificate expires in ${random.int(5, 20)} days`);
    default:
      return prometheus(`${alertname} on ${service}`);
  }
}

/** The alert a faulty service raises first, by class, and whether its cause is a change. */
const ORIGIN_ALERTS: Record<ServiceClass, readonly (readonly [string, number])[]> = {
  service: [
    ['HighErrorRate', 5],
    ['HighLatencyP99', 2],
    ['PodCrashLooping', 2],
  ],
  database: [
    ['DBConnectionsExhausted', 3],
    ['ReplicationLag', 2],
    ['DiskFull', 1],
  ],
  cache: [['CacheMemoryHigh', 1]],
  queue: [
    ['ConsumerLagHigh', 2],
    ['QueueBacklogHigh', 2],
    ['DiskFull', 1],
  ],
  search: [
    ['HighLatencyP99', 2],
    ['DiskFull', 1],
  ],
};

const CAUSES: Record<ServiceClass, readonly (readonly [FaultCause, number])[]> = {
  service: [
    ['deploy', 50],
    ['config', 14],
    ['feature_flag', 10],
    ['none', 22],
  ],
  database: [
    ['config', 20],
    ['infra', 20],
    ['db_migration', 20],
    ['none', 40],
  ],
  cache: [
    ['config', 30],
    ['infra', 30],
    ['none', 40],
  ],
  queue: [
    ['config', 25],
    ['infra', 35],
    ['none', 40],
  ],
  search: [
    ['config', 25],
    ['infra', 35],
    ['none', 40],
  ],
};

/** Noise alert names by class: the low-grade chatter every fleet has. */
const NOISE_ALERTS: Record<ServiceClass, readonly string[]> = {
  service: ['HighLatencyP99', 'HighErrorRate', 'PodCrashLooping', 'CertificateExpiringSoon'],
  database: ['ReplicationLag', 'DiskFull', 'DBConnectionsExhausted'],
  cache: ['CacheMemoryHigh'],
  queue: ['ConsumerLagHigh', 'QueueBacklogHigh', 'DiskFull'],
  search: ['HighLatencyP99', 'DiskFull'],
};

// ---------------------------------------------------------------------------------------------------
// Changes

const AUTHORS = ['ci-bot', 'alice', 'bob', 'chen', 'dana', 'emeka', 'farah', 'gus', 'hana', 'ivan', 'jo'];
const DEPLOY_NOTES = [
  'connection pool settings reworked',
  'retry policy for upstream calls',
  'dependency upgrades',
  'new request validation',
  'cache key layout changed',
  'batch size tuning',
  'structured logging',
  'pricing rules refactor',
  'HTTP client upgrade',
  'timeout handling',
  'new serializer',
  'rebuild on the patched base image',
  'query rewrite for the listing endpoint',
  'background job scheduling',
];
const CONFIG_KNOBS = [
  ['max connections', '200', '50'],
  ['request timeout', '2s', '500ms'],
  ['worker threads', '16', '4'],
  ['retry budget', '10%', '50%'],
  ['cache TTL', '10m', '30s'],
  ['rate limit', '5000/s', '800/s'],
  ['batch size', '500', '5000'],
  ['GC heap limit', '2GiB', '768MiB'],
] as const;
const FLAGS = ['new-pricing', 'async-writes', 'split-shipments', 'fast-path', 'v2-api', 'bulk-sync'];
const INFRA_WORK = [
  'node pool upgrade to a new instance class',
  'rolling restart for OS patching',
  'storage class migration',
  'network policy update',
  'autoscaler settings changed',
  'minor engine version upgrade',
];

function version(random: Random): [string, string] {
  const major = random.int(1, 12);
  const minor = random.int(0, 30);
  const patch = random.int(0, 9);
  const bumpMinor = random.chance(0.6);
  const to = bumpMinor ? `v${major}.${minor + 1}.0` : `v${major}.${minor}.${patch + 1}`;
  return [`v${major}.${minor}.${patch}`, to];
}

function changeOf(
  random: Random,
  kind: ChangeKindName,
  service: string,
  startedAt: number,
  fields: { ref: string; role: SyntheticChange['role'] },
): SyntheticChange {
  const author = random.pick(AUTHORS);
  const base = { ...fields, kind, service, author, startedAt };
  switch (kind) {
    case 'deploy': {
      const [from, to] = version(random);
      const minutes = random.uniform(2, 12);
      return {
        ...base,
        summary: `Deploy ${service} ${to}: ${random.pick(DEPLOY_NOTES)}`,
        versionFrom: from,
        versionTo: to,
        finishedAt: Math.round(startedAt + minutes * MINUTE),
        recordedAt: startedAt + random.int(5, 40) * 1000,
      };
    }
    case 'rollback': {
      const [from, to] = version(random);
      return {
        ...base,
        summary: `Roll back ${service} ${to} → ${from}`,
        versionFrom: to,
        versionTo: from,
        finishedAt: Math.round(startedAt + random.uniform(2, 6) * MINUTE),
        recordedAt: startedAt + random.int(5, 40) * 1000,
      };
    }
    case 'config': {
      const [knob, from, to] = random.pick(CONFIG_KNOBS);
      return {
        ...base,
        summary: `${service}: ${knob} ${from} → ${to}`,
        finishedAt: startedAt + random.int(10, 120) * 1000,
        recordedAt: startedAt + random.int(5, 30) * 1000,
      };
    }
    case 'feature_flag': {
      const flag = `${service.replace(/-service$/, '')}.${random.pick(FLAGS)}`;
      return {
        ...base,
        summary: `flag ${flag} ramped ${random.pick(['0%', '5%', '10%', '25%'])} → 100%`,
        finishedAt: startedAt,
        recordedAt: startedAt + random.int(1, 10) * 1000,
      };
    }
    case 'db_migration':
      return {
        ...base,
        summary: `${service}: migration ${String(random.int(100, 999)).padStart(4, '0')}_${random.pick(['add_index', 'widen_column', 'backfill', 'split_table'])}_${random.pick(['orders', 'items', 'accounts', 'events', 'prices'])}`,
        finishedAt: Math.round(startedAt + random.uniform(1, 20) * MINUTE),
        recordedAt: startedAt + random.int(5, 40) * 1000,
      };
    case 'infra':
      return {
        ...base,
        summary: `${service}: ${random.pick(INFRA_WORK)}`,
        finishedAt: Math.round(startedAt + random.uniform(5, 40) * MINUTE),
        recordedAt: startedAt + random.int(5, 60) * 1000,
      };
  }
}

/** Kinds of unrelated change a service of this class sees. */
function decoyKind(random: Random, klass: ServiceClass): ChangeKindName {
  if (klass === 'service')
    return random.weighted<ChangeKindName>([
      ['deploy', 60],
      ['config', 16],
      ['feature_flag', 14],
      ['rollback', 4],
      ['infra', 6],
    ]);
  return random.weighted<ChangeKindName>([
    ['config', 45],
    ['infra', 45],
    ['db_migration', klass === 'database' ? 15 : 0],
  ]);
}

// ---------------------------------------------------------------------------------------------------
// Rendering

function iso(at: number): string {
  return new Date(at).toISOString();
}

/** Delivery delay: rule evaluation interval plus the sender's batching, 15–60 s. */
function deliveryDelay(random: Random): number {
  return random.int(15, 60) * 1000;
}

function render(random: Random, episode: AlertEpisode, investigateAt: number): Delivery[] {
  const out: Delivery[] = [];
  const firingAt = episode.startsAt + deliveryDelay(random);
  if (firingAt >= investigateAt) return out;
  const resolvedAt = episode.endsAt === null ? null : episode.endsAt + deliveryDelay(random);
  const labels = {
    alertname: episode.alertname,
    service: episode.service,
    env: ENVIRONMENT,
    severity: episode.severity,
  };
  if (episode.format === 'prometheus') {
    const body = (at: number, resolved: boolean) => [
      {
        labels,
        annotations: { summary: episode.title },
        startsAt: iso(episode.startsAt),
        // Prometheus sends a firing alert with endsAt a few evaluation intervals ahead.
        endsAt: iso(resolved ? episode.endsAt! : at + 4 * MINUTE),
        generatorURL: `http://prometheus.prod:9090/graph?alert=${episode.alertname}`,
      },
    ];
    out.push({
      at: firingAt,
      format: 'prometheus',
      body: body(firingAt, false),
      episode: episode.ref,
      status: 'firing',
    });
    if (resolvedAt !== null && resolvedAt < investigateAt)
      out.push({
        at: resolvedAt,
        format: 'prometheus',
        body: body(resolvedAt, true),
        episode: episode.ref,
        status: 'resolved',
      });
    return out;
  }
  const body = (resolved: boolean) => ({
    source: 'generic',
    service: episode.service,
    environment: ENVIRONMENT,
    severity: episode.severity,
    status: resolved ? 'resolved' : 'firing',
    title: episode.title,
    labels: { alertname: episode.alertname, exporter: 'metrics-bridge' },
    ...(episode.metric ? { metric: episode.metric } : {}),
    startsAt: iso(episode.startsAt),
    ...(resolved ? { endsAt: iso(episode.endsAt!) } : {}),
  });
  out.push({ at: firingAt, format: 'generic', body: body(false), episode: episode.ref, status: 'firing' });
  if (resolvedAt !== null && resolvedAt < investigateAt)
    out.push({
      at: resolvedAt,
      format: 'generic',
      body: body(true),
      episode: episode.ref,
      status: 'resolved',
    });
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Cases

interface Builder {
  random: Random;
  topology: readonly TopologyNode[];
  byName: Map<string, TopologyNode>;
  episodes: AlertEpisode[];
  changes: SyntheticChange[];
}

function addEpisode(
  builder: Builder,
  episode: Omit<AlertEpisode, 'ref' | 'title' | 'format'>,
  upstream?: string,
) {
  const spec = alertSpec(builder.random, episode.alertname, episode.service, upstream ? { upstream } : {});
  builder.episodes.push({
    ...episode,
    ref: `alert-${builder.episodes.length + 1}`,
    title: spec.title,
    format: spec.format,
    ...(spec.metric ? { metric: spec.metric } : {}),
  });
}

/**
 * Noise on `service` around `center`: a flapping warning, a one-off low-severity alert, or a short
 * error/critical blip. `paging` forces a source loud enough to open an incident on its own. Flapping
 * goes on past `until` (the investigation), so it may be firing or quiet when the evidence is frozen.
 */
function addNoise(
  builder: Builder,
  service: string,
  center: number,
  until: number,
  paging: boolean,
): NoiseKind {
  const { random } = builder;
  const node = builder.byName.get(service)!;
  const alertname = random.pick(NOISE_ALERTS[serviceClass(node)]);
  const type = paging
    ? random.weighted<NoiseKind>([
        ['storm', 1],
        ['blip', 1],
      ])
    : random.weighted<NoiseKind>([
        ['flap', 45],
        ['steady', 25],
        ['blip', 30],
      ]);
  let at = Math.round(center + random.uniform(-25, type === 'storm' ? -5 : 10) * MINUTE);
  if (type === 'flap' || type === 'storm') {
    // A storm flaps fast enough for five warnings in 15 minutes (the warning-storm rule) and keeps
    // going; a plain flapping alert either keeps going or settles after a few flaps.
    const settlesAfter = type === 'flap' && random.chance(0.4) ? random.int(2, 4) : Number.POSITIVE_INFINITY;
    for (let flap = 0; flap < settlesAfter && at < until; flap += 1) {
      const up = random.uniform(0.5, type === 'storm' ? 1.5 : 3) * MINUTE;
      addEpisode(builder, {
        role: 'noise',
        service,
        alertname,
        severity: 'warning',
        startsAt: at,
        endsAt: Math.round(at + up),
      });
      at = Math.round(at + up + random.uniform(0.5, type === 'storm' ? 1.2 : 5) * MINUTE);
    }
    return type;
  }
  if (type === 'steady') {
    addEpisode(builder, {
      role: 'noise',
      service,
      alertname,
      severity: random.chance(0.7) ? 'warning' : 'info',
      startsAt: at,
      endsAt: random.chance(0.5) ? Math.round(at + random.uniform(5, 20) * MINUTE) : null,
    });
    return type;
  }
  addEpisode(builder, {
    role: 'noise',
    service,
    alertname,
    severity: paging || random.chance(0.35) ? 'critical' : 'error',
    startsAt: at,
    endsAt: Math.round(at + random.uniform(0.7, 3) * MINUTE),
  });
  return type;
}

function addDecoys(builder: Builder, onset: number, avoid: ReadonlySet<string>, count: number): number {
  const { random } = builder;
  const candidates = builder.topology.map((node) => node.name).filter((name) => !avoid.has(name));
  let near = 0;
  for (const [position, service] of random.sample(candidates, count).entries()) {
    const node = builder.byName.get(service)!;
    const when = random.weighted<'near' | 'far' | 'after'>([
      ['near', 35],
      ['far', 55],
      ['after', 10],
    ]);
    const minutesBefore =
      when === 'near'
        ? random.uniform(1, 40)
        : when === 'far'
          ? random.uniform(40, 300)
          : -random.uniform(1, 10);
    if (when === 'near') near += 1;
    builder.changes.push(
      changeOf(
        random,
        decoyKind(random, serviceClass(node)),
        service,
        Math.round(onset - minutesBefore * MINUTE),
        {
          ref: `decoy-${position + 1}`,
          role: 'decoy',
        },
      ),
    );
  }
  return near;
}

function noiseCount(random: Random, quiet: boolean): number {
  return quiet
    ? random.int(2, 5)
    : random.weighted([
        [0, 20],
        [1, 35],
        [2, 30],
        [3, 15],
      ]);
}

function faultCase(builder: Builder, index: number, onset: number): Omit<SyntheticCase, 'deliveries'> {
  const { random, topology, byName } = builder;
  const callers = callerMap(topology);
  const origin = random.pick(topology);
  const klass = serviceClass(origin);
  const originAlert = random.weighted(ORIGIN_ALERTS[klass]);
  const cause = random.weighted(CAUSES[klass]);
  const spread = random.weighted<'contained' | 'normal' | 'wide'>([
    ['contained', 30],
    ['normal', 50],
    ['wide', 20],
  ]);
  const reach = { contained: [0.5, 0.15, 0, 0], normal: [0.85, 0.6, 0.4, 0.25], wide: [1, 0.85, 0.7, 0.5] }[
    spread
  ];

  // Degradation reaches every transitive caller; each alerts with a probability that falls with hops.
  const degradedAt = new Map<string, { at: number; hop: number; via: string }>([
    [origin.name, { at: onset, hop: 0, via: origin.name }],
  ]);
  let frontier = [origin.name];
  for (let hop = 1; hop <= 4 && frontier.length > 0; hop += 1) {
    const next: string[] = [];
    for (const service of frontier) {
      for (const caller of callers.get(service) ?? []) {
        if (degradedAt.has(caller)) continue;
        const parent = degradedAt.get(service)!;
        const delay = Math.max(0.7, random.uniform(1.5, 5) + random.normal(0, 0.6));
        degradedAt.set(caller, { at: Math.round(parent.at + delay * MINUTE), hop, via: service });
        next.push(caller);
      }
    }
    frontier = next;
  }
  const alerting = [...degradedAt.entries()]
    .filter(([service, entry]) => service !== origin.name && random.chance(reach[entry.hop - 1] ?? 0))
    .sort((a, b) => a[1].at - b[1].at || a[0].localeCompare(b[0]))
    .slice(0, 8);
  const firstCaller = alerting[0]?.[1].at;
  const lateOrigin = firstCaller !== undefined && random.chance(0.1);
  const originAt = lateOrigin
    ? Math.round(firstCaller + random.uniform(1, 5) * MINUTE)
    : Math.round(onset + random.uniform(0, 1.5) * MINUTE);

  addEpisode(builder, {
    role: 'origin',
    service: origin.name,
    alertname: originAlert,
    severity: random.chance(0.85) ? 'critical' : 'error',
    startsAt: originAt,
    endsAt: null,
  });
  if (klass === 'service' && random.chance(0.5)) {
    addEpisode(builder, {
      role: 'origin',
      service: origin.name,
      alertname: originAlert === 'HighLatencyP99' ? 'HighErrorRate' : 'HighLatencyP99',
      severity: random.chance(0.5) ? 'warning' : 'error',
      startsAt: Math.round(originAt + random.uniform(0.5, 3) * MINUTE),
      endsAt: null,
    });
  }
  for (const [service, entry] of alerting) {
    const node = byName.get(service)!;
    const names: (readonly [string, number])[] = [
      ['Upstream5xx', 4],
      ['HighErrorRate', 4],
      ['HighLatencyP99', 3],
    ];
    if (node.customerFacing) names.push(['SLOBurnRateFast', 3]);
    const severity = random.weighted<Severity>(
      entry.hop === 1
        ? [
            ['critical', 40],
            ['error', 45],
            ['warning', 15],
          ]
        : [
            ['critical', 25],
            ['error', 45],
            ['warning', 30],
          ],
    );
    const first = random.weighted(names);
    addEpisode(
      builder,
      { role: 'cascade', service, alertname: first, severity, startsAt: entry.at, endsAt: null },
      entry.via,
    );
    if (random.chance(0.35)) {
      const second = random.weighted(names.filter(([name]) => name !== first));
      addEpisode(
        builder,
        {
          role: 'cascade',
          service,
          alertname: second,
          severity: random.chance(0.5) ? 'warning' : 'error',
          startsAt: Math.round(entry.at + random.uniform(0.5, 4) * MINUTE),
          endsAt: null,
        },
        entry.via,
      );
    }
  }

  let causeLeadMinutes: number | null = null;
  if (cause !== 'none') {
    // Most causing changes land minutes before; some burn slowly.
    const lead = random.weighted<[number, number]>([
      [[2, 25], 65],
      [[25, 60], 25],
      [[60, 150], 10],
    ]);
    causeLeadMinutes = round1(random.uniform(lead[0], lead[1]));
    builder.changes.push(
      changeOf(random, cause, origin.name, Math.round(onset - causeLeadMinutes * MINUTE), {
        ref: 'cause',
        role: 'cause',
      }),
    );
  }
  const faultServices = new Set([origin.name, ...alerting.map(([service]) => service)]);
  const lastFaultAlert = Math.max(...builder.episodes.map((episode) => episode.startsAt));
  const investigateAt = Math.round(lastFaultAlert + random.uniform(2, 8) * MINUTE);
  let mitigation = false;
  if (random.chance(0.1)) {
    const at = Math.round(originAt + random.uniform(2, 8) * MINUTE);
    if (at + MINUTE < investigateAt) {
      mitigation = true;
      builder.changes.push(
        changeOf(
          random,
          klass === 'service' ? random.pick<ChangeKindName>(['config', 'rollback']) : 'config',
          origin.name,
          at,
          {
            ref: 'mitigation',
            role: 'mitigation',
          },
        ),
      );
    }
  }
  const noiseSources = noiseCount(random, false);
  const noisy = random.sample(
    topology.map((node) => node.name).filter((name) => !faultServices.has(name)),
    noiseSources,
  );
  for (const service of noisy) addNoise(builder, service, onset, investigateAt, false);
  const decoyCount = random.int(1, 4);
  const decoysNearOnset = addDecoys(builder, onset, new Set([origin.name]), decoyCount);

  return {
    index,
    id: `case-${String(index + 1).padStart(4, '0')}`,
    kind: 'fault',
    onset,
    investigateAt,
    truth: {
      rootCause: origin.name,
      cause,
      culprit: cause === 'none' ? null : 'cause',
      originAlert,
    },
    shape: {
      originClass: klass,
      faultServices: faultServices.size,
      lateOrigin,
      spread,
      noiseSources: noisy.length,
      decoysNearOnset,
      decoys: decoyCount,
      mitigation,
      causeLeadMinutes,
      pagingNoise: null,
    },
    episodes: builder.episodes,
    changes: builder.changes,
  };
}

function quietCase(builder: Builder, index: number, onset: number): Omit<SyntheticCase, 'deliveries'> {
  const { random, topology } = builder;
  const investigateAt = Math.round(onset + random.uniform(15, 25) * MINUTE);
  const sources = noiseCount(random, true);
  const noisy = random.sample(
    topology.map((node) => node.name),
    sources,
  );
  let pagingNoise: CaseShape['pagingNoise'] = null;
  noisy.forEach((service, position) => {
    const kind = addNoise(builder, service, onset, investigateAt, position === 0);
    if (position === 0) pagingNoise = { service, kind };
  });
  const decoyCount = random.int(1, 4);
  // No change on a noisy service: a change followed by alerts on the same service would be a fault.
  const decoysNearOnset = addDecoys(builder, onset, new Set(noisy), decoyCount);
  return {
    index,
    id: `case-${String(index + 1).padStart(4, '0')}`,
    kind: 'quiet',
    onset,
    investigateAt,
    truth: { rootCause: null, cause: null, culprit: null, originAlert: null },
    shape: {
      originClass: null,
      faultServices: 0,
      lateOrigin: false,
      spread: null,
      noiseSources: noisy.length,
      decoysNearOnset,
      decoys: decoyCount,
      mitigation: false,
      causeLeadMinutes: null,
      pagingNoise,
    },
    episodes: builder.episodes,
    changes: builder.changes,
  };
}

export function generateCase(
  topology: readonly TopologyNode[],
  index: number,
  options: GeneratorOptions,
): SyntheticCase {
  const random = new Random(caseSeed(options.seed, index));
  const builder: Builder = {
    random,
    topology,
    byName: new Map(topology.map((node) => [node.name, node])),
    episodes: [],
    changes: [],
  };
  // Between 07:00 and 19:00 on the day, to the second; the look-back (6 h) stays within the day.
  const onset = options.day + Math.round((random.uniform(7, 19) * 3_600_000) / 1000) * 1000;
  const quiet = random.chance(options.quietShare ?? 0.2);
  const built = quiet ? quietCase(builder, index, onset) : faultCase(builder, index, onset);
  const deliveries = built.episodes
    .flatMap((episode) => render(random, episode, built.investigateAt))
    .map((delivery, order) => ({ delivery, order }))
    .sort((a, b) => a.delivery.at - b.delivery.at || a.order - b.order)
    .map(({ delivery }) => delivery);
  // Changes recorded after the investigation are not known to it.
  const changes = built.changes.filter((change) => change.recordedAt < built.investigateAt);
  return { ...built, changes, deliveries };
}

export function generateCases(
  topology: readonly TopologyNode[],
  count: number,
  options: GeneratorOptions,
): SyntheticCase[] {
  return Array.from({ length: count }, (_, index) => generateCase(topology, index, options));
}
