import type { ElementDefinition } from 'cytoscape';
import { serviceEvidenceId, serviceOfEvidenceId } from '../../src/domain/evidence-id';
import type { Evidence } from './types';

/** What the investigation named as the probable root cause, when it did. */
export interface RootCauseHint {
  service?: string;
  changeId?: string | null;
}

/** The outage's shape in the graph: where it started, who alerted, the path between, the change. */
export interface OutageShape {
  /** Graph node ids (`service:<name>`). */
  origin: string | undefined;
  /** Why the origin is the origin, in words. */
  originFrom: 'investigation' | 'incident' | 'changed dependency' | 'deepest alerting service' | undefined;
  alerting: Set<string>;
  /** Services on a dependency path from an alerting service down to the origin, both ends included. */
  path: Set<string>;
  /** Services from the origin down to the culprit change's service, when the change is below the origin. */
  toCulprit: Set<string>;
  culprit: string | undefined;
  /** What is drawn by default: all of the above. */
  matters: Set<string>;
}

type Edge = { from: string; to: string };

function reachable(start: Iterable<string>, next: Map<string, string[]>): Set<string> {
  const seen = new Set(start);
  const queue = [...seen];
  while (queue.length > 0) {
    for (const node of next.get(queue.shift()!) ?? []) {
      if (seen.has(node)) continue;
      seen.add(node);
      queue.push(node);
    }
  }
  return seen;
}

function adjacency(edges: readonly Edge[], reverse = false): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const edge of edges) {
    const [from, to] = reverse ? [edge.to, edge.from] : [edge.from, edge.to];
    out.set(from, [...(out.get(from) ?? []), to]);
  }
  return out;
}

/**
 * Finds the origin (the investigation's probable root cause, else the incident's origin, else the
 * nearest changed service the alerting services depend on, else the alerting service deepest in the
 * dependencies), the alerting services (those with a signal of the incident), every service on a
 * dependency path from one of them to the origin, and the culprit change (the investigation's, else
 * the nearest change on the origin or below it, with the services down to it).
 */
export function outageShape(evidence: Evidence, hint?: RootCauseHint | null): OutageShape {
  const graph = evidence.graph;
  const { bundle } = evidence;
  const services = new Set(
    (graph?.nodes ?? []).filter((node) => node.kind === 'service').map((node) => node.id),
  );
  const dependsOn = (graph?.edges ?? []).filter((edge) => edge.kind === 'depends_on');
  const down = adjacency(dependsOn);
  const up = adjacency(dependsOn, true);
  const alerting = new Set(
    bundle.signals.map((signal) => serviceEvidenceId(signal.service)).filter((id) => services.has(id)),
  );
  const below = reachable(alerting, down);
  const changed = new Map<string, (typeof bundle.changes)[number]>();
  for (const change of [...bundle.changes].sort((a, b) => a.startedAt - b.startedAt))
    changed.set(serviceEvidenceId(change.service), change);

  const named = (service: string | null | undefined) =>
    service && services.has(serviceEvidenceId(service)) ? serviceEvidenceId(service) : undefined;
  // Breadth first down from the alerting services, so the nearest changed dependency comes first.
  const nearestChanged = [...below].find((id) => changed.has(id));
  const deepestAlerting = [...alerting].find(
    (id) => ![...reachable([id], down)].some((other) => other !== id && alerting.has(other)),
  );
  const candidates: [string | undefined, NonNullable<OutageShape['originFrom']>][] = [
    [named(hint?.service), 'investigation'],
    [named(bundle.incident.rootService), 'incident'],
    [nearestChanged, 'changed dependency'],
    [deepestAlerting, 'deepest alerting service'],
  ];
  const [origin, originFrom] = candidates.find(([id]) => id !== undefined) ?? [undefined, undefined];

  const path = new Set<string>();
  if (origin) {
    const above = reachable([origin], up);
    for (const id of below) if (above.has(id)) path.add(id);
    path.add(origin);
  }
  // The culprit: the investigation's change, else the latest on the origin, else the nearest change
  // on a dependency of the origin (a deploy below it that the alerts reached through it).
  const hinted = hint?.changeId ? bundle.changes.find((change) => change.id === hint.changeId) : undefined;
  const nearestBelowOrigin = origin
    ? [...reachable([origin], down)].find((id) => changed.has(id))
    : undefined;
  const culpritChange = hinted ?? (nearestBelowOrigin ? changed.get(nearestBelowOrigin) : undefined);
  const culprit = culpritChange?.id;
  const toCulprit = new Set<string>();
  const culpritService = culpritChange ? serviceEvidenceId(culpritChange.service) : undefined;
  if (origin && culpritService && services.has(culpritService)) {
    const aboveCulprit = reachable([culpritService], up);
    for (const id of reachable([origin], down)) if (aboveCulprit.has(id)) toCulprit.add(id);
  }
  const matters = new Set([...alerting, ...path, ...toCulprit]);
  if (origin) matters.add(origin);
  if (culprit) matters.add(culprit);
  return { origin, originFrom, alerting, path, toCulprit, culprit, matters };
}

/** The layer of each service: 0 for one that depends on nothing drawn, else one above its deepest dependency. */
export function serviceLayers(services: readonly string[], edges: readonly Edge[]): Map<string, number> {
  const drawn = new Set(services);
  const down = adjacency(edges.filter((edge) => drawn.has(edge.from) && drawn.has(edge.to)));
  const layers = new Map<string, number>();
  const visiting = new Set<string>();
  const layerOf = (id: string): number => {
    const known = layers.get(id);
    if (known !== undefined) return known;
    // A dependency cycle: the edge that closes it is not followed.
    if (visiting.has(id)) return -1;
    visiting.add(id);
    const layer = Math.max(-1, ...(down.get(id) ?? []).map(layerOf)) + 1;
    visiting.delete(id);
    layers.set(id, layer);
    return layer;
  };
  for (const id of services) layerOf(id);
  return layers;
}

const COLUMN = 200;
const ROW = 150;

/**
 * Positions for the drawn nodes: services in layers, the origin's layer at the bottom and callers
 * above; a signal half a row above the service it was observed on, a change or document half a row
 * below. Within a row, nodes sit in the order of what they connect to, so edges cross less.
 */
export function layeredPositions(
  elements: readonly ElementDefinition[],
): Map<string, { x: number; y: number }> {
  const nodes = elements.filter((element) => element.data.source === undefined);
  const edges = elements
    .filter((element) => element.data.source !== undefined)
    .map((element) => ({
      from: element.data.source as string,
      to: element.data.target as string,
      kind: element.data.kind as string,
    }));
  const services = nodes.filter((node) => node.data.kind === 'service').map((node) => node.data.id as string);
  const layers = serviceLayers(
    services,
    edges.filter((edge) => edge.kind === 'depends_on'),
  );
  // Each other node hangs off one service: the one its edge points at.
  const anchor = new Map<string, string>();
  for (const edge of edges)
    if (edge.kind !== 'depends_on' && layers.has(edge.to)) anchor.set(edge.from, edge.to);
  const rows = new Map<number, string[]>();
  for (const node of nodes) {
    const id = node.data.id as string;
    const kind = node.data.kind as string;
    const base = layers.get(id) ?? layers.get(anchor.get(id) ?? '');
    // Twice the layer, so the half rows of signals, changes and documents fit between.
    const row = base === undefined ? -1 : base * 2 + (kind === 'service' ? 0 : kind === 'signal' ? 1 : -1);
    rows.set(row, [...(rows.get(row) ?? []), id]);
  }
  const positions = new Map<string, { x: number; y: number }>();
  const neighbours = adjacency(edges.flatMap((edge) => [edge, { from: edge.to, to: edge.from }]));
  for (const row of [...rows.keys()].sort((a, b) => a - b)) {
    const ids = rows.get(row)!;
    // Barycentre of the neighbours placed already (the rows below); the name breaks ties.
    const weight = (id: string) => {
      const placed = (neighbours.get(id) ?? [])
        .map((other) => positions.get(other)?.x)
        .filter((x) => x !== undefined);
      return placed.length === 0 ? 0 : placed.reduce((sum, x) => sum + x, 0) / placed.length;
    };
    ids.sort((a, b) => weight(a) - weight(b) || a.localeCompare(b));
    ids.forEach((id, index) => {
      positions.set(id, { x: (index - (ids.length - 1) / 2) * COLUMN, y: -row * (ROW / 2) });
    });
  }
  return positions;
}

/** A service node's id without its prefix, for the words beside the graph. */
export function serviceName(id: string): string {
  return serviceOfEvidenceId(id) ?? id;
}
