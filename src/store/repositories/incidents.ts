import { type Selectable, sql } from 'kysely';
import type { IncidentSeverity } from '../../domain/common.js';
import { newId } from '../../domain/common.js';
import type { PastIncident } from '../../domain/evidence.js';
import type {
  Incident,
  IncidentEvent,
  IncidentEventType,
  IncidentStatus,
  JoinReason,
} from '../../domain/incident.js';
import { canonicalJson, sha256 } from '../../util/hash.js';
import type { IncidentsTable } from '../schema.js';
import { chunk, fromJson, type RepositoryContext, seal, toJson, unseal } from './base.js';
import { notificationRepository } from './notifications.js';

export const GENESIS_HASH = '0'.repeat(64);

export type IncidentRow = Selectable<IncidentsTable>;

/** A new OPEN incident, active for its correlation key, with no signal, event or origin yet. */
export function openIncidentRow(spec: {
  id: string;
  title: string;
  severity: IncidentSeverity;
  environment: string | null;
  correlationKey: string;
  ruleId: string | null;
  startedAt: number;
  at: number;
}): IncidentRow {
  return {
    id: spec.id,
    title: spec.title.slice(0, 500),
    severity: spec.severity,
    status: 'OPEN',
    services: '[]',
    environment: spec.environment,
    correlation_key: spec.correlationKey,
    active_key: spec.correlationKey,
    rule_id: spec.ruleId,
    started_at: spec.startedAt,
    detected_at: spec.at,
    acknowledged_at: null,
    mitigated_at: null,
    resolved_at: null,
    closed_at: null,
    signals_resolved_at: null,
    root_cause: null,
    resolution: null,
    root_service: null,
    merged_into: null,
    last_signal_at: spec.startedAt,
    signal_count: 0,
    last_event_seq: 0,
    last_event_hash: GENESIS_HASH,
    created_at: spec.at,
    updated_at: spec.at,
  };
}

export function incidentFromRow(row: IncidentRow): Incident {
  return {
    id: row.id,
    title: row.title,
    severity: row.severity as IncidentSeverity,
    status: row.status as IncidentStatus,
    services: fromJson(row.services, []),
    environment: row.environment,
    correlationKey: row.correlation_key,
    ruleId: row.rule_id,
    startedAt: row.started_at,
    detectedAt: row.detected_at,
    acknowledgedAt: row.acknowledged_at,
    mitigatedAt: row.mitigated_at,
    resolvedAt: row.resolved_at,
    closedAt: row.closed_at,
    signalsResolvedAt: row.signals_resolved_at,
    rootCause: row.root_cause,
    resolution: row.resolution,
    rootService: row.root_service,
    mergedInto: row.merged_into,
    signalCount: row.signal_count,
    updatedAt: row.updated_at,
  };
}

export interface SignalLink {
  signalId: string;
  attachedAt: number;
  reason: JoinReason | null;
  pinned: boolean;
}

export interface EventDraft {
  type: IncidentEventType;
  principal: string;
  at: number;
  data?: Record<string, unknown>;
}

/** The hash that chains an event to its predecessor: any edit to a stored event breaks every later link. */
export function eventHash(event: Omit<IncidentEvent, 'hash'>): string {
  const { id, incidentId, seq, type, principal, at, data, prevHash } = event;
  return sha256(canonicalJson({ id, incidentId, seq, type, principal, at, data, prevHash }));
}

/** Links drafts onto an incident's chain; pure, so a batch can chain many incidents and insert once. */
export function chainEvents(
  incident: Pick<IncidentRow, 'id' | 'last_event_seq' | 'last_event_hash'>,
  drafts: readonly EventDraft[],
): { lastSeq: number; lastHash: string; events: IncidentEvent[] } {
  let seq = incident.last_event_seq;
  let prevHash = incident.last_event_hash;
  const events: IncidentEvent[] = [];
  for (const draft of drafts) {
    seq += 1;
    const base = {
      id: newId('event', draft.at),
      incidentId: incident.id,
      seq,
      type: draft.type,
      principal: draft.principal,
      at: draft.at,
      data: draft.data ?? {},
      prevHash,
    };
    const hash = eventHash(base);
    events.push({ ...base, hash });
    prevHash = hash;
  }
  return { lastSeq: seq, lastHash: prevHash, events };
}

export interface IncidentListFilter {
  status?: IncidentStatus[];
  severity?: IncidentSeverity[];
  /** Incidents touching this service, or any of these services. */
  service?: string | readonly string[];
  /**
   * Free text: incidents whose title or one of whose services contains it, ignoring case (ASCII case
   * on SQLite, whose lower() folds only A-Z), or one of whose notes does (among the NOTE_SEARCH_LIMIT
   * most recent notes; notes are encrypted at rest, so they are read and matched here, not in SQL).
   */
  text?: string;
  since?: number;
  until?: number;
  /** Opaque cursor from a previous page: `<detected_at>:<id>`. */
  cursor?: { detectedAt: number; id: string };
  limit: number;
}

/** How many of the most recent notes a free-text search reads (each is decrypted to be matched). */
export const NOTE_SEARCH_LIMIT = 10_000;

export function incidentRepository(context: RepositoryContext) {
  const { db, dialect } = context;
  const outbox = notificationRepository(context);
  /**
   * Incidents with a note containing `text` (lower case): the NOTE_SEARCH_LIMIT most recent notes,
   * read newest first and matched once decrypted (they are encrypted at rest, so SQL cannot match them).
   */
  const notedIncidents = async (text: string): Promise<string[]> => {
    const notes = await db
      .selectFrom('incident_events')
      .select(['incident_id', 'data'])
      .where('type', '=', 'note_added')
      .orderBy('at', 'desc')
      .limit(NOTE_SEARCH_LIMIT)
      .execute();
    const noted = new Set<string>();
    for (const note of notes) {
      if (noted.has(note.incident_id)) continue;
      const data = fromJson<{ text?: unknown }>(unseal(context, note.data, 'incident_events.data'), {});
      if (typeof data.text === 'string' && data.text.toLowerCase().includes(text))
        noted.add(note.incident_id);
    }
    return [...noted];
  };
  return {
    async insert(row: IncidentRow): Promise<void> {
      await db.insertInto('incidents').values(row).execute();
    },

    async getRow(id: string, options: { forUpdate?: boolean } = {}): Promise<IncidentRow | undefined> {
      let query = db.selectFrom('incidents').selectAll().where('id', '=', id);
      // SQLite has no row locks: its transactions already hold the database write lock.
      if (options.forUpdate && dialect === 'postgres') query = query.forUpdate();
      return query.executeTakeFirst();
    },

    async getRows(ids: readonly string[], options: { forUpdate?: boolean } = {}): Promise<IncidentRow[]> {
      if (ids.length === 0) return [];
      const out: IncidentRow[] = [];
      // Sorted before chunking so every writer takes row locks in one order (no deadlocks between them).
      for (const part of chunk([...new Set(ids)].sort(), 500)) {
        let query = db.selectFrom('incidents').selectAll().where('id', 'in', part).orderBy('id');
        if (options.forUpdate && dialect === 'postgres') query = query.forUpdate();
        out.push(...(await query.execute()));
      }
      return out;
    },

    /** Inserts new incidents and rewrites changed ones, one statement per chunk. */
    async upsertRows(rows: readonly IncidentRow[]): Promise<void> {
      for (const part of chunk(rows, 30)) {
        await db
          .insertInto('incidents')
          .values([...part])
          .onConflict((conflict) =>
            conflict.column('id').doUpdateSet((eb) => ({
              title: eb.ref('excluded.title'),
              severity: eb.ref('excluded.severity'),
              status: eb.ref('excluded.status'),
              services: eb.ref('excluded.services'),
              active_key: eb.ref('excluded.active_key'),
              started_at: eb.ref('excluded.started_at'),
              acknowledged_at: eb.ref('excluded.acknowledged_at'),
              mitigated_at: eb.ref('excluded.mitigated_at'),
              resolved_at: eb.ref('excluded.resolved_at'),
              closed_at: eb.ref('excluded.closed_at'),
              signals_resolved_at: eb.ref('excluded.signals_resolved_at'),
              root_cause: eb.ref('excluded.root_cause'),
              resolution: eb.ref('excluded.resolution'),
              root_service: eb.ref('excluded.root_service'),
              merged_into: eb.ref('excluded.merged_into'),
              last_signal_at: eb.ref('excluded.last_signal_at'),
              signal_count: eb.ref('excluded.signal_count'),
              last_event_seq: eb.ref('excluded.last_event_seq'),
              last_event_hash: eb.ref('excluded.last_event_hash'),
              updated_at: eb.ref('excluded.updated_at'),
            })),
          )
          .execute();
      }
    },

    async get(id: string): Promise<Incident | undefined> {
      const row = await this.getRow(id);
      return row && incidentFromRow(row);
    },

    async findActive(keys: readonly string[]): Promise<IncidentRow[]> {
      if (keys.length === 0) return [];
      return db.selectFrom('incidents').selectAll().where('active_key', 'in', keys).execute();
    },

    /** The most recently resolved incident for a key, if it resolved at or after `since` (re-open grace). */
    async findRecentlyResolved(key: string, since: number): Promise<IncidentRow | undefined> {
      return db
        .selectFrom('incidents')
        .selectAll()
        .where('correlation_key', '=', key)
        .where('status', '=', 'RESOLVED')
        .where('resolved_at', '>=', since)
        .orderBy('resolved_at', 'desc')
        .limit(1)
        .executeTakeFirst();
    },

    async update(id: string, values: Partial<Omit<IncidentRow, 'id'>>): Promise<void> {
      await db.updateTable('incidents').set(values).where('id', '=', id).execute();
    },

    async list(filter: IncidentListFilter): Promise<Incident[]> {
      let query = db.selectFrom('incidents').select('incidents.id');
      if (filter.status?.length) query = query.where('incidents.status', 'in', filter.status);
      if (filter.severity?.length) query = query.where('incidents.severity', 'in', filter.severity);
      if (filter.service) {
        const services = typeof filter.service === 'string' ? [filter.service] : [...filter.service];
        if (services.length === 0) return [];
        query = query.where((eb) =>
          eb.exists(
            eb
              .selectFrom('incident_services')
              .select('incident_services.incident_id')
              .whereRef('incident_services.incident_id', '=', 'incidents.id')
              .where('incident_services.service', 'in', services),
          ),
        );
      }
      const text = filter.text?.trim().toLowerCase();
      if (text) {
        const noted = await notedIncidents(text);
        // LIKE with its wildcards escaped, over lower() on both backends: PostgreSQL's LIKE is
        // case-sensitive and SQLite has no ILIKE.
        const pattern = `%${text.replace(/[\\%_]/g, (character) => `\\${character}`)}%`;
        const matches = (column: string) =>
          sql<boolean>`lower(${sql.ref(column)}) like ${pattern} escape '\\'`;
        query = query.where((eb) =>
          eb.or([
            matches('incidents.title'),
            eb.exists(
              eb
                .selectFrom('incident_services')
                .select('incident_services.incident_id')
                .whereRef('incident_services.incident_id', '=', 'incidents.id')
                .where(matches('incident_services.service')),
            ),
            ...(noted.length > 0 ? [eb('incidents.id', 'in', noted)] : []),
          ]),
        );
      }
      if (filter.since !== undefined) query = query.where('incidents.detected_at', '>=', filter.since);
      if (filter.until !== undefined) query = query.where('incidents.detected_at', '<', filter.until);
      if (filter.cursor) {
        const { detectedAt, id } = filter.cursor;
        query = query.where((eb) =>
          eb.or([
            eb('incidents.detected_at', '<', detectedAt),
            eb.and([eb('incidents.detected_at', '=', detectedAt), eb('incidents.id', '<', id)]),
          ]),
        );
      }
      // Ids first, then the rows: sorting narrow rows and fetching only the page is several times
      // faster than sorting whole rows when many match (evidence bundles list hundreds of past incidents).
      const ids = (
        await query
          .orderBy('incidents.detected_at', 'desc')
          .orderBy('incidents.id', 'desc')
          .limit(filter.limit)
          .execute()
      ).map((row) => row.id);
      const rows = new Map<string, IncidentRow>();
      for (const part of chunk(ids, 500)) {
        for (const row of await db.selectFrom('incidents').selectAll().where('id', 'in', part).execute())
          rows.set(row.id, row);
      }
      return ids.flatMap((id) => {
        const row = rows.get(id);
        return row ? [incidentFromRow(row)] : [];
      });
    },

    /**
     * The newest incidents on any of `services` that were resolved or closed by `asOf` (detected
     * before it, resolved at or before it), other than `excludeId`: what an evidence bundle carries as
     * history. Only the columns a bundle keeps, and the signal count, which keys the alert-name cache.
     * One query: `exists` cannot repeat an incident however many of the services it has. On SQLite the
     * status test is written `+status`, which keeps the planner off the (status, detected_at) index:
     * with two statuses that index must read every past incident and sort them, where walking
     * (detected_at, id) backwards stops after `limit` matches (0.7 against 2.4 ms for 200 of 1,044).
     */
    async pastIncidents(filter: {
      services: readonly string[];
      asOf: number;
      excludeId: string;
      limit: number;
    }): Promise<(Omit<PastIncident, 'alerts'> & { signalCount: number })[]> {
      if (filter.services.length === 0 || filter.limit <= 0) return [];
      const rows = await db
        .selectFrom('incidents')
        .select([
          'incidents.id',
          'incidents.title',
          'incidents.severity',
          'incidents.services',
          'incidents.detected_at',
          'incidents.resolved_at',
          'incidents.root_cause',
          'incidents.resolution',
          'incidents.signal_count',
        ])
        .where(
          dialect === 'sqlite' ? sql<string>`+${sql.ref('incidents.status')}` : sql.ref('incidents.status'),
          'in',
          ['RESOLVED', 'CLOSED'],
        )
        .where('incidents.detected_at', '<', filter.asOf)
        .where('incidents.resolved_at', '<=', filter.asOf)
        .where('incidents.id', '!=', filter.excludeId)
        .where((eb) =>
          eb.exists(
            eb
              .selectFrom('incident_services')
              .select('incident_services.incident_id')
              .whereRef('incident_services.incident_id', '=', 'incidents.id')
              .where('incident_services.service', 'in', [...filter.services]),
          ),
        )
        .orderBy('incidents.detected_at', 'desc')
        .orderBy('incidents.id', 'desc')
        .limit(filter.limit)
        .execute();
      return rows.map((row) => ({
        id: row.id,
        title: row.title,
        severity: row.severity as IncidentSeverity,
        services: fromJson(row.services, []),
        detectedAt: row.detected_at,
        resolvedAt: row.resolved_at!,
        rootCause: row.root_cause,
        resolution: row.resolution,
        signalCount: row.signal_count,
      }));
    },

    /** Links signals to incidents, skipping links that exist; returns the links that are new. */
    async attachSignalsMany(
      links: readonly { incidentId: string; signalId: string; reason?: JoinReason; pinned?: boolean }[],
      at: number,
    ): Promise<{ incidentId: string; signalId: string }[]> {
      const fresh: { incidentId: string; signalId: string }[] = [];
      const unique = [
        ...new Map(links.map((link) => [`${link.incidentId}|${link.signalId}`, link])).values(),
      ];
      for (const part of chunk(unique, 200)) {
        const rows = await db
          .insertInto('incident_signals')
          .values(
            part.map((link) => ({
              incident_id: link.incidentId,
              signal_id: link.signalId,
              attached_at: at,
              reason: link.reason ? JSON.stringify(link.reason) : null,
              pinned: link.pinned ? 1 : 0,
            })),
          )
          .onConflict((conflict) => conflict.columns(['incident_id', 'signal_id']).doNothing())
          .returning(['incident_id', 'signal_id'])
          .execute();
        for (const row of rows) fresh.push({ incidentId: row.incident_id, signalId: row.signal_id });
      }
      return fresh;
    },

    /** Sets an incident's service links to exactly `services` (a split takes some away). */
    async replaceServices(incidentId: string, services: readonly string[]): Promise<void> {
      let query = db.deleteFrom('incident_services').where('incident_id', '=', incidentId);
      if (services.length > 0) query = query.where('service', 'not in', [...services]);
      await query.execute();
      await this.addServicesMany(services.map((service) => ({ incidentId, service })));
    },

    async addServicesMany(links: readonly { incidentId: string; service: string }[]): Promise<void> {
      const unique = [...new Map(links.map((link) => [`${link.incidentId}|${link.service}`, link])).values()];
      for (const part of chunk(unique, 300)) {
        await db
          .insertInto('incident_services')
          .values(part.map((link) => ({ incident_id: link.incidentId, service: link.service })))
          .onConflict((conflict) => conflict.columns(['incident_id', 'service']).doNothing())
          .execute();
      }
    },

    /**
     * Which of these incidents still have a firing signal. The probe walks each incident's links newest
     * first and stops at the first firing one, so its cost does not grow with the incident's history.
     */
    async withFiringSignals(incidentIds: readonly string[]): Promise<Set<string>> {
      const out = new Set<string>();
      for (const part of chunk([...new Set(incidentIds)], 500)) {
        const rows = await db
          .selectFrom('incidents')
          .select('incidents.id')
          .where('incidents.id', 'in', part)
          .where((eb) =>
            eb.exists(
              eb
                .selectFrom('incident_signals')
                .innerJoin('signals', 'signals.id', 'incident_signals.signal_id')
                .select('incident_signals.signal_id')
                .whereRef('incident_signals.incident_id', '=', 'incidents.id')
                .where('signals.status', '=', 'firing')
                .orderBy('incident_signals.signal_id', 'desc')
                .limit(1),
            ),
          )
          .execute();
        for (const row of rows) out.add(row.id);
      }
      return out;
    },

    async insertEvents(events: readonly IncidentEvent[]): Promise<void> {
      for (const part of chunk(events, 100)) {
        await db
          .insertInto('incident_events')
          .values(
            part.map((event) => ({
              id: event.id,
              incident_id: event.incidentId,
              seq: event.seq,
              type: event.type,
              principal: event.principal,
              at: event.at,
              // The hash chain covers the plaintext, so re-encryption with a new key keeps it intact.
              data: seal(context, toJson(event.data), 'incident_events.data'),
              prev_hash: event.prevHash,
              hash: event.hash,
            })),
          )
          .execute();
      }
      // Every incident event passes here, in the transaction that writes it: the notification outbox.
      await outbox.queueDispatch(events);
    },

    /**
     * Alert names (label `alertname`, else the title) of each incident's signals, each once, in order of
     * first firing. The database extracts and de-duplicates them: a past incident may hold thousands of
     * signals but only a handful of alert names.
     */
    async alertNames(incidentIds: readonly string[]): Promise<Map<string, string[]>> {
      const out = new Map<string, string[]>();
      const alertname =
        dialect === 'postgres'
          ? sql<string>`coalesce(signals.labels::jsonb ->> 'alertname', signals.title)`
          : sql<string>`coalesce(json_extract(signals.labels, '$.alertname'), signals.title)`;
      for (const part of chunk([...new Set(incidentIds)], 500)) {
        const rows = await db
          .selectFrom('incident_signals')
          .innerJoin('signals', 'signals.id', 'incident_signals.signal_id')
          .select((eb) => [
            'incident_signals.incident_id',
            alertname.as('name'),
            eb.fn.min('signals.starts_at').as('first_at'),
          ])
          .where('incident_signals.incident_id', 'in', part)
          .groupBy(['incident_signals.incident_id', alertname])
          .orderBy('first_at')
          .orderBy('name')
          .execute();
        for (const row of rows) {
          const list = out.get(row.incident_id) ?? [];
          list.push(row.name);
          out.set(row.incident_id, list);
        }
      }
      return out;
    },

    /** Removes signals from an incident (a merge or a split moves them); returns how many went. */
    async detachSignals(incidentId: string, signalIds: readonly string[]): Promise<number> {
      let removed = 0;
      for (const part of chunk([...new Set(signalIds)], 500)) {
        const result = await db
          .deleteFrom('incident_signals')
          .where('incident_id', '=', incidentId)
          .where('signal_id', 'in', part)
          .executeTakeFirst();
        removed += Number(result.numDeletedRows);
      }
      return removed;
    },

    /**
     * Which of these incidents hold a signal that joined as a possible cause (a topology join from a
     * dependency): the only ones a blip can be split from. Matched in the stored reason's JSON text, where
     * that key and value with bare quotes can only be the reason's own field, never part of a string.
     */
    async withDependencyJoins(incidentIds: readonly string[]): Promise<Set<string>> {
      const out = new Set<string>();
      for (const part of chunk([...new Set(incidentIds)], 500)) {
        const rows = await db
          .selectFrom('incident_signals')
          .select('incident_id')
          .distinct()
          .where('incident_id', 'in', part)
          .where('reason', 'like', '%"relation":"dependency"%')
          .execute();
        for (const row of rows) out.add(row.incident_id);
      }
      return out;
    },

    /** The incident's signals with why each joined and whether a human placed it, in attach order. */
    async signalLinks(incidentId: string): Promise<SignalLink[]> {
      const rows = await db
        .selectFrom('incident_signals')
        .select(['signal_id', 'attached_at', 'reason', 'pinned'])
        .where('incident_id', '=', incidentId)
        .orderBy('attached_at')
        .orderBy('signal_id')
        .execute();
      return rows.map((row) => ({
        signalId: row.signal_id,
        attachedAt: row.attached_at,
        reason: row.reason === null ? null : (JSON.parse(row.reason) as JoinReason),
        pinned: row.pinned === 1,
      }));
    },

    /**
     * Active incidents of an environment holding any of `services` whose last signal started at or
     * after `since`: the incidents a signal on a nearby service may join.
     */
    async activeNear(
      environment: string,
      services: readonly string[],
      since: number,
    ): Promise<IncidentRow[]> {
      if (services.length === 0) return [];
      const ids = new Set<string>();
      for (const part of chunk([...new Set(services)], 500)) {
        const rows = await db
          .selectFrom('incident_services')
          .innerJoin('incidents', 'incidents.id', 'incident_services.incident_id')
          .select('incidents.id')
          .where('incident_services.service', 'in', part)
          .where('incidents.active_key', 'is not', null)
          .where('incidents.environment', '=', environment)
          .where((eb) =>
            eb.or([eb('incidents.last_signal_at', '>=', since), eb('incidents.last_signal_at', 'is', null)]),
          )
          .execute();
        for (const row of rows) ids.add(row.id);
      }
      return this.getRows([...ids], { forUpdate: true });
    },

    /** The incident holding each signal (the latest to take it), for signals any incident holds. */
    async holders(signalIds: readonly string[]): Promise<Map<string, string>> {
      const out = new Map<string, string>();
      for (const part of chunk([...new Set(signalIds)], 500)) {
        const rows = await db
          .selectFrom('incident_signals')
          .select(['signal_id', 'incident_id'])
          .where('signal_id', 'in', part)
          .orderBy('attached_at')
          .execute();
        for (const row of rows) out.set(row.signal_id, row.incident_id);
      }
      return out;
    },

    async signalIds(incidentId: string): Promise<string[]> {
      const rows = await db
        .selectFrom('incident_signals')
        .select('signal_id')
        .where('incident_id', '=', incidentId)
        .orderBy('attached_at')
        .orderBy('signal_id')
        .execute();
      return rows.map((row) => row.signal_id);
    },

    /** Active incidents that hold any of these signals (to notice when all their signals resolved). */
    async activeIncidentsForSignals(
      signalIds: readonly string[],
    ): Promise<{ incidentId: string; signalId: string }[]> {
      if (signalIds.length === 0) return [];
      const out: { incidentId: string; signalId: string }[] = [];
      for (const part of chunk(signalIds, 500)) {
        const rows = await db
          .selectFrom('incident_signals')
          .innerJoin('incidents', 'incidents.id', 'incident_signals.incident_id')
          .select(['incident_signals.incident_id', 'incident_signals.signal_id'])
          .where('incident_signals.signal_id', 'in', part)
          .where('incidents.active_key', 'is not', null)
          .execute();
        for (const row of rows) out.push({ incidentId: row.incident_id, signalId: row.signal_id });
      }
      return out;
    },

    /**
     * Appends events to an incident's hash chain. The caller holds the incident row (locked on
     * PostgreSQL) inside a transaction and writes `last_event_seq`/`last_event_hash` back with its update.
     */
    async appendEvents(
      incident: Pick<IncidentRow, 'id' | 'last_event_seq' | 'last_event_hash'>,
      drafts: readonly EventDraft[],
    ): Promise<{ lastSeq: number; lastHash: string; events: IncidentEvent[] }> {
      const chain = chainEvents(incident, drafts);
      await this.insertEvents(chain.events);
      return chain;
    },

    async events(
      incidentId: string,
      options: { afterSeq?: number; limit?: number } = {},
    ): Promise<IncidentEvent[]> {
      const rows = await db
        .selectFrom('incident_events')
        .selectAll()
        .where('incident_id', '=', incidentId)
        .where('seq', '>', options.afterSeq ?? 0)
        .orderBy('seq')
        .limit(options.limit ?? 10_000)
        .execute();
      return rows.map((row) => ({
        id: row.id,
        incidentId: row.incident_id,
        seq: row.seq,
        type: row.type as IncidentEventType,
        principal: row.principal,
        at: row.at,
        data: fromJson(unseal(context, row.data, 'incident_events.data'), {}),
        prevHash: row.prev_hash,
        hash: row.hash,
      }));
    },

    async count(): Promise<number> {
      const row = await db
        .selectFrom('incidents')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },
  };
}
export type IncidentRepository = ReturnType<typeof incidentRepository>;
