import type { Selectable } from 'kysely';
import type { Change, ChangeKind, NormalizedChangeInput } from '../../domain/change.js';
import { newId } from '../../domain/common.js';
import type { NormalizedServiceInput, Service } from '../../domain/service.js';
import type { ChangesTable, ServicesTable } from '../schema.js';
import { chunk, flag, fromJson, type RepositoryContext, toJson } from './base.js';

function changeFromRow(row: Selectable<ChangesTable>): Change {
  return {
    id: row.id,
    kind: row.kind as ChangeKind,
    service: row.service,
    environment: row.environment,
    versionFrom: row.version_from,
    versionTo: row.version_to,
    author: row.author,
    summary: row.summary,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    links: fromJson(row.links, []),
    externalId: row.external_key === null ? null : (JSON.parse(row.external_key) as [string, string])[1],
    source: row.source,
    createdAt: row.created_at,
  };
}

export function serviceRepository({ db }: RepositoryContext) {
  async function dependencies(names?: readonly string[]): Promise<Map<string, string[]>> {
    let query = db.selectFrom('service_dependencies').selectAll();
    if (names) {
      if (names.length === 0) return new Map();
      query = query.where('service', 'in', [...names]);
    }
    const out = new Map<string, string[]>();
    for (const row of await query.orderBy('service').orderBy('depends_on').execute()) {
      const list = out.get(row.service) ?? [];
      list.push(row.depends_on);
      out.set(row.service, list);
    }
    return out;
  }

  function fromRow(row: Selectable<ServicesTable>, dependsOn: string[]): Service {
    return {
      name: row.name,
      kind: row.kind as Service['kind'],
      ...(row.type === null ? {} : { type: row.type }),
      tier: row.tier,
      ...(row.owner === null ? {} : { owner: row.owner }),
      ...(row.lifecycle === null ? {} : { lifecycle: row.lifecycle }),
      customerFacing: row.customer_facing === 1,
      ...(row.description === null ? {} : { description: row.description }),
      dependsOn,
      runbooks: fromJson(row.runbooks, []),
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

  return {
    /** Creates or replaces services and their outgoing dependencies. Returns which names were new. */
    async upsertMany(
      services: readonly NormalizedServiceInput[],
      now: number = Date.now(),
    ): Promise<{ created: string[]; updated: string[] }> {
      const names = services.map((service) => service.name);
      const existing = new Set<string>();
      for (const part of chunk(names, 500)) {
        for (const row of await db.selectFrom('services').select('name').where('name', 'in', part).execute())
          existing.add(row.name);
      }
      for (const service of services) {
        const row = {
          name: service.name,
          kind: service.kind,
          type: service.type ?? null,
          tier: service.tier,
          owner: service.owner ?? null,
          lifecycle: service.lifecycle ?? null,
          customer_facing: flag(service.customerFacing),
          description: service.description ?? null,
          runbooks: toJson(service.runbooks),
          updated_at: now,
        };
        await db
          .insertInto('services')
          .values({ ...row, created_at: now })
          .onConflict((conflict) => conflict.column('name').doUpdateSet(row))
          .execute();
        await db.deleteFrom('service_dependencies').where('service', '=', service.name).execute();
        const targets = [...new Set(service.dependsOn)].filter((target) => target !== service.name);
        if (targets.length > 0) {
          await db
            .insertInto('service_dependencies')
            .values(targets.map((target) => ({ service: service.name, depends_on: target })))
            .execute();
        }
      }
      return {
        created: names.filter((name) => !existing.has(name)),
        updated: names.filter((name) => existing.has(name)),
      };
    },

    async get(name: string): Promise<Service | undefined> {
      const row = await db.selectFrom('services').selectAll().where('name', '=', name).executeTakeFirst();
      if (!row) return undefined;
      return fromRow(row, (await dependencies([name])).get(name) ?? []);
    },

    async list(): Promise<Service[]> {
      const rows = await db.selectFrom('services').selectAll().orderBy('name').execute();
      const deps = await dependencies();
      return rows.map((row) => fromRow(row, deps.get(row.name) ?? []));
    },

    async remove(name: string): Promise<boolean> {
      await db.deleteFrom('service_dependencies').where('service', '=', name).execute();
      const result = await db.deleteFrom('services').where('name', '=', name).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },

    /**
     * A cheap fingerprint of the catalog, so the dependency graph can be cached: an upsert bumps a
     * service's updated_at (its edges are rewritten with it) and a removal changes the counts.
     */
    async revision(): Promise<string> {
      const [services, edges] = await Promise.all([
        db
          .selectFrom('services')
          .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.max('updated_at').as('latest')])
          .executeTakeFirstOrThrow(),
        db
          .selectFrom('service_dependencies')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow(),
      ]);
      return `${services.n}:${services.latest ?? 0}:${edges.n}`;
    },

    /** All dependency edges: `service` depends on `dependsOn`. */
    async edges(): Promise<{ service: string; dependsOn: string }[]> {
      const rows = await db
        .selectFrom('service_dependencies')
        .selectAll()
        .orderBy('service')
        .orderBy('depends_on')
        .execute();
      return rows.map((row) => ({ service: row.service, dependsOn: row.depends_on }));
    },
  };
}
export type ServiceRepository = ReturnType<typeof serviceRepository>;

export interface ChangeFilter {
  services?: readonly string[];
  environment?: string;
  since?: number;
  until?: number;
  limit?: number;
}

export function changeRepository({ db }: RepositoryContext) {
  return {
    /** Records a change; a re-delivered change (same source and external id) returns the stored one. */
    async insert(
      input: NormalizedChangeInput,
      now: number = Date.now(),
    ): Promise<{ change: Change; created: boolean }> {
      // A JSON pair, so no source or id spelling can collide with another's.
      const externalKey =
        input.externalId === undefined ? null : JSON.stringify([input.source, input.externalId]);
      const row = {
        id: newId('change', input.startedAt),
        kind: input.kind,
        service: input.service,
        environment: input.environment,
        version_from: input.versionFrom ?? null,
        version_to: input.versionTo ?? null,
        author: input.author ?? null,
        summary: input.summary,
        started_at: input.startedAt,
        finished_at: input.finishedAt ?? null,
        links: toJson(input.links),
        external_key: externalKey,
        source: input.source,
        created_at: now,
      };
      // Insert-or-nothing rather than check-then-insert: two writers delivering the same change race safely.
      const result = await db
        .insertInto('changes')
        .values(row)
        .onConflict((conflict) => conflict.column('external_key').doNothing())
        .executeTakeFirst();
      if (externalKey !== null && Number(result.numInsertedOrUpdatedRows ?? 0) === 0) {
        const existing = await db
          .selectFrom('changes')
          .selectAll()
          .where('external_key', '=', externalKey)
          .executeTakeFirstOrThrow();
        return { change: changeFromRow(existing), created: false };
      }
      return { change: changeFromRow(row), created: true };
    },

    async get(id: string): Promise<Change | undefined> {
      const row = await db.selectFrom('changes').selectAll().where('id', '=', id).executeTakeFirst();
      return row && changeFromRow(row);
    },

    async list(filter: ChangeFilter = {}): Promise<Change[]> {
      let query = db.selectFrom('changes').selectAll();
      if (filter.services) {
        if (filter.services.length === 0) return [];
        query = query.where('service', 'in', [...filter.services]);
      }
      if (filter.environment !== undefined) query = query.where('environment', '=', filter.environment);
      if (filter.since !== undefined) query = query.where('started_at', '>=', filter.since);
      if (filter.until !== undefined) query = query.where('started_at', '<=', filter.until);
      const rows = await query
        .orderBy('started_at', 'desc')
        .orderBy('id', 'desc')
        .limit(filter.limit ?? 1000)
        .execute();
      return rows.map(changeFromRow);
    },
  };
}
export type ChangeRepository = ReturnType<typeof changeRepository>;
