import { newId } from '../domain/common.js';
import type { EvidenceBundle, EvidenceGraph, KnowledgeSection, PastIncident } from '../domain/evidence.js';
import { serviceEvidenceId } from '../domain/evidence-id.js';
import type { Incident } from '../domain/incident.js';
import type { Signal } from '../domain/signal.js';
import { appendIncidentEvents, requireIncident } from '../incidents/service.js';
import { KnowledgeIndex, MITIGATION_HEADING } from '../knowledge/search.js';
import type { KbChunk, KbDocument } from '../store/repositories/knowledge.js';
import type { StoreScope } from '../store/store.js';
import { canonicalJson, sha256 } from '../util/hash.js';
import { ORIGIN_HORIZON_MINUTES } from './agents/change-intelligence.js';

/**
 * Evidence assembly: what an investigation sees of an incident, frozen at a point in time. The bundle
 * holds the incident, its signals and those of its topology neighbourhood, changes, past incidents and
 * knowledge sections; the graph links them. Both are stored and hashed, so a replay reads the same.
 */

export interface BundleOptions {
  asOf?: number;
  lookbackMs: number;
  radius: number;
  /** A prebuilt knowledge index (the API keeps one cached); built from the store when absent. */
  knowledge?: KnowledgeIndex;
  /** Alert names of past incidents already read (the runtime keeps one); read from the store when absent. */
  alertNames?: AlertNameCache;
}

/** What the alert-name cache keys a past incident by. */
type Counted = Pick<Incident, 'id' | 'signalCount'>;

/**
 * Alert names of past incidents, remembered by (incident, signal count). A past incident's signals only
 * change by gaining more, which raises its count, so a remembered entry is never stale; reading them is
 * the costliest part of freezing evidence (a past storm links thousands of signals).
 */
export class AlertNameCache {
  readonly #entries = new Map<string, string[]>();
  readonly #capacity: number;

  constructor(capacity = 20_000) {
    this.#capacity = capacity;
  }

  async get(scope: StoreScope, incidents: readonly Counted[]): Promise<Map<string, string[]>> {
    const key = (incident: Counted) => `${incident.id}:${incident.signalCount}`;
    const out = new Map<string, string[]>();
    const missing: Counted[] = [];
    for (const incident of incidents) {
      const known = this.#entries.get(key(incident));
      if (known) out.set(incident.id, known);
      else missing.push(incident);
    }
    if (missing.length === 0) return out;
    const read = await scope.incidents.alertNames(missing.map((incident) => incident.id));
    for (const incident of missing) {
      const names = read.get(incident.id) ?? [];
      out.set(incident.id, names);
      if (this.#entries.size >= this.#capacity) this.#entries.delete(this.#entries.keys().next().value!);
      this.#entries.set(key(incident), names);
    }
    return out;
  }
}

/**
 * Freezes what an investigation may read: the incident's signals and detections, changes within the
 * look-back on the affected services and their neighbours (on the affected services themselves, at
 * least ORIGIN_HORIZON_MINUTES back), and the topology neighbourhood, as of one time.
 */
export async function buildEvidenceBundle(
  scope: StoreScope,
  incidentId: string,
  options: BundleOptions,
): Promise<EvidenceBundle> {
  const incident = await requireIncident(scope, incidentId);
  const asOf = options.asOf ?? Date.now();
  const signals = (await scope.signals.getMany(await scope.incidents.signalIds(incidentId))).filter(
    (signal) => signal.receivedAt <= asOf,
  );
  const detections = (await scope.detections.forIncident(incidentId)).filter(
    (detection) => detection.createdAt <= asOf,
  );
  const affected = [...new Set([...incident.services, ...signals.map((signal) => signal.service)])].sort();
  const neighbourhood = await topologyNeighbourhood(scope, affected, options.radius);
  const names = neighbourhood.map((entry) => entry.service);
  const services = (await scope.services.list()).filter((service) => names.includes(service.name));
  // The neighbourhood's changes within the look-back; the affected services' own a day back at least,
  // so that an older change on the origin can still explain it when nothing closer does.
  const since = incident.startedAt - options.lookbackMs;
  const ownSince = incident.startedAt - Math.max(options.lookbackMs, ORIGIN_HORIZON_MINUTES * 60_000);
  const recent = await scope.changes.list({ services: names, since, until: asOf });
  const older =
    ownSince < since
      ? await scope.changes.list({ services: affected, since: ownSince, until: since - 1 })
      : [];
  const changes = [...recent, ...older].filter((change) => change.createdAt <= asOf);
  const history = await pastIncidents(scope, incidentId, names, asOf, options.alertNames);
  const neighbourSignals = await signalsAround(scope, incident, signals, names, asOf, options.lookbackMs);
  const knowledge = await relevantKnowledge(scope, signals, incident.rootService, options.knowledge);
  const content = {
    incidentId,
    asOf,
    lookbackMs: options.lookbackMs,
    incident,
    signals: signals.map((signal) => asOfView(signal, asOf)),
    detections,
    changes,
    services,
    neighbourhood,
    history,
    knowledge,
    neighbourSignals,
  };
  const hash = sha256(canonicalJson(content));
  return { id: newId('bundle', asOf), ...content, hash };
}

/**
 * Runbook and postmortem sections for this incident: one BM25 search per affected service (at most
 * five: the incident's probable origin first, then by onset) with its first alert name, merged by best
 * score. Their text is frozen into the bundle so a replay does not depend on later edits to the
 * knowledge base.
 */
async function relevantKnowledge(
  scope: StoreScope,
  signals: readonly Signal[],
  origin: string | null,
  prebuilt: KnowledgeIndex | undefined,
): Promise<KnowledgeSection[]> {
  const index = prebuilt ?? new KnowledgeIndex(await scope.knowledge.list(), await scope.knowledge.chunks());
  if (index.size === 0 || signals.length === 0) return [];
  const ordered = [...signals].sort((a, b) => a.startsAt - b.startsAt || a.id.localeCompare(b.id));
  const alerting = new Set(ordered.map((signal) => signal.service));
  const services = [
    ...new Set([
      ...(origin && alerting.has(origin) ? [origin] : []),
      ...ordered.map((signal) => signal.service),
    ]),
  ].slice(0, 5);
  const best = new Map<string, KnowledgeSection>();
  // One search per affected service, asking with that service's own alerts. A heuristic: correlation's
  // probable origin (the incident's rootService), else the service that fired first, is most often
  // the origin, so its hits count fully and each later service's hits count less (1, 0.67, 0.5, 0.4,
  // 0.33); otherwise a generic runbook of the callers at the edge (the gateway's) outranks the
  // origin's own. The quality benchmark's runbook recall measures it.
  for (const [rank, service] of services.entries()) {
    const own = ordered.filter((signal) => signal.service === service);
    const weight = 1 / (1 + rank / 2);
    const query = {
      text: [...new Set(own.slice(0, 5).map((signal) => signal.title))].join(' '),
      service,
      alert: own[0]!.labels.alertname,
      perDocument: 1,
    };
    const hits = index.search({ ...query, limit: 5 });
    // The origin's runbooks written for its alert (their front matter lists both) are searched for on
    // their own when the plain search missed them: one in generic words (a kill-switch runbook) would
    // not reach the top five. Only then, so the common case costs one search.
    const found = new Set(hits.map((hit) => hit.documentId));
    const listed =
      service === origin
        ? [...new Set(own.map((signal) => signal.labels.alertname).filter((name) => name !== undefined))]
            .slice(0, 3)
            .filter((alert) => index.listedFor(service, alert).some((id) => !found.has(id)))
            .flatMap((alert) => index.search({ ...query, alert, listed: true, limit: 2 }))
        : [];
    for (const hit of [...hits, ...listed]) {
      const score = Math.round(hit.score * weight * 10_000) / 10_000;
      const current = best.get(hit.chunkId);
      if (current && current.score >= score) continue;
      best.set(hit.chunkId, { ...hit, score, text: index.chunkText(hit.chunkId) });
    }
  }
  // A runbook an alert links to (Alertmanager's `runbook_url` annotation) is the one its authors meant:
  // its sections rank above every search hit, the first-firing alert's link first.
  const linked = linkedDocuments(index, ordered);
  const ceiling = Math.max(0, ...[...best.values()].map((section) => section.score));
  for (const [rank, document] of linked.entries()) {
    const score = Math.round((ceiling + linked.length - rank) * 10_000) / 10_000;
    const first = index.sectionsMatching(document.id)[0];
    if (first) best.set(first.id, sectionOf(document, first, score));
  }
  // Runbooks and postmortems ranked for what they are: the linked runbooks, then those written for the
  // probable origin and one of its own alerts, then those for any alert that fired, before everything
  // else, each group by score. A postmortem of the same service is context; it should not push the
  // runbook for the alert out of the top places.
  const alertNames = (list: readonly Signal[]) =>
    new Set(
      list.map((signal) => signal.labels.alertname?.toLowerCase()).filter((name) => name !== undefined),
    );
  const fired = alertNames(ordered);
  const originFired = alertNames(ordered.filter((signal) => signal.service === origin));
  const linkedIds = new Set(linked.map((document) => document.id));
  const forAlert = (section: KnowledgeSection, names: ReadonlySet<string>) =>
    section.kind === 'runbook' && section.alerts.some((alert) => names.has(alert.toLowerCase()));
  const group = (section: KnowledgeSection) =>
    linkedIds.has(section.documentId)
      ? 0
      : origin !== null && section.services.includes(origin) && forAlert(section, originFired)
        ? 1
        : forAlert(section, fired)
          ? 2
          : 3;
  const order = (a: KnowledgeSection, b: KnowledgeSection) =>
    group(a) - group(b) || b.score - a.score || a.chunkId.localeCompare(b.chunkId);
  const top = [...best.values()].sort(order).slice(0, 10);
  // A runbook's steps live in its mitigation section, which may not be the section that matched best:
  // freeze it too for the two best runbooks, ranked just below the section that found the document.
  const extra: KnowledgeSection[] = [];
  for (const hit of top.filter((section) => section.kind === 'runbook').slice(0, 2)) {
    const document = index.document(hit.documentId)!;
    for (const section of index.sectionsMatching(hit.documentId, MITIGATION_HEADING)) {
      if (best.has(section.id)) continue;
      extra.push(sectionOf(document, section, Math.round(hit.score * 0.99 * 10_000) / 10_000));
    }
  }
  return [...top, ...extra].sort(order);
}

/** A document's section as the bundle freezes it, with its text. */
function sectionOf(document: KbDocument, section: KbChunk, score: number): KnowledgeSection {
  return {
    chunkId: section.id,
    documentId: document.id,
    path: document.path,
    title: document.title,
    kind: document.kind,
    heading: section.heading,
    text: section.text,
    score,
    services: document.services,
    alerts: document.alerts,
  };
}

/** Annotation keys that hold a link to an alert's runbook. */
const RUNBOOK_LINK = /^runbook(?:[_-]?url)?$/i;

/** The documents the signals' runbook links name, in the order the signals fired, each once. */
function linkedDocuments(index: KnowledgeIndex, ordered: readonly Signal[]) {
  const out: ReturnType<KnowledgeIndex['documentsAt']> = [];
  for (const signal of ordered)
    for (const [key, value] of Object.entries(signal.annotations))
      if (RUNBOOK_LINK.test(key))
        for (const document of index.documentsAt(value))
          if (!out.some((item) => item.id === document.id)) out.push(document);
  return out.slice(0, 3);
}

/** Resolved incidents that touched any of these services before `asOf`, newest first. */
async function pastIncidents(
  scope: StoreScope,
  incidentId: string,
  services: readonly string[],
  asOf: number,
  cache: AlertNameCache | undefined,
): Promise<PastIncident[]> {
  // The newest 200 incidents on these services that were over by asOf.
  const chosen = await scope.incidents.pastIncidents({ services, asOf, excludeId: incidentId, limit: 200 });
  const alerts = cache
    ? await cache.get(scope, chosen)
    : await scope.incidents.alertNames(chosen.map((incident) => incident.id));
  return chosen.map(({ signalCount: _count, ...incident }) => ({
    ...incident,
    alerts: alerts.get(incident.id) ?? [],
  }));
}

/** At most this many signals of the neighbourhood go into a bundle, newest first. */
const NEIGHBOUR_SIGNAL_LIMIT = 200;

/**
 * Firing signals on the neighbourhood's services during the look-back that this incident does not
 * hold, each marked with the incident that does (or null): an agent sees that a dependency is alerting
 * even when correlation kept it apart.
 */
async function signalsAround(
  scope: StoreScope,
  incident: Incident,
  own: readonly Signal[],
  services: readonly string[],
  asOf: number,
  lookbackMs: number,
): Promise<NonNullable<EvidenceBundle['neighbourSignals']>> {
  const mine = new Set(own.map((signal) => signal.id));
  const around = (
    await scope.signals.firingNear(
      services,
      incident.startedAt - lookbackMs,
      asOf,
      NEIGHBOUR_SIGNAL_LIMIT + mine.size,
    )
  )
    .filter((signal) => !mine.has(signal.id))
    .slice(0, NEIGHBOUR_SIGNAL_LIMIT);
  const holders = await scope.incidents.holders(around.map((signal) => signal.id));
  return around
    .map((signal) => ({ incidentId: holders.get(signal.id) ?? null, signal: asOfView(signal, asOf) }))
    .sort((a, b) => a.signal.startsAt - b.signal.startsAt || a.signal.id.localeCompare(b.signal.id));
}

/** A signal as it stood at `asOf`: a resolve that came later is not visible yet. */
function asOfView(signal: Signal, asOf: number): Signal {
  const resolvedLater = signal.status === 'resolved' && (signal.endsAt ?? 0) > asOf;
  return {
    ...signal,
    ...(resolvedLater ? { status: 'firing' as const, endsAt: null } : {}),
    lastSeenAt: Math.min(signal.lastSeenAt, asOf),
  };
}

async function topologyNeighbourhood(
  scope: StoreScope,
  affected: readonly string[],
  radius: number,
): Promise<EvidenceBundle['neighbourhood']> {
  const edges = await scope.services.edges();
  const out = new Map<string, EvidenceBundle['neighbourhood'][number]>();
  for (const service of affected) out.set(service, { service, distance: 0, relation: 'affected' });
  let frontier = [...affected];
  for (let distance = 1; distance <= radius && frontier.length > 0; distance += 1) {
    const next: string[] = [];
    for (const service of frontier) {
      for (const edge of edges) {
        const step =
          edge.service === service
            ? { name: edge.dependsOn, relation: 'dependency' as const }
            : edge.dependsOn === service
              ? { name: edge.service, relation: 'dependent' as const }
              : undefined;
        if (!step || out.has(step.name)) continue;
        out.set(step.name, { service: step.name, distance, relation: step.relation });
        next.push(step.name);
      }
    }
    frontier = next;
  }
  return [...out.values()].sort((a, b) => a.distance - b.distance || a.service.localeCompare(b.service));
}

export function buildEvidenceGraph(bundle: EvidenceBundle): EvidenceGraph {
  const nodes: EvidenceGraph['nodes'] = [];
  const edges: EvidenceGraph['edges'] = [];
  for (const entry of bundle.neighbourhood)
    nodes.push({ id: serviceEvidenceId(entry.service), kind: 'service', label: entry.service });
  const inBundle = new Set(bundle.neighbourhood.map((entry) => entry.service));
  for (const service of bundle.services) {
    for (const target of service.dependsOn) {
      if (inBundle.has(target))
        edges.push({
          from: serviceEvidenceId(service.name),
          to: serviceEvidenceId(target),
          kind: 'depends_on',
        });
    }
  }
  for (const signal of bundle.signals) {
    nodes.push({ id: signal.id, kind: 'signal', label: signal.title });
    edges.push({ from: signal.id, to: serviceEvidenceId(signal.service), kind: 'observed_on' });
  }
  for (const change of bundle.changes) {
    nodes.push({
      id: change.id,
      kind: 'change',
      label: `${change.kind} ${change.service}${change.versionTo ? ` → ${change.versionTo}` : ''}`,
    });
    edges.push({ from: change.id, to: serviceEvidenceId(change.service), kind: 'changed' });
  }
  return {
    id: newId('graph', bundle.asOf),
    bundleId: bundle.id,
    incidentId: bundle.incidentId,
    nodes,
    edges,
  };
}

/** Builds, stores and links a bundle and its graph, with an `evidence_frozen` event on the incident. */
export type FreezeOptions = BundleOptions & { principal: string };

export async function freezeEvidence(
  scope: StoreScope,
  incidentId: string,
  options: FreezeOptions,
): Promise<{ bundle: EvidenceBundle; graph: EvidenceGraph }> {
  const bundle = await buildEvidenceBundle(scope, incidentId, options);
  const graph = buildEvidenceGraph(bundle);
  await scope.evidence.insertBundle(bundle);
  await scope.evidence.insertGraph(graph);
  await appendIncidentEvents(scope, incidentId, [
    {
      type: 'evidence_frozen',
      principal: options.principal,
      at: bundle.asOf,
      data: { bundleId: bundle.id, hash: bundle.hash },
    },
  ]);
  return { bundle, graph };
}
