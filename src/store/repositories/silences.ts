import { newId } from '../../domain/common.js';
import type { Matcher, Silence } from '../../domain/rule.js';
import { fromJson, type RepositoryContext, toJson } from './base.js';

export function silenceRepository({ db }: RepositoryContext) {
  return {
    async create(silence: Omit<Silence, 'id' | 'createdAt'>, now: number = Date.now()): Promise<Silence> {
      const row = {
        id: newId('silence', now),
        kind: silence.kind,
        matchers: toJson(silence.matchers),
        starts_at: silence.startsAt,
        ends_at: silence.endsAt,
        comment: silence.comment,
        created_by: silence.createdBy,
        created_at: now,
      };
      await db.insertInto('silences').values(row).execute();
      return { ...silence, id: row.id, createdAt: now };
    },

    /** Silences in force at `at`, or any time from `at` on when `includeFuture` is set. */
    async list(options: { activeAt?: number; includeExpired?: boolean } = {}): Promise<Silence[]> {
      let query = db.selectFrom('silences').selectAll();
      if (options.activeAt !== undefined) {
        query = query.where('starts_at', '<=', options.activeAt).where('ends_at', '>', options.activeAt);
      } else if (!options.includeExpired) {
        query = query.where('ends_at', '>', Date.now());
      }
      const rows = await query.orderBy('starts_at').execute();
      return rows.map((row) => ({
        id: row.id,
        kind: row.kind as Silence['kind'],
        matchers: fromJson<Matcher[]>(row.matchers, []),
        startsAt: row.starts_at,
        endsAt: row.ends_at,
        comment: row.comment,
        createdBy: row.created_by,
        createdAt: row.created_at,
      }));
    },

    async revision(): Promise<string> {
      const row = await db
        .selectFrom('silences')
        .select((eb) => [
          eb.fn.countAll<number>().as('n'),
          eb.fn.max('created_at').as('latest'),
          eb.fn.sum<number>('ends_at').as('ends'),
        ])
        .executeTakeFirstOrThrow();
      return `${row.n}:${row.latest ?? 0}:${row.ends ?? 0}`;
    },

    async expire(id: string, now: number = Date.now()): Promise<boolean> {
      const result = await db
        .updateTable('silences')
        .set({ ends_at: now })
        .where('id', '=', id)
        .where('ends_at', '>', now)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },
  };
}
export type SilenceRepository = ReturnType<typeof silenceRepository>;
