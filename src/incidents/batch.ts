import { type Blip, findBlip, type Member } from '../detect/blip.js';
import type { Attachment, IncidentTarget, NewIncident } from '../detect/correlate.js';
import { maxSeverity } from '../detect/rules.js';
import {
  connection,
  type DependencyGraph,
  dependsWithin,
  type GraphPath,
  neighbourhood,
  nextOrigin,
  ORIGIN_MIN_SEVERITY,
  originSiblingPath,
  pathTo,
  SIBLING_CHANGE_WINDOW_MS,
  siblingPath,
} from '../detect/topology.js';
import { type IncidentSeverity, newId, SEVERITY_RANK, type Severity } from '../domain/common.js';
import type { JoinReason } from '../domain/incident.js';
import { chunk } from '../store/repositories/base.js';
import type { EventDraft } from '../store/repositories/incidents.js';
import { chainEvents, type IncidentRow, openIncidentRow } from '../store/repositories/incidents.js';
import type { StoreScope } from '../store/store.js';
import { planTransition } from './lifecycle.js';

/** What the topology rule needs while a batch is correlated. */
export interface TopologySettings {
  rule: string;
  graph: DependencyGraph;
  hops: number;
  windowMs: number;
}

export interface BatchContext {
  principal: string;
  now: number;
  /** A firing signal re-opens a RESOLVED incident with its correlation key within this many ms. */
  reopenGraceMs: number;
  /** Move an incident to RESOLVED when its last firing signal resolves. */
  autoResolve: boolean;
  topology: TopologySettings | undefined;
}

/** One incident's pending changes within a batch. `row` is the current state, edited in place. */
interface IncidentWork {
  row: IncidentRow;
  created: boolean;
  dirty: boolean;
  /** Events that open the batch's story for this incident (created, reopened), then the rest. */
  leading: EventDraft[];
  events: EventDraft[];
  /** Signals to link, with what each contributes. */
  attach: Map<string, Attachment>;
  /** Signals leaving this incident (merged away). */
  detach: string[];
  fresh: string[];
  /** The incident's services, with those joining in this batch. */
  services: Set<string>;
  /** Set when this batch found every signal resolved, so fresh links do not count as re-firing. */
  resolvedNow: boolean;
  /** Whether the incident was active before this batch touched it. */
  wasActive: boolean;
  /** Set when what the incident is changed enough to investigate it again. */
  material: boolean;
  /** Set when services left the incident, so its service links are rewritten. */
  servicesShrank: boolean;
}

const SERVICES_SUFFIX = / \(\+\d+ services?\)$/;
const RELATION_RANK = { same: 0, caller: 1, dependency: 2, sibling: 3 } as const;

function compareRanks(left: readonly number[], right: readonly number[]): number {
  for (let index = 0; index < left.length; index += 1)
    if (left[index] !== right[index]) return left[index]! - right[index]!;
  return 0;
}

/**
 * The caller path from `service` through one of the dependencies its route labels name (`via`) to
 * `services`, the shortest; null when no named dependency is, or calls into, one of them.
 */
function routedPath(
  topology: TopologySettings,
  service: string,
  via: readonly string[],
  services: ReadonlySet<string>,
): GraphPath | null {
  let best: GraphPath | null = null;
  for (const dependency of via) {
    const path = pathTo(topology.graph, dependency, services, topology.hops - 1);
    if (!path || (path.relation !== 'same' && path.relation !== 'caller')) continue;
    const full = [service, ...path.path];
    if (!best || full.length < best.path.length) best = { relation: 'caller', path: full };
  }
  return best;
}

function siblingJoin(
  topology: TopologySettings,
  service: string,
  services: ReadonlySet<string>,
  changed: (shared: string) => string | undefined,
): GraphPath | null {
  const sibling = siblingPath(topology.graph, service, services, topology.hops, changed);
  return sibling && { relation: 'sibling', ...sibling };
}

function originSibling(
  topology: TopologySettings,
  service: string,
  origin: string | null,
  services: ReadonlySet<string>,
): GraphPath | null {
  const sibling = originSiblingPath(topology.graph, service, origin, services);
  return sibling && { relation: 'sibling', ...sibling };
}

/**
 * The incidents one ingest batch touches, loaded in bulk and written back in bulk: creation,
 * escalation, re-opening, signal links with the reason for each, the origin as signals join, and
 * merges of incidents that prove to be one outage.
 */
export class IncidentBatch implements IncidentTarget {
  readonly #scope: StoreScope;
  readonly #context: BatchContext;
  readonly #work = new Map<string, IncidentWork>();
  /** environment → service → changes that started recently (loadNear), for sibling joins. */
  readonly #changes = new Map<string, Map<string, { id: string; startedAt: number }[]>>();
  /** Correlation key → active incident id, or null when known to have none. */
  readonly #activeByKey = new Map<string, string | null>();
  /** Incidents this batch re-opened. */
  readonly reopened: string[] = [];
  /** Incidents this batch created for blips it split off (resolved already: not to investigate). */
  readonly blips: string[] = [];

  constructor(scope: StoreScope, context: BatchContext) {
    this.#scope = scope;
    this.#context = context;
  }

  get(id: string): IncidentWork {
    const entry = this.#work.get(id);
    if (!entry) throw new Error(`incident ${id} was not loaded`);
    return entry;
  }

  #adopt(row: IncidentRow): IncidentWork {
    const existing = this.#work.get(row.id);
    if (existing) return existing;
    const entry: IncidentWork = {
      row,
      created: false,
      dirty: false,
      leading: [],
      events: [],
      attach: new Map(),
      detach: [],
      fresh: [],
      services: new Set(JSON.parse(row.services) as string[]),
      resolvedNow: false,
      wasActive: row.active_key !== null,
      material: false,
      servicesShrank: false,
    };
    this.#work.set(row.id, entry);
    if (row.active_key !== null) this.#activeByKey.set(row.active_key, row.id);
    return entry;
  }

  /** Loads incidents by id (locked on PostgreSQL), skipping those already loaded. */
  async load(ids: readonly string[]): Promise<void> {
    const missing = [...new Set(ids)].filter((id) => !this.#work.has(id));
    for (const row of await this.#scope.incidents.getRows(missing, { forUpdate: true })) this.#adopt(row);
  }

  /** Learns which correlation keys have an active incident, loading those incidents. */
  async loadActive(keys: readonly string[]): Promise<void> {
    const unknown = [...new Set(keys)].filter((key) => !this.#activeByKey.has(key));
    if (unknown.length === 0) return;
    const rows = await this.#scope.incidents.findActive(unknown);
    for (const key of unknown) this.#activeByKey.set(key, null);
    await this.load(rows.map((row) => row.id));
  }

  /** Loads the active incidents of an environment that hold any of `services` and are still in window. */
  async loadNear(environment: string, services: readonly string[], since: number): Promise<void> {
    const known = new Set(this.#work.keys());
    for (const row of await this.#scope.incidents.activeNear(environment, services, since)) {
      if (!known.has(row.id)) this.#adopt(row);
    }
    const changes = this.#changes.get(environment) ?? new Map<string, { id: string; startedAt: number }[]>();
    this.#changes.set(environment, changes);
    const loaded = new Set([...changes.values()].flat().map((change) => change.id));
    const recent = [];
    for (const part of chunk([...new Set(services)], 500))
      recent.push(
        ...(await this.#scope.changes.list({
          services: part,
          environment,
          since: since - SIBLING_CHANGE_WINDOW_MS,
        })),
      );
    for (const change of recent) {
      if (change.kind === 'rollback' || loaded.has(change.id)) continue;
      changes.set(change.service, [...(changes.get(change.service) ?? []), change]);
    }
    // Incidents on the other callers of a dependency that just changed may take these signals too.
    const topology = this.#context.topology;
    if (!topology) return;
    const siblings = new Set<string>();
    for (const changed of new Set(recent.map((change) => change.service)))
      for (const service of neighbourhood(topology.graph, changed, topology.hops - 1, 'callers'))
        if (!services.includes(service)) siblings.add(service);
    if (siblings.size === 0) return;
    for (const row of await this.#scope.incidents.activeNear(environment, [...siblings], since)) {
      if (!this.#work.has(row.id)) this.#adopt(row);
    }
  }

  /** The most recent change on `service` in `environment` that started between `from` and `to`. */
  #recentChange(environment: string, service: string, from: number, to: number): string | undefined {
    const changes = this.#changes.get(environment)?.get(service) ?? [];
    return changes
      .filter((change) => change.startedAt >= from && change.startedAt <= to)
      .sort((a, b) => b.startedAt - a.startedAt || a.id.localeCompare(b.id))[0]?.id;
  }

  /**
   * Whether the incident's origin changed within the window before the incident started: that change
   * explains the origin's failure on its own, so a silent dependency it shares with another failing
   * service explains nothing (originSiblingPath), just as a change on the other service rules it out.
   * It reads the changes loadNear loaded (from an hour before the joining signal's window), so an
   * incident that started longer ago than that counts as unchanged.
   */
  #originChanged(row: IncidentRow): boolean {
    const topology = this.#context.topology;
    if (!topology || row.root_service === null || row.environment === null) return false;
    return (
      this.#recentChange(
        row.environment,
        row.root_service,
        row.started_at - topology.windowMs,
        row.started_at,
      ) !== undefined
    );
  }

  activeFor(key: string): string | undefined {
    return this.#activeByKey.get(key) ?? undefined;
  }

  /**
   * The active incident a signal on `service` joins by topology, with the path that connects them.
   * Only incidents of the same environment whose signals started within the window around `at`
   * qualify. A caller of the incident's services joins as a symptom; a service they call joins only
   * when the incident's origin depends on it (it may be the cause): a dependency of a mere symptom,
   * such as a busy database behind the gateway, is another problem. A service that only shares a
   * dependency with the incident, or is such a dependency of a symptom, joins when that dependency
   * changed shortly before and the incident's origin is or reaches it (siblingPath), or, when
   * `severity` is an error or worse and neither the service nor the incident's origin changed within
   * the window before it failed, when it shares a silent dependency with the incident's origin
   * (originSiblingPath).
   * Ranked by path length, then a symptom before a cause before a sibling, then the incident whose last
   * signal is the most recent (a fault shows in its callers within minutes: of two incidents within
   * reach, the one still spreading is the likelier cause), then the oldest.
   *
   * `via`: the dependencies the signal's route labels name (namedDependencies). When set, the signal is
   * about that path, not its own service: it joins an incident its named dependency reaches, through
   * that dependency, and holding the service already is no reason to join. When no incident is
   * reachable that way, the signal is ranked as if it named nothing.
   */
  topologyTarget(
    service: string,
    environment: string,
    at: number,
    via: readonly string[] = [],
    severity?: Severity,
  ): { id: string; path: GraphPath } | undefined {
    const topology = this.#context.topology;
    if (!topology) return undefined;
    const routed = via.length > 0 ? this.#bestTarget(service, environment, at, via) : undefined;
    return routed ?? this.#bestTarget(service, environment, at, [], severity);
  }

  #bestTarget(
    service: string,
    environment: string,
    at: number,
    via: readonly string[],
    severity?: Severity,
  ): { id: string; path: GraphPath } | undefined {
    const topology = this.#context.topology!;
    // An origin sibling (originSiblingPath) must be an error or worse, and must not have changed itself
    // within the window before its signal: its own change would explain its failure on its own.
    const mayBeOriginSibling =
      severity !== undefined &&
      SEVERITY_RANK[severity] >= SEVERITY_RANK[ORIGIN_MIN_SEVERITY] &&
      this.#recentChange(environment, service, at - topology.windowMs, at) === undefined;
    let best: { id: string; path: GraphPath; rank: readonly number[] } | undefined;
    for (const entry of this.#work.values()) {
      const { row } = entry;
      if (row.active_key === null || row.environment !== environment) continue;
      const last = row.last_signal_at ?? row.started_at;
      if (at < row.started_at - topology.windowMs || at > last + topology.windowMs) continue;
      const direct =
        via.length > 0
          ? routedPath(topology, service, via, entry.services)
          : pathTo(topology.graph, service, entry.services, topology.hops);
      // A dependency of a mere symptom is another problem, unless the sibling rules below join it.
      const cause =
        direct?.relation === 'dependency' &&
        row.root_service !== null &&
        !dependsWithin(topology.graph, row.root_service, service, topology.hops, entry.services)
          ? null
          : direct;
      const path =
        cause ??
        (via.length > 0
          ? null
          : (siblingJoin(topology, service, entry.services, (shared) => {
              const change = this.#recentChange(
                environment,
                shared,
                row.started_at - SIBLING_CHANGE_WINDOW_MS,
                at,
              );
              // A change on a dependency of a mere symptom explains neither the incident nor its symptoms.
              if (change === undefined || row.root_service === null || row.root_service === shared)
                return change;
              return dependsWithin(topology.graph, row.root_service, shared, topology.hops, entry.services)
                ? change
                : undefined;
            }) ??
            (mayBeOriginSibling && !this.#originChanged(row)
              ? originSibling(topology, service, row.root_service, entry.services)
              : null)));
      if (!path) continue;
      const rank = [path.path.length, RELATION_RANK[path.relation], -last, row.detected_at];
      const order = best ? compareRanks(rank, best.rank) : -1;
      if (order < 0 || (order === 0 && row.id < best!.id)) best = { id: row.id, path, rank };
    }
    return best && { id: best.id, path: best.path };
  }

  describe(id: string): { environment: string | null; startedAt: number; services: readonly string[] } {
    const { row, services } = this.get(id);
    return { environment: row.environment, startedAt: row.started_at, services: [...services] };
  }

  /**
   * Links a signal to an incident, and moves the incident's origin when the signal is on a service
   * the current origin depends on (src/detect/topology.ts nextOrigin). Services that join mark the
   * incident for another investigation.
   */
  join(id: string, signalId: string, attachment: Attachment): void {
    const entry = this.get(id);
    if (entry.attach.has(signalId)) return;
    entry.attach.set(signalId, attachment);
    const { row } = entry;
    row.last_signal_at = Math.max(row.last_signal_at ?? row.started_at, attachment.at);
    if (!entry.services.has(attachment.service)) {
      entry.services.add(attachment.service);
      if (!entry.created) entry.material = true;
    }
    const topology = this.#context.topology;
    const current = row.root_service;
    const move = topology
      ? nextOrigin(topology.graph, current, attachment, topology.hops, entry.services)
      : { origin: current ?? attachment.service };
    if (move.origin !== current) this.#moveOrigin(entry, move.origin, attachment, move.path, signalId);
  }

  #moveOrigin(
    entry: IncidentWork,
    origin: string,
    because: { title: string } | undefined,
    path: string[] | undefined,
    signalId: string | undefined,
  ): void {
    const { row } = entry;
    const from = row.root_service;
    row.root_service = origin;
    entry.dirty = true;
    if (from === null || entry.created) {
      if (because && entry.created && from !== null) row.title = `${origin}: ${because.title}`.slice(0, 500);
      return;
    }
    if (because) row.title = `${origin}: ${because.title}`.slice(0, 500);
    entry.material = true;
    entry.events.push({
      type: 'origin_moved',
      principal: 'system:correlate',
      at: this.#context.now,
      data: { from, to: origin, ...(path ? { path } : {}), ...(signalId ? { signalId } : {}) },
    });
  }

  /** Re-opens the incident that most recently resolved for this key, if within the grace window. */
  async reopen(key: string): Promise<string | undefined> {
    const { reopenGraceMs } = this.#context;
    if (reopenGraceMs <= 0) return undefined;
    const resolved = await this.#scope.incidents.findRecentlyResolved(key, this.#context.now - reopenGraceMs);
    if (!resolved) return undefined;
    await this.load([resolved.id]);
    const entry = this.get(resolved.id);
    const plan = planTransition(entry.row, 'OPEN', {
      principal: 'system:reopen',
      at: this.#context.now,
      reason: 'a new signal fired within the re-open grace window',
    });
    Object.assign(entry.row, plan.values, { signals_resolved_at: null });
    entry.leading.push({ ...plan.event, type: 'reopened' });
    entry.dirty = true;
    this.reopened.push(entry.row.id);
    this.#activeByKey.set(key, entry.row.id);
    return entry.row.id;
  }

  create(spec: NewIncident): string {
    const { now, principal } = this.#context;
    const id = newId('incident', now);
    const row = openIncidentRow({
      id,
      title: spec.title,
      severity: spec.severity,
      environment: spec.environment,
      correlationKey: spec.correlationKey,
      ruleId: spec.rule.id,
      startedAt: spec.startedAt,
      at: now,
    });

    const entry = this.#adopt(row);
    entry.created = true;
    entry.dirty = true;
    entry.leading.push({
      type: 'created',
      principal,
      at: now,
      data: {
        title: spec.title,
        severity: spec.severity,
        rule: spec.rule.name,
        correlationKey: spec.correlationKey,
      },
    });
    return id;
  }

  escalate(id: string, severity: IncidentSeverity, ruleName: string): void {
    const entry = this.get(id);
    const current = entry.row.severity as IncidentSeverity;
    const next = maxSeverity(current, severity);
    if (next === current) return;
    entry.row.severity = next;
    entry.dirty = true;
    if (!entry.created) entry.material = true;
    entry.events.push({
      type: 'severity_changed',
      principal: this.#context.principal,
      at: this.#context.now,
      data: { from: current, to: next, rule: ruleName },
    });
  }

  /**
   * Merges incidents this batch proved to be one outage: for each incident that signals joined, any
   * other active incident of its environment whose origin depends on its origin, or the other way
   * round (src/detect/topology.ts connection). The younger one's signals move to the older, the
   * younger is closed with a pointer, and both timelines say so. An incident holding a signal a human
   * placed is never merged automatically.
   */
  async mergeConnected(): Promise<void> {
    const topology = this.#context.topology;
    if (!topology) return;
    const merged = new Set<string>();
    for (const entry of [...this.#work.values()]) {
      if (entry.attach.size === 0 || merged.has(entry.row.id) || entry.row.active_key === null) continue;
      for (const other of [...this.#work.values()]) {
        const [a, b] = [entry.row, other.row];
        if (other === entry || merged.has(b.id) || b.active_key === null || b.environment !== a.environment)
          continue;
        if (a.root_service === null || b.root_service === null) continue;
        // Their activity must overlap, give or take the window.
        const [lastA, lastB] = [a.last_signal_at ?? a.started_at, b.last_signal_at ?? b.started_at];
        if (lastA + topology.windowMs < b.started_at || lastB + topology.windowMs < a.started_at) continue;
        const link = connection(
          topology.graph,
          { id: a.id, origin: a.root_service, services: [...entry.services] },
          { id: b.id, origin: b.root_service, services: [...other.services] },
          topology.hops,
        );
        if (!link) continue;
        const [older, younger] =
          a.detected_at < b.detected_at || (a.detected_at === b.detected_at && a.id < b.id)
            ? [entry, other]
            : [other, entry];
        if (!(await this.#mergeable(younger))) continue;
        await this.#merge(older, younger, link.deeper.origin, link.path);
        merged.add(younger.row.id);
        if (younger === entry) break;
      }
    }
  }

  async #mergeable(entry: IncidentWork): Promise<boolean> {
    if (entry.created) return true;
    const links = await this.#scope.incidents.signalLinks(entry.row.id);
    return !links.some((link) => link.pinned);
  }

  async #merge(older: IncidentWork, younger: IncidentWork, origin: string, path: string[]): Promise<void> {
    const { now } = this.#context;
    const principal = 'system:correlate';
    const stored = younger.created ? [] : await this.#scope.incidents.signalLinks(younger.row.id);
    const storedSignals = await this.#scope.signals.getMany(stored.map((link) => link.signalId));
    const moving = new Map<string, Attachment>();
    for (const signal of storedSignals) {
      moving.set(signal.id, {
        service: signal.service,
        at: signal.startsAt,
        severity: signal.severity,
        title: signal.title,
        reason: { kind: 'merge', from: younger.row.id, principal },
      });
    }
    for (const [signalId, attachment] of younger.attach)
      moving.set(signalId, { ...attachment, reason: { kind: 'merge', from: younger.row.id, principal } });
    younger.attach.clear();
    younger.detach.push(...stored.map((link) => link.signalId));
    for (const [signalId, attachment] of moving) {
      older.attach.set(signalId, attachment);
      older.services.add(attachment.service);
      older.row.last_signal_at = Math.max(older.row.last_signal_at ?? older.row.started_at, attachment.at);
    }
    older.row.started_at = Math.min(older.row.started_at, younger.row.started_at);
    this.escalate(older.row.id, younger.row.severity as IncidentSeverity, `merge of ${younger.row.id}`);
    if (origin !== older.row.root_service) {
      const title = younger.row.title.startsWith(`${origin}: `)
        ? { title: younger.row.title.slice(origin.length + 2) }
        : undefined;
      this.#moveOrigin(older, origin, title, path, undefined);
    }
    older.material = true;
    older.dirty = true;
    older.events.push({
      type: 'merged_from',
      principal,
      at: now,
      data: { incidentId: younger.row.id, signals: moving.size, path },
    });
    const { row } = younger;
    Object.assign(row, {
      status: 'CLOSED',
      closed_at: now,
      active_key: null,
      merged_into: older.row.id,
      signal_count: 0,
    });
    younger.dirty = true;
    younger.material = false;
    younger.events.push({
      type: 'merged_into',
      principal,
      at: now,
      data: { incidentId: older.row.id, signals: moving.size, path },
    });
  }

  /** Writes the signal links gathered so far and notes which were new. */
  async attach(): Promise<void> {
    const links: { incidentId: string; signalId: string; reason: JoinReason }[] = [];
    for (const entry of this.#work.values()) {
      if (entry.detach.length > 0) await this.#scope.incidents.detachSignals(entry.row.id, entry.detach);
      for (const [signalId, attachment] of entry.attach)
        links.push({ incidentId: entry.row.id, signalId, reason: attachment.reason });
    }
    for (const link of await this.#scope.incidents.attachSignalsMany(links, this.#context.now)) {
      this.get(link.incidentId).fresh.push(link.signalId);
    }
  }

  /**
   * Splits off each blip on the incidents whose signals just resolved (src/detect/blip.ts findBlip): a
   * dependency that joined while the incident was open, recovered within minutes and was outlasted by
   * failures that began before it. Its signals move, with those that joined through it, to a new
   * incident of their own; the origin moves back when it was the blip. Both timelines say why.
   * Returns the new incidents, so their resolution is noted too.
   */
  async detachBlips(incidentIds: readonly string[]): Promise<string[]> {
    const topology = this.#context.topology;
    if (!topology || incidentIds.length === 0) return [];
    await this.load(incidentIds);
    const created: string[] = [];
    // Only a service that joined as a possible cause can be a blip, and only while a member on another
    // service outlasts it (findBlip): an incident of one service has none, and most incidents hold no
    // such join. Neither their links nor their signals are read.
    const candidates = await this.#scope.incidents.withDependencyJoins(
      incidentIds.filter((id) => {
        const entry = this.get(id);
        return !entry.created && entry.row.active_key !== null && entry.services.size > 1;
      }),
    );
    for (const id of new Set(incidentIds)) {
      const entry = this.get(id);
      if (!candidates.has(id) || entry.created || entry.row.active_key === null) continue;
      const links = await this.#scope.incidents.signalLinks(id);
      const signals = new Map(
        (await this.#scope.signals.getMany(links.map((link) => link.signalId))).map((signal) => [
          signal.id,
          signal,
        ]),
      );
      let members: Member[] = links.flatMap((link) => {
        const signal = signals.get(link.signalId);
        return signal
          ? [
              {
                signalId: signal.id,
                service: signal.service,
                startsAt: signal.startsAt,
                endsAt: signal.status === 'resolved' ? (signal.endsAt ?? signal.lastSeenAt) : null,
                reason: link.reason,
                pinned: link.pinned,
              },
            ]
          : [];
      });
      for (let blip = findBlip(members); blip; blip = findBlip(members)) {
        const moving = new Set(blip.signalIds);
        const staying = members.filter((member) => !moving.has(member.signalId));
        created.push(await this.#splitBlip(entry, blip, members, staying, signals));
        members = staying;
      }
    }
    return created;
  }

  async #splitBlip(
    entry: IncidentWork,
    blip: Blip,
    members: readonly Member[],
    staying: readonly Member[],
    signals: ReadonlyMap<string, { title: string; severity: Attachment['severity'] }>,
  ): Promise<string> {
    const { now } = this.#context;
    const topology = this.#context.topology!;
    const principal = 'system:correlate';
    const { row } = entry;
    const minutes = Math.round((blip.endedAt - blip.startedAt) / 6_000) / 10;
    const why =
      `${blip.service} recovered within ${minutes} min while ${blip.outlasting}, failing since before it ` +
      'started, kept failing: a blip during the incident, not its cause';
    const moving = new Set(blip.signalIds);
    const leaving = members.filter((member) => moving.has(member.signalId));
    const first = leaving.find((member) => member.service === blip.service)!;
    const id = newId('incident', now);
    const split = this.#adopt({
      ...openIncidentRow({
        id,
        title: `${blip.service}: ${signals.get(first.signalId)?.title ?? 'blip'}`,
        // The blip is over when it is split off: kept on record at the lowest severity.
        severity: 'SEV4',
        environment: row.environment,
        correlationKey: `split:${id}`,
        ruleId: null,
        startedAt: blip.startedAt,
        at: now,
      }),
      root_service: blip.service,
      last_signal_at: Math.max(...leaving.map((member) => member.startsAt)),
      signal_count: leaving.length,
    });
    split.created = true;
    split.dirty = true;
    // Over when it is split off: resolved at once, so it is never active to join or merge into again.
    const over = planTransition(split.row, 'RESOLVED', {
      principal,
      at: now,
      reason: 'a blip during another incident, over when split off',
    });
    Object.assign(split.row, over.values);
    split.events.push(over.event);
    this.blips.push(id);
    split.services = new Set(leaving.map((member) => member.service));
    split.row.services = JSON.stringify([...split.services].sort());
    split.servicesShrank = true;
    split.leading.push(
      {
        type: 'created',
        principal,
        at: now,
        data: { title: split.row.title, severity: split.row.severity, splitFrom: row.id },
      },
      {
        type: 'split_from',
        principal,
        at: now,
        data: { incidentId: row.id, signalIds: blip.signalIds, reason: why },
      },
    );
    await this.#scope.incidents.detachSignals(row.id, blip.signalIds);
    await this.#scope.incidents.attachSignalsMany(
      blip.signalIds.map((signalId) => ({
        incidentId: id,
        signalId,
        reason: { kind: 'split', from: row.id, principal, reason: why },
      })),
      now,
    );

    entry.services = new Set(staying.map((member) => member.service));
    entry.servicesShrank = true;
    row.services = JSON.stringify([...entry.services].sort());
    row.signal_count = Math.max(0, row.signal_count - leaving.length);
    row.last_signal_at = Math.max(...staying.map((member) => member.startsAt));
    entry.material = true;
    entry.dirty = true;
    entry.events.push({
      type: 'signals_split',
      principal,
      at: now,
      data: { incidentId: id, signalIds: blip.signalIds, reason: why },
    });
    // The origin moves back only when it left with the blip (an origin an investigation inferred, on a
    // service that never alerted, stays).
    const root = row.root_service;
    if (root !== null && leaving.some((member) => member.service === root) && !entry.services.has(root)) {
      // The origin was the blip or rode on it: the deepest of what stays, replayed in start order.
      let origin: string | null = null;
      const alerting = new Set<string>();
      for (const member of [...staying].sort(
        (a, b) => a.startsAt - b.startsAt || a.signalId.localeCompare(b.signalId),
      )) {
        alerting.add(member.service);
        const signal = signals.get(member.signalId);
        origin = nextOrigin(
          topology.graph,
          origin,
          { service: member.service, severity: signal?.severity ?? 'error' },
          topology.hops,
          alerting,
        ).origin;
      }
      const title = staying.find((member) => member.service === origin);
      this.#moveOrigin(entry, origin!, title && signals.get(title.signalId), undefined, undefined);
    }
    // The title counts the services that are left.
    const base = row.title.replace(SERVICES_SUFFIX, '');
    const others = entry.services.size - 1;
    row.title = (others > 0 ? `${base} (+${others} service${others === 1 ? '' : 's'})` : base).slice(0, 500);
    return id;
  }

  /** Marks incidents whose every signal has now resolved, and auto-resolves them when configured. */
  async noteResolutions(incidentIds: readonly string[]): Promise<void> {
    if (incidentIds.length === 0) return;
    await this.load(incidentIds);
    const candidates = [...new Set(incidentIds)].filter(
      (id) => this.get(id).row.signals_resolved_at === null,
    );
    const stillFiring = await this.#scope.incidents.withFiringSignals(candidates);
    const { now, principal, autoResolve } = this.#context;
    for (const id of candidates) {
      const entry = this.get(id);
      if (stillFiring.has(id)) continue;
      entry.row.signals_resolved_at = now;
      entry.resolvedNow = true;
      entry.events.push({ type: 'signals_resolved', principal, at: now, data: {} });
      entry.dirty = true;
      if (autoResolve && entry.row.status !== 'RESOLVED') {
        const plan = planTransition(entry.row, 'RESOLVED', {
          principal: 'system:auto-resolve',
          at: now,
          reason: 'all signals resolved',
        });
        Object.assign(entry.row, plan.values);
        entry.events.push(plan.event);
      }
    }
  }

  async flush(): Promise<{ created: string[]; updated: string[]; changed: string[] }> {
    const { now } = this.#context;
    const created: string[] = [];
    const updated: string[] = [];
    const changed: string[] = [];
    const events = [];
    const serviceLinks: { incidentId: string; service: string }[] = [];
    const rows: IncidentRow[] = [];
    const deactivated: string[] = [];
    for (const entry of this.#work.values()) {
      const { row } = entry;
      const attachedEvents: EventDraft[] = [];
      if (entry.detach.length > 0) entry.dirty = true;
      if (entry.fresh.length > 0) {
        for (const signalId of entry.fresh) {
          const contribution = entry.attach.get(signalId)!;
          entry.services.add(contribution.service);
          row.started_at = Math.min(row.started_at, contribution.at);
        }
        const sorted = [...entry.services].sort();
        for (const service of sorted) serviceLinks.push({ incidentId: row.id, service });
        row.services = JSON.stringify(sorted);
        row.signal_count += entry.fresh.length;
        if (sorted.length > 1 && row.root_service !== null && !entry.created) {
          const base = row.title.replace(SERVICES_SUFFIX, '');
          row.title = `${base} (+${sorted.length - 1} service${sorted.length === 2 ? '' : 's'})`.slice(
            0,
            500,
          );
        }
        if (row.signals_resolved_at !== null && !entry.resolvedNow) {
          row.signals_resolved_at = null;
          attachedEvents.push({
            type: 'signals_refiring',
            principal: 'system',
            at: now,
            data: { signalIds: entry.fresh },
          });
        }
        // One event per batch, not per signal: a storm must not flood the timeline. Each signal's
        // reason is kept with its link; the event names the topology joins so the timeline shows them.
        const joins = entry.fresh.flatMap((signalId) => {
          const reason = entry.attach.get(signalId)!.reason;
          return reason.kind === 'topology'
            ? [{ signalId, relation: reason.relation, path: reason.path }]
            : [];
        });
        attachedEvents.unshift({
          type: 'signal_attached',
          principal: 'system',
          at: now,
          data: { signalIds: entry.fresh, count: entry.fresh.length, ...(joins.length ? { joins } : {}) },
        });
        entry.dirty = true;
      }
      if (!entry.dirty) continue;
      const chain = chainEvents(row, [...entry.leading, ...attachedEvents, ...entry.events]);
      events.push(...chain.events);
      row.last_event_seq = chain.lastSeq;
      row.last_event_hash = chain.lastHash;
      row.updated_at = now;
      rows.push(row);
      if (entry.wasActive && row.active_key === null) deactivated.push(row.id);
      (entry.created ? created : updated).push(row.id);
      if (entry.material && !entry.created && row.active_key !== null) changed.push(row.id);
    }
    await this.#scope.incidents.upsertRows(rows);
    await this.#scope.incidents.insertEvents(events);
    for (const entry of this.#work.values())
      if (entry.servicesShrank)
        await this.#scope.incidents.replaceServices(entry.row.id, [...entry.services].sort());
    await this.#scope.incidents.addServicesMany(serviceLinks);
    for (const id of deactivated) await this.#scope.detections.closeCandidatesOfIncident(id);
    return { created, updated, changed };
  }
}
