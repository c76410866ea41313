import { type Selectable, sql } from 'kysely';
import type { Severity } from '../../domain/common.js';
import type { Signal, SignalSource, SignalStatus } from '../../domain/signal.js';
import type { SignalsTable } from '../schema.js';
import { chunk, fromJson, type RepositoryContext, seal } from './base.js';

export type SignalRow = Selectable<SignalsTable>;

/** How far a sender's clock may run ahead of OPX's: a signal may be received before it says it started. */
const CLOCK_SKEW_MS = 5 * 60_000;

const STATE_COLUMNS = [
  'id',
  'source',
  'fingerprint',
  'dedup_key',
  'open_key',
  'status',
  'severity',
  'service',
  'environment',
  'region',
  'title',
  'description',
  'labels',
  'annotations',
  'metric',
  'links',
  'starts_at',
  'ends_at',
  'received_at',
  'last_seen_at',
  'occurrences',
  'acknowledged_at',
  'suppressed_by',
] as const;

export function signalFromRow(row: SignalRow): Signal {
  return {
    id: row.id,
    source: row.source as SignalSource,
    fingerprint: row.fingerprint,
    status: row.status as SignalStatus,
    severity: row.severity as Signal['severity'],
    service: row.service,
    environment: row.environment,
    region: row.region,
    title: row.title,
    description: row.description,
    labels: fromJson(row.labels, {}),
    annotations: fromJson(row.annotations, {}),
    metric: fromJson(row.metric, null),
    links: fromJson(row.links, []),
    startsAt: row.starts_at,
    endsAt: row.ends_at,
    receivedAt: row.received_at,
    lastSeenAt: row.last_seen_at,
    occurrences: row.occurrences,
    acknowledgedAt: row.acknowledged_at,
    suppressedBy: row.suppressed_by,
  };
}

export interface SignalFilter {
  service?: string;
  status?: SignalStatus;
  since?: number;
  until?: number;
  limit?: number;
}

export function signalRepository(context: RepositoryContext) {
  const { db, dialect } = context;
  /** Firing signals no incident holds, not suppressed and not `info`: what may still open or join one. */
  const unheldFiring = () =>
    db
      .selectFrom('signals')
      .selectAll()
      .where('status', '=', 'firing')
      .where('suppressed_by', 'is', null)
      .where('severity', '!=', 'info')
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('incident_signals')
              .select('incident_signals.signal_id')
              .whereRef('incident_signals.signal_id', '=', 'signals.id'),
          ),
        ),
      );
  return {
    async insertMany(rows: SignalRow[]): Promise<void> {
      // 24 columns per row; 40 rows stay under SQLite's 999-parameter default on old builds.
      for (const part of chunk(rows, 40))
        await db
          .insertInto('signals')
          .values(part.map((row) => ({ ...row, raw: seal(context, row.raw, 'signals.raw') })))
          .execute();
    },

    /**
     * The firing rows for these dedup keys, without `raw` (the largest column, never needed to update a
     * signal): `raw` comes back null and `upsertState` leaves the stored value alone.
     */
    async findFiring(dedupKeys: readonly string[]): Promise<SignalRow[]> {
      if (dedupKeys.length === 0) return [];
      const out: SignalRow[] = [];
      for (const part of chunk(dedupKeys, 500)) {
        // Locked on PostgreSQL: the caller writes back state computed from these rows, and a concurrent
        // writer (another process) must not interleave between the read and the write.
        let query = db
          .selectFrom('signals')
          .select(STATE_COLUMNS)
          .where('open_key', 'in', part)
          .orderBy('id');
        if (dialect === 'postgres') query = query.forUpdate();
        const rows = await query.execute();
        for (const row of rows) out.push({ ...row, raw: null });
      }
      return out;
    },

    /**
     * Which of these dedup keys have a firing row now. Unlike findFiring it locks nothing: the answer is a
     * hint, checked again against findFiring's locked rows.
     */
    async openKeys(dedupKeys: readonly string[]): Promise<Set<string>> {
      const out = new Set<string>();
      for (const part of chunk([...new Set(dedupKeys)], 500)) {
        const rows = await db
          .selectFrom('signals')
          .select('open_key')
          .where('open_key', 'in', part)
          .execute();
        for (const row of rows) if (row.open_key !== null) out.add(row.open_key);
      }
      return out;
    },

    /**
     * Resolved rows for these dedup keys that started at the given times: Prometheus re-sends a
     * resolved alert for a while, and each re-send must update the stored resolve, not add a row.
     */
    async findResolved(occurrences: readonly { dedupKey: string; startsAt: number }[]): Promise<SignalRow[]> {
      if (occurrences.length === 0) return [];
      const out: SignalRow[] = [];
      // Chunked by pair, so one statement stays under the bound-parameter limit whatever the mix.
      for (const part of chunk(occurrences, 250)) {
        const wanted = new Set(part.map((item) => `${item.dedupKey}|${item.startsAt}`));
        let query = db
          .selectFrom('signals')
          .select(STATE_COLUMNS)
          .where('dedup_key', 'in', [...new Set(part.map((item) => item.dedupKey))])
          .where('status', '=', 'resolved')
          .where('starts_at', 'in', [...new Set(part.map((item) => item.startsAt))])
          .orderBy('id');
        if (dialect === 'postgres') query = query.forUpdate();
        for (const row of await query.execute()) {
          if (wanted.has(`${row.dedup_key}|${row.starts_at}`)) out.push({ ...row, raw: null });
        }
      }
      return out;
    },

    /**
     * Writes the mutable state (status, open key, end, last seen, count, acknowledgement, severity,
     * title) of existing signals in one statement per chunk: an upsert whose insert never happens.
     */
    async upsertState(rows: readonly SignalRow[]): Promise<void> {
      for (const part of chunk(rows, 40)) {
        await db
          .insertInto('signals')
          .values(part.map((row) => ({ ...row, raw: null })))
          .onConflict((conflict) =>
            conflict.column('id').doUpdateSet((eb) => ({
              status: eb.ref('excluded.status'),
              open_key: eb.ref('excluded.open_key'),
              ends_at: eb.ref('excluded.ends_at'),
              last_seen_at: eb.ref('excluded.last_seen_at'),
              occurrences: eb.ref('excluded.occurrences'),
              acknowledged_at: eb.ref('excluded.acknowledged_at'),
              severity: eb.ref('excluded.severity'),
              title: eb.ref('excluded.title'),
            })),
          )
          .execute();
      }
    },

    /**
     * Writes only the last-seen time and count of signals whose repeat changed nothing else (a firing
     * repeat, or a re-sent resolve counted on its stored row):
     * one UPDATE per chunk that assigns no indexed column, so no index is touched and no row is built
     * from every column as upsertState does. `lastSeenAt` is shared (one ingest batch, one clock).
     */
    async touch(rows: readonly { id: string; occurrences: number }[], lastSeenAt: number): Promise<void> {
      for (const part of chunk(rows, 200)) {
        await db
          .updateTable('signals')
          .set({
            last_seen_at: lastSeenAt,
            occurrences: sql<number>`case ${sql.ref('id')} ${sql.join(
              part.map((row) => sql`when ${row.id} then ${row.occurrences}`),
              sql` `,
            )} else ${sql.ref('occurrences')} end`,
          })
          .where(
            'id',
            'in',
            part.map((row) => row.id),
          )
          .execute();
      }
    },

    async get(id: string): Promise<Signal | undefined> {
      const row = await db.selectFrom('signals').selectAll().where('id', '=', id).executeTakeFirst();
      return row && signalFromRow(row);
    },

    /** Stored rows as they are (the raw payload still sealed): for correlation, which reads no payload. */
    async getRows(ids: readonly string[]): Promise<SignalRow[]> {
      const out: SignalRow[] = [];
      for (const part of chunk([...new Set(ids)], 500))
        out.push(...(await db.selectFrom('signals').selectAll().where('id', 'in', part).execute()));
      return out;
    },

    /**
     * Signals on `services` received in [since, until] that were still firing at `until`, newest first,
     * at most `limit`: what was going on around an incident.
     */
    async firingNear(
      services: readonly string[],
      since: number,
      until: number,
      limit: number,
    ): Promise<Signal[]> {
      if (services.length === 0) return [];
      const rows = await db
        .selectFrom('signals')
        .selectAll()
        .where('service', 'in', [...new Set(services)])
        .where('received_at', '>=', since)
        .where('received_at', '<=', until)
        .where('suppressed_by', 'is', null)
        .where('severity', '!=', 'info')
        .where((eb) => eb.or([eb('ends_at', 'is', null), eb('ends_at', '>', until)]))
        .orderBy('received_at', 'desc')
        .orderBy('id', 'desc')
        .limit(limit)
        .execute();
      return rows.map(signalFromRow);
    },

    /**
     * Firing signals of `environment` on `services` that started at or after `since` and that no
     * incident holds, oldest first (at most 500): what fired before an incident opened without meeting
     * a threshold of its own. Received a little before `since` is allowed for a sender's clock skew.
     */
    /**
     * Firing signals received in [from, to] that no incident holds, not suppressed, not `info`, of one
     * of `severities`, oldest first (at most 500): what the sweep for sustained rules looks at
     * (src/ingest/pipeline.ts). Read in the received_at index's order, so it stops at the 500th.
     */
    async unheldFiringReceived(
      from: number,
      to: number,
      severities: readonly Severity[],
    ): Promise<SignalRow[]> {
      if (severities.length === 0) return [];
      return unheldFiring()
        .where('received_at', '>=', from)
        .where('received_at', '<=', to)
        .where('severity', 'in', [...severities])
        .orderBy('received_at')
        .limit(500)
        .execute();
    },

    async unheldFiring(
      environment: string,
      services: readonly string[],
      since: number,
    ): Promise<SignalRow[]> {
      if (services.length === 0) return [];
      return unheldFiring()
        .where('service', 'in', [...new Set(services)])
        .where('received_at', '>=', since - CLOCK_SKEW_MS)
        .where('starts_at', '>=', since)
        .where('environment', '=', environment)
        .orderBy('starts_at')
        .orderBy('id')
        .limit(500)
        .execute();
    },

    async getMany(ids: readonly string[]): Promise<Signal[]> {
      if (ids.length === 0) return [];
      const out: Signal[] = [];
      for (const part of chunk(ids, 500)) {
        const rows = await db.selectFrom('signals').selectAll().where('id', 'in', part).execute();
        out.push(...rows.map(signalFromRow));
      }
      return out.sort((a, b) => a.startsAt - b.startsAt || a.id.localeCompare(b.id));
    },

    async list(filter: SignalFilter = {}): Promise<Signal[]> {
      let query = db.selectFrom('signals').selectAll();
      if (filter.service) query = query.where('service', '=', filter.service);
      if (filter.status) query = query.where('status', '=', filter.status);
      if (filter.since !== undefined) query = query.where('received_at', '>=', filter.since);
      if (filter.until !== undefined) query = query.where('received_at', '<', filter.until);
      const rows = await query
        .orderBy('received_at', 'desc')
        .orderBy('id', 'desc')
        .limit(filter.limit ?? 100)
        .execute();
      return rows.map(signalFromRow);
    },

    async count(): Promise<number> {
      const row = await db
        .selectFrom('signals')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },
  };
}
export type SignalRepository = ReturnType<typeof signalRepository>;
