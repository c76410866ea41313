import { SEVERITY_RANK, type Severity } from '../domain/common.js';

/**
 * Correlation over the dependency graph. Faults travel from a dependency to its callers, so a signal
 * belongs with an incident when its service reaches the incident's services along one direction of
 * the edges: up (it calls them, so it is likely a symptom of the same fault) or down (they call it,
 * so it may be the cause). A path that turns (two services that merely share a dependency or a
 * caller) is no evidence of a shared fault, so it never connects anything: two unrelated outages
 * behind one API gateway, or under one database, stay apart.
 */
export interface DependencyGraph {
  /** service → the services it calls. */
  readonly dependsOn: ReadonlyMap<string, readonly string[]>;
  /** service → the services that call it. */
  readonly callers: ReadonlyMap<string, readonly string[]>;
}

export function dependencyGraph(edges: readonly { service: string; dependsOn: string }[]): DependencyGraph {
  const dependsOn = new Map<string, string[]>();
  const callers = new Map<string, string[]>();
  for (const edge of edges) {
    if (edge.service === edge.dependsOn) continue;
    dependsOn.set(edge.service, [...(dependsOn.get(edge.service) ?? []), edge.dependsOn]);
    callers.set(edge.dependsOn, [...(callers.get(edge.dependsOn) ?? []), edge.service]);
  }
  return { dependsOn, callers };
}

/**
 * How a signal's service relates to an incident: `same` (the incident already holds the service),
 * `caller` (it calls, through at most `hops` edges, one of the incident's services) or `dependency`
 * (one of the incident's services calls it).
 */
export type GraphRelation = 'same' | 'caller' | 'dependency' | 'sibling';

export interface GraphPath {
  relation: GraphRelation;
  /** From the signal's service to the incident's service it reached, both included. */
  path: string[];
  /** For `sibling`: the dependency both share, where the path turns. */
  shared?: string;
  /** For `sibling`: the change on the shared dependency that makes the turn count. */
  change?: string;
}

/**
 * The shortest one-direction path from `from` to any of `targets`, at most `hops` edges long. On a
 * tie the caller path wins (a symptom joining is the common case), then the path that reads first.
 */
export function pathTo(
  graph: DependencyGraph,
  from: string,
  targets: ReadonlySet<string>,
  hops: number,
): GraphPath | null {
  if (targets.has(from)) return { relation: 'same', path: [from] };
  const up = shortestPath(graph.dependsOn, from, (name) => targets.has(name), hops);
  const down = shortestPath(graph.callers, from, (name) => targets.has(name), hops);
  if (up && (!down || up.length <= down.length)) return { relation: 'caller', path: up };
  if (down) return { relation: 'dependency', path: down };
  return null;
}

/**
 * Label keys whose value says where a request went: a gateway's route, a proxy's upstream or cluster,
 * a mesh's destination. An alert on a hub that carries one is about that path, not the hub.
 */
export const ROUTE_LABELS = [
  'route',
  'path',
  'upstream',
  'upstream_cluster',
  'envoy_cluster_name',
  'backend',
  'destination_service',
  'destination_workload',
  'target_service',
] as const;

/** Words in service names and routes that name no service in particular. */
const GENERIC_WORDS = new Set([
  'api',
  'apis',
  'svc',
  'service',
  'services',
  'http',
  'https',
  'grpc',
  'www',
  'web',
  'app',
  'internal',
  'public',
  'prod',
  'production',
  'staging',
  'server',
  'backend',
  'frontend',
  'default',
  'cluster',
]);

function words(text: string): string[] {
  return text
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((word) => word.length >= 3 && !GENERIC_WORDS.has(word) && !/^v\d+$/.test(word));
}

/**
 * The direct dependencies of `service` that a signal's route labels name (a deterministic heuristic,
 * docs/correlation.md): `route: /checkout` on the gateway names `checkout-api`. A dependency is named
 * when one of its name's words (not a generic one such as `api` or `service`) is a word of a route
 * label's value. Empty when no route label is set or none names a dependency.
 */
export function namedDependencies(
  graph: DependencyGraph,
  service: string,
  labels: Readonly<Record<string, string>>,
): string[] {
  const dependencies = graph.dependsOn.get(service) ?? [];
  if (dependencies.length === 0) return [];
  const named = new Set<string>();
  for (const key of ROUTE_LABELS) {
    const value = labels[key];
    if (typeof value === 'string') for (const word of words(value.slice(0, 512))) named.add(word);
  }
  if (named.size === 0) return [];
  return dependencies.filter((dependency) => words(dependency).some((word) => named.has(word))).sort();
}

/** How long before an incident's first signal a change on a shared dependency may start to join siblings. */
export const SIBLING_CHANGE_WINDOW_MS = 60 * 60_000;

/**
 * The exception to "a path that turns connects nothing": two services that share a dependency are one
 * outage when that dependency has just changed (a key rotation behind every sign-in, a pushed config
 * behind every host). The shortest path from `from` up to a dependency `changed` accepts and back down
 * to one of `targets` (from → … → shared ← … ← target), at most `hops` edges in all; the shared
 * dependency itself is not one of the targets (that would be a plain dependency path). Returns the
 * path and the change, or null.
 */
export function siblingPath(
  graph: DependencyGraph,
  from: string,
  targets: ReadonlySet<string>,
  hops: number,
  changed: (service: string) => string | undefined,
): { path: string[]; shared: string; change: string } | null {
  let best: { path: string[]; shared: string; change: string } | null = null;
  const shared = [...pathsFrom(graph.dependsOn, from, hops - 1)].sort(
    ([a, left], [b, right]) => left.length - right.length || a.localeCompare(b),
  );
  for (const [service, up] of shared) {
    if (targets.has(service)) continue;
    const change = changed(service);
    if (change === undefined) continue;
    const down = shortestPath(
      graph.callers,
      service,
      (name) => targets.has(name) && name !== from,
      hops - (up.length - 1),
    );
    if (!down) continue;
    const path = [...up, ...down.slice(1)];
    if (!best || path.length < best.path.length) best = { path, shared: service, change };
  }
  return best;
}

/**
 * The other exception, for origins that never alert (a deterministic heuristic, docs/correlation.md):
 * `from` and the incident's origin both call a dependency directly that holds no alert of the incident
 * (`from → shared ← origin`), and nothing `from` calls is one of the incident's services, so neither
 * side has an alerting dependency that would explain it. Two services failing together whose only link
 * is a silent dependency they share point at that dependency (a host network under every dyno, a
 * transit gateway under every tier). The caller decides what else must hold: an error or worse, and
 * no recent change on `from` that explains it on its own. Returns the path and the shared dependency
 * (the first by name when several are shared), or null.
 */
export function originSiblingPath(
  graph: DependencyGraph,
  from: string,
  origin: string | null,
  services: ReadonlySet<string>,
): { path: string[]; shared: string } | null {
  if (origin === null || origin === from || services.has(from)) return null;
  const own = graph.dependsOn.get(from) ?? [];
  if (own.some((dependency) => services.has(dependency))) return null;
  const theirs = new Set(graph.dependsOn.get(origin) ?? []);
  const shared = own
    .filter((dependency) => theirs.has(dependency) && !services.has(dependency) && dependency !== from)
    .sort()[0];
  return shared === undefined ? null : { path: [from, shared, origin], shared };
}

/** The direct dependencies' other callers: whom `service` could be an origin sibling of. */
export function siblingsOf(graph: DependencyGraph, service: string): Set<string> {
  const out = new Set<string>();
  for (const dependency of graph.dependsOn.get(service) ?? [])
    for (const caller of graph.callers.get(dependency) ?? []) if (caller !== service) out.add(caller);
  return out;
}

/** Every service reachable from `from` along `next` within `hops` edges, with the shortest path to it. */
function pathsFrom(
  next: ReadonlyMap<string, readonly string[]>,
  from: string,
  hops: number,
): Map<string, string[]> {
  const paths = new Map<string, string[]>();
  let frontier = [[from]];
  for (let depth = 1; depth <= hops && frontier.length > 0; depth += 1) {
    const following: string[][] = [];
    for (const path of frontier) {
      for (const step of [...(next.get(path.at(-1)!) ?? [])].sort()) {
        if (step === from || paths.has(step)) continue;
        const extended = [...path, step];
        paths.set(step, extended);
        following.push(extended);
      }
    }
    frontier = following;
  }
  return paths;
}

function shortestPath(
  next: ReadonlyMap<string, readonly string[]>,
  from: string,
  done: (name: string) => boolean,
  hops: number,
): string[] | null {
  const previous = new Map<string, string>([[from, from]]);
  let frontier = [from];
  for (let depth = 1; depth <= hops && frontier.length > 0; depth += 1) {
    const following: string[] = [];
    for (const name of frontier) {
      for (const step of [...(next.get(name) ?? [])].sort()) {
        if (previous.has(step)) continue;
        previous.set(step, name);
        if (done(step)) return unwind(previous, step);
        following.push(step);
      }
    }
    frontier = following;
  }
  return null;
}

function unwind(previous: ReadonlyMap<string, string>, end: string): string[] {
  const path = [end];
  let at = end;
  while (previous.get(at) !== at) {
    at = previous.get(at)!;
    path.unshift(at);
  }
  return path;
}

/** Longest chain `dependsWithin` follows, whatever the hop budget: a guard on cyclic or deep graphs. */
const MAX_CHAIN = 8;

/**
 * Whether `from` depends on `to` through calls (`from` → … → `to`), where the hop budget counts the
 * first edge and every silent service on the way: services in `alerting` are evidence of the fault
 * travelling, so a chain of alerting services is connected however long it is (up to MAX_CHAIN).
 * Returns the path, or null.
 */
export function dependsWithin(
  graph: DependencyGraph,
  from: string,
  to: string,
  hops: number,
  alerting: ReadonlySet<string>,
): string[] | null {
  if (from === to) return null;
  // 0/1-weighted search: entering a silent intermediary costs one hop, an alerting one nothing.
  const best = new Map<string, number>([[from, 1]]);
  const previous = new Map<string, string>([[from, from]]);
  let queue: { name: string; cost: number; length: number }[] = [{ name: from, cost: 1, length: 0 }];
  while (queue.length > 0) {
    const nextQueue: typeof queue = [];
    for (const { name, cost, length } of queue) {
      if (length >= MAX_CHAIN) continue;
      for (const step of [...(graph.dependsOn.get(name) ?? [])].sort()) {
        if (step === to) {
          if (cost > hops) continue;
          previous.set(step, name);
          return unwind(previous, step);
        }
        const stepCost = cost + (alerting.has(step) ? 0 : 1);
        if (stepCost > hops || (best.get(step) ?? Number.POSITIVE_INFINITY) <= stepCost) continue;
        best.set(step, stepCost);
        previous.set(step, name);
        nextQueue.push({ name: step, cost: stepCost, length: length + 1 });
      }
    }
    queue = nextQueue.sort((a, b) => a.cost - b.cost);
  }
  return null;
}

/** The weakest signal that may move an incident's origin: warnings are too common to re-root on. */
export const ORIGIN_MIN_SEVERITY: Severity = 'error';

export interface OriginMove {
  origin: string;
  /** The path from the previous origin down to the new one; absent when the origin did not move. */
  path?: string[];
}

/**
 * The incident's probable origin after a signal joins (a deterministic heuristic, docs/correlation.md):
 * the deepest alerting service. The origin moves to the joining service when the current origin
 * depends on it within the hop budget (silent services on the way count, alerting ones do not) and
 * the signal is at least an error; a warning on a busy dependency is not enough to blame it.
 */
export function nextOrigin(
  graph: DependencyGraph,
  current: string | null,
  joining: { service: string; severity: Severity },
  hops: number,
  alerting: ReadonlySet<string>,
): OriginMove {
  if (current === null || current === joining.service) return { origin: joining.service };
  if (SEVERITY_RANK[joining.severity] < SEVERITY_RANK[ORIGIN_MIN_SEVERITY]) return { origin: current };
  const path = dependsWithin(graph, current, joining.service, hops, alerting);
  return path ? { origin: joining.service, path } : { origin: current };
}

export interface IncidentShape {
  id: string;
  origin: string;
  services: readonly string[];
}

/**
 * Whether two incidents are one outage: the origin of one depends on the origin of the other (a
 * chain through services of either incident is free; silent ones count against `hops`). Returns
 * which incident's origin is deeper, with the path, or null. Sharing a caller or a dependency is not
 * a connection, so a blip on a hub service cannot fuse the incidents of its callers.
 */
export function connection(
  graph: DependencyGraph,
  a: IncidentShape,
  b: IncidentShape,
  hops: number,
): { deeper: IncidentShape; shallower: IncidentShape; path: string[] } | null {
  if (a.origin === b.origin) return { deeper: a, shallower: b, path: [a.origin] };
  const alerting = new Set([...a.services, ...b.services]);
  const down = dependsWithin(graph, a.origin, b.origin, hops, alerting);
  if (down) return { deeper: b, shallower: a, path: down };
  const up = dependsWithin(graph, b.origin, a.origin, hops, alerting);
  if (up) return { deeper: a, shallower: b, path: up };
  return null;
}

/**
 * Every service within `hops` of `service` along one direction of the edges, itself included; only
 * its callers' side, or only its dependencies', when `side` says so.
 */
export function neighbourhood(
  graph: DependencyGraph,
  service: string,
  hops: number,
  side?: 'callers' | 'dependsOn',
): Set<string> {
  const out = new Set([service]);
  for (const next of side ? [graph[side]] : [graph.dependsOn, graph.callers]) {
    const seen = new Set([service]);
    let frontier = [service];
    for (let depth = 1; depth <= hops && frontier.length > 0; depth += 1) {
      const following: string[] = [];
      for (const name of frontier) {
        for (const step of next.get(name) ?? []) {
          if (seen.has(step)) continue;
          seen.add(step);
          out.add(step);
          following.push(step);
        }
      }
      frontier = following;
    }
  }
  return out;
}
