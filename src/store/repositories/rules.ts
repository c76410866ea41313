import type { Selectable } from 'kysely';
import { newId } from '../../domain/common.js';
import { OpxError } from '../../domain/errors.js';
import type { CorrelationRule, NormalizedRuleInput } from '../../domain/rule.js';
import type { CorrelationRulesTable } from '../schema.js';
import { flag, fromJson, type RepositoryContext, toJson } from './base.js';

/** The rule fields kept as JSON in `definition`: everything but the name and the columns of their own. */
const COLUMNS = ['name', 'description', 'enabled', 'priority'] as const;

function ruleFromRow(row: Selectable<CorrelationRulesTable>): CorrelationRule {
  // Rules stored before rule kinds existed are threshold rules.
  const definition = { kind: 'threshold', ...fromJson<Record<string, unknown>>(row.definition, {}) };
  return {
    id: row.id,
    name: row.name,
    version: row.version,
    enabled: row.enabled === 1,
    priority: row.priority,
    description: row.description,
    builtIn: row.built_in === 1,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    ...definition,
  } as CorrelationRule;
}

function definitionOf(input: NormalizedRuleInput): string {
  const definition: Record<string, unknown> = { ...input };
  for (const column of COLUMNS) delete definition[column];
  return toJson(definition);
}

export function ruleRepository({ db }: RepositoryContext) {
  return {
    async list(options: { includeDisabled?: boolean } = {}): Promise<CorrelationRule[]> {
      let query = db.selectFrom('correlation_rules').selectAll().where('deleted_at', 'is', null);
      if (!options.includeDisabled) query = query.where('enabled', '=', 1);
      const rows = await query.orderBy('priority').orderBy('name').execute();
      return rows.map(ruleFromRow);
    },

    /**
     * A cheap fingerprint of the rule set, so callers can cache compiled rules and notice edits. Every
     * edit bumps a version and every removal sets deleted_at, so the sums change even when clocks do not.
     */
    async revision(): Promise<string> {
      const row = await db
        .selectFrom('correlation_rules')
        .select((eb) => [
          eb.fn.countAll<number>().as('n'),
          eb.fn.max('updated_at').as('latest'),
          eb.fn.sum<number>('version').as('versions'),
          eb.fn.count<number>('deleted_at').as('deleted'),
        ])
        .executeTakeFirstOrThrow();
      return `${row.n}:${row.latest ?? 0}:${row.versions ?? 0}:${row.deleted}`;
    },

    async get(idOrName: string): Promise<CorrelationRule | undefined> {
      const row = await db
        .selectFrom('correlation_rules')
        .selectAll()
        .where((eb) => eb.or([eb('id', '=', idOrName), eb('name', '=', idOrName)]))
        .where('deleted_at', 'is', null)
        .executeTakeFirst();
      return row && ruleFromRow(row);
    },

    async create(
      input: NormalizedRuleInput,
      options: { builtIn?: boolean; now?: number } = {},
    ): Promise<CorrelationRule> {
      const now = options.now ?? Date.now();
      const existing = await db
        .selectFrom('correlation_rules')
        .select(['id', 'deleted_at'])
        .where('name', '=', input.name)
        .executeTakeFirst();
      if (existing && existing.deleted_at === null) {
        throw new OpxError('conflict', `a rule named ${input.name} already exists; update it instead`, {
          path: 'name',
        });
      }
      if (existing) await db.deleteFrom('correlation_rules').where('id', '=', existing.id).execute();
      const row = {
        id: newId('rule', now),
        name: input.name,
        version: 1,
        enabled: flag(input.enabled),
        priority: input.priority,
        description: input.description,
        definition: definitionOf(input),
        built_in: flag(options.builtIn ?? false),
        created_at: now,
        updated_at: now,
        deleted_at: null,
      };
      // Another writer may create the same name between the check and here: report it the same way.
      const result = await db
        .insertInto('correlation_rules')
        .values(row)
        .onConflict((conflict) => conflict.column('name').doNothing())
        .executeTakeFirst();
      if (Number(result.numInsertedOrUpdatedRows ?? 0) === 0) {
        throw new OpxError('conflict', `a rule named ${input.name} already exists; update it instead`, {
          path: 'name',
        });
      }
      return ruleFromRow(row);
    },

    /** Replaces a rule's definition and bumps its version; detections keep the version they matched. */
    async update(
      idOrName: string,
      input: NormalizedRuleInput,
      now: number = Date.now(),
    ): Promise<CorrelationRule> {
      const current = await this.get(idOrName);
      if (!current) throw new OpxError('not_found', `no rule ${idOrName}`);
      if (input.name !== current.name) {
        const clash = await this.get(input.name);
        if (clash)
          throw new OpxError('conflict', `a rule named ${input.name} already exists`, { path: 'name' });
        // A removed rule keeps its row (detections point at it) and its unique name; free the name.
        await db
          .deleteFrom('correlation_rules')
          .where('name', '=', input.name)
          .where('deleted_at', 'is not', null)
          .execute();
      }
      await db
        .updateTable('correlation_rules')
        .set({
          name: input.name,
          version: current.version + 1,
          enabled: flag(input.enabled),
          priority: input.priority,
          description: input.description,
          definition: definitionOf(input),
          updated_at: Math.max(now, current.updatedAt + 1),
        })
        .where('id', '=', current.id)
        .execute();
      return (await this.get(current.id))!;
    },

    async remove(idOrName: string, now: number = Date.now()): Promise<CorrelationRule> {
      const current = await this.get(idOrName);
      if (!current) throw new OpxError('not_found', `no rule ${idOrName}`);
      await db
        .updateTable('correlation_rules')
        .set({ deleted_at: now, updated_at: Math.max(now, current.updatedAt + 1) })
        .where('id', '=', current.id)
        .execute();
      return current;
    },

    async count(): Promise<number> {
      const row = await db
        .selectFrom('correlation_rules')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },
  };
}
export type RuleRepository = ReturnType<typeof ruleRepository>;
