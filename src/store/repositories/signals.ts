import type { Selectable } from 'kysely';
import type { Signal, SignalSource, SignalStatus } from '../../domain/signal.js';
import type { SignalsTable } from '../schema.js';
import { chunk, fromJson, type RepositoryContext } from './base.js';

export type SignalRow = Selectable<SignalsTable>;

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

export function signalRepository({ db }: RepositoryContext) {
  return {
    async insertMany(rows: SignalRow[]): Promise<void> {
      // 24 columns per row; 40 rows stay under SQLite's 999-parameter default on old builds.
      for (const part of chunk(rows, 40)) await db.insertInto('signals').values(part).execute();
    },

    async findFiring(dedupKeys: readonly string[]): Promise<SignalRow[]> {
      if (dedupKeys.length === 0) return [];
      const out: SignalRow[] = [];
      for (const part of chunk(dedupKeys, 500)) {
        out.push(...(await db.selectFrom('signals').selectAll().where('open_key', 'in', part).execute()));
      }
      return out;
    },

    async recordRepeat(
      id: string,
      update: { lastSeenAt: number; acknowledgedAt?: number | null; severity?: string; title?: string },
    ): Promise<void> {
      await db
        .updateTable('signals')
        .set((eb) => ({
          last_seen_at: update.lastSeenAt,
          occurrences: eb('occurrences', '+', 1),
          ...(update.acknowledgedAt === undefined ? {} : { acknowledged_at: update.acknowledgedAt }),
          ...(update.severity === undefined ? {} : { severity: update.severity }),
          ...(update.title === undefined ? {} : { title: update.title }),
        }))
        .where('id', '=', id)
        .execute();
    },

    async markResolved(id: string, endsAt: number, lastSeenAt: number): Promise<void> {
      await db
        .updateTable('signals')
        .set({ status: 'resolved', open_key: null, ends_at: endsAt, last_seen_at: lastSeenAt })
        .where('id', '=', id)
        .execute();
    },

    async get(id: string): Promise<Signal | undefined> {
      const row = await db.selectFrom('signals').selectAll().where('id', '=', id).executeTakeFirst();
      return row && signalFromRow(row);
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
