import { type ExpressionBuilder, sql } from 'kysely';
import type { AlarmRow, AlarmState, AlarmTransition, UsageRow } from '../../domain/analytics.js';
import { newId } from '../../domain/common.js';
import type { Database } from '../schema.js';
import type { RepositoryContext } from './base.js';

export type { AlarmRow, AlarmState, AlarmTransition, UsageRow };

export const USAGE_KEYS = ['day', 'agent', 'model', 'incident', 'investigation'] as const;
export type UsageKey = (typeof USAGE_KEYS)[number];

/** Sums over model calls. Token sums skip unknown counts; `unknownTokenCalls` says how many were unknown. */

export interface CallStats {
  /** Model calls made (blocked prompts, attempt 0, are not calls). */
  calls: number;
  /** Answers that failed validation. */
  invalid: number;
  /** Calls that were a second or later attempt for the same agent. */
  retries: number;
  errors: number;
  /** Prompts the guardrails stopped before any call. */
  blocked: number;
}

export interface MetricsSnapshot {
  calls: ({ agent: string; model: string; status: string } & Pick<
    UsageRow,
    'calls' | 'inputTokens' | 'outputTokens' | 'cacheReadTokens' | 'cacheWriteTokens' | 'costUsd'
  >)[];
  retries: { agent: string; model: string; count: number }[];
  validationFailures: { agent: string; count: number }[];
  violations: { direction: string; type: string; action: string; count: number }[];
  incidents: { status: string; severity: string; count: number }[];
  jobs: { kind: string; status: string; count: number }[];
}

const DAY_MS = 86_400_000;

/** PostgreSQL returns bigint and numeric sums as strings; SQLite returns numbers. */
const num = (value: unknown): number => (value === null || value === undefined ? 0 : Number(value));

const isoDay = (index: number) => new Date(index * DAY_MS).toISOString().slice(0, 10);

type TracesBuilder = ExpressionBuilder<Database, 'llm_traces'>;

/** Token and cost analytics over llm_traces, guardrail and validation rates, and alarm state. */
export function analyticsRepository({ db }: RepositoryContext) {
  const sums = (eb: TracesBuilder) => [
    eb.fn.countAll<number>().as('calls'),
    eb.fn.sum<number>('input_tokens').as('input_tokens'),
    eb.fn.sum<number>('output_tokens').as('output_tokens'),
    eb.fn.sum<number>('cache_read_tokens').as('cache_read_tokens'),
    eb.fn.sum<number>('cache_write_tokens').as('cache_write_tokens'),
    eb.fn.sum<number>('cost_usd').as('cost_usd'),
    eb.fn
      .sum<number>(
        eb
          .case()
          .when(eb.or([eb('input_tokens', 'is', null), eb('output_tokens', 'is', null)]))
          .then(1)
          .else(0)
          .end(),
      )
      .as('unknown_tokens'),
    eb.fn.sum<number>(eb.case().when('cost_usd', 'is', null).then(1).else(0).end()).as('unpriced'),
  ];
  const COLUMN: Record<UsageKey, string> = {
    day: 'day',
    agent: 'agent',
    model: 'model',
    incident: 'incident_id',
    investigation: 'investigation_id',
  };

  return {
    /** Usage of model calls made in [since, until), grouped by `by` (in that order), largest cost first. */
    async usage(
      filter: { since: number; until: number; incidentId?: string },
      by: readonly UsageKey[],
    ): Promise<UsageRow[]> {
      const group = (key: UsageKey) =>
        key === 'day' ? sql`created_at / ${sql.lit(DAY_MS)}` : sql.ref(COLUMN[key]);
      const rows = await db
        .selectFrom('llm_traces')
        .where('created_at', '>=', filter.since)
        .where('created_at', '<', filter.until)
        .where('attempt', '>', 0)
        .$if(filter.incidentId !== undefined, (query) => query.where('incident_id', '=', filter.incidentId!))
        .select((eb) => [...sums(eb), ...by.map((key) => group(key).as(COLUMN[key]))])
        .$if(by.length > 0, (query) => query.groupBy(by.map(group)))
        .execute();
      const out = rows.map((row) => {
        const record = row as Record<string, unknown>;
        const usage: UsageRow = {
          calls: num(record.calls),
          inputTokens: num(record.input_tokens),
          outputTokens: num(record.output_tokens),
          cacheReadTokens: num(record.cache_read_tokens),
          cacheWriteTokens: num(record.cache_write_tokens),
          costUsd: Math.round(num(record.cost_usd) * 1e8) / 1e8,
          unknownTokenCalls: num(record.unknown_tokens),
          unpricedCalls: num(record.unpriced),
        };
        if (by.includes('day')) usage.day = isoDay(num(record.day));
        if (by.includes('agent')) usage.agent = (record.agent as string | null) ?? null;
        if (by.includes('model')) usage.model = record.model as string;
        if (by.includes('incident')) usage.incidentId = (record.incident_id as string | null) ?? null;
        if (by.includes('investigation'))
          usage.investigationId = (record.investigation_id as string | null) ?? null;
        return usage;
      });
      return out.sort(
        (a, b) =>
          (a.day ?? '').localeCompare(b.day ?? '') ||
          b.costUsd - a.costUsd ||
          b.calls - a.calls ||
          String(a.agent ?? a.model ?? '').localeCompare(String(b.agent ?? b.model ?? '')),
      );
    },

    /** Priced cost of the model calls made in [since, until), in USD. */
    async cost(since: number, until: number): Promise<number> {
      const row = await db
        .selectFrom('llm_traces')
        .where('created_at', '>=', since)
        .where('created_at', '<', until)
        .select((eb) => eb.fn.sum<number>('cost_usd').as('usd'))
        .executeTakeFirst();
      return Math.round(num(row?.usd) * 1e8) / 1e8;
    },

    /**
     * Cost in `count` consecutive buckets of `bucketMs` starting at `since` (bucket i covers
     * [since + i·bucketMs, since + (i+1)·bucketMs)), zero for buckets without calls, oldest first.
     */
    async costBuckets(since: number, bucketMs: number, count: number): Promise<number[]> {
      const rows = await db
        .selectFrom('llm_traces')
        .where('created_at', '>=', since)
        .where('created_at', '<', since + bucketMs * count)
        .select((eb) => [
          // Literals, not parameters: a bound number may arrive as REAL and divide without truncating.
          sql<number>`(created_at - ${sql.lit(Math.trunc(since))}) / ${sql.lit(Math.trunc(bucketMs))}`.as(
            'bucket',
          ),
          eb.fn.sum<number>('cost_usd').as('usd'),
        ])
        .groupBy(sql`(created_at - ${sql.lit(Math.trunc(since))}) / ${sql.lit(Math.trunc(bucketMs))}`)
        .execute();
      const out = new Array<number>(count).fill(0);
      for (const row of rows) out[num(row.bucket)] = Math.round(num(row.usd) * 1e8) / 1e8;
      return out;
    },

    /** Model calls in [since, until) and how many were invalid, retries, errors; blocked prompts. */
    async callStats(since: number, until: number): Promise<CallStats> {
      const row = await db
        .selectFrom('llm_traces')
        .where('created_at', '>=', since)
        .where('created_at', '<', until)
        .select((eb) => [
          eb.fn.sum<number>(eb.case().when('attempt', '>', 0).then(1).else(0).end()).as('calls'),
          eb.fn.sum<number>(eb.case().when('status', '=', 'invalid').then(1).else(0).end()).as('invalid'),
          eb.fn.sum<number>(eb.case().when('attempt', '>', 1).then(1).else(0).end()).as('retries'),
          eb.fn.sum<number>(eb.case().when('status', '=', 'error').then(1).else(0).end()).as('errors'),
          eb.fn.sum<number>(eb.case().when('status', '=', 'blocked').then(1).else(0).end()).as('blocked'),
        ])
        .executeTakeFirst();
      return {
        calls: num(row?.calls),
        invalid: num(row?.invalid),
        retries: num(row?.retries),
        errors: num(row?.errors),
        blocked: num(row?.blocked),
      };
    },

    /**
     * Guardrail violations in [since, until) on model calls (prompts and answers): personal data and
     * credentials, and content (prompt-injection) findings. Redactions at ingest are counted apart.
     */
    async violationCounts(
      since: number,
      until: number,
    ): Promise<{ pii: number; content: number; ingest: number }> {
      const row = await db
        .selectFrom('guardrail_violations')
        .where('created_at', '>=', since)
        .where('created_at', '<', until)
        .select((eb) => {
          const content = eb('entity_type', 'like', 'INJECTION:%');
          const model = eb('direction', 'in', ['input', 'output']);
          return [
            eb.fn
              .sum<number>(
                eb
                  .case()
                  .when(eb.and([model, eb.not(content)]))
                  .then(1)
                  .else(0)
                  .end(),
              )
              .as('pii'),
            eb.fn
              .sum<number>(
                eb
                  .case()
                  .when(eb.and([model, content]))
                  .then(1)
                  .else(0)
                  .end(),
              )
              .as('content'),
            eb.fn.sum<number>(eb.case().when('direction', '=', 'ingest').then(1).else(0).end()).as('ingest'),
          ];
        })
        .executeTakeFirst();
      return { pii: num(row?.pii), content: num(row?.content), ingest: num(row?.ingest) };
    },

    /** Totals since the beginning, grouped the way /metrics labels them (see src/telemetry/metrics.ts). */
    async snapshot(): Promise<MetricsSnapshot> {
      const [calls, retries, validation, violations, incidents, jobs] = await Promise.all([
        db
          .selectFrom('llm_traces')
          .where('attempt', '>', 0)
          .select((eb) => ['agent', 'model', 'status', ...sums(eb)])
          .groupBy(['agent', 'model', 'status'])
          .execute(),
        db
          .selectFrom('llm_traces')
          .where('attempt', '>', 1)
          .select((eb) => ['agent', 'model', eb.fn.countAll<number>().as('count')])
          .groupBy(['agent', 'model'])
          .execute(),
        db
          .selectFrom('validation_errors')
          .select((eb) => ['agent', eb.fn.countAll<number>().as('count')])
          .groupBy('agent')
          .execute(),
        db
          .selectFrom('guardrail_violations')
          .select((eb) => ['direction', 'entity_type', 'action', eb.fn.countAll<number>().as('count')])
          .groupBy(['direction', 'entity_type', 'action'])
          .execute(),
        db
          .selectFrom('incidents')
          .select((eb) => ['status', 'severity', eb.fn.countAll<number>().as('count')])
          .groupBy(['status', 'severity'])
          .execute(),
        db
          .selectFrom('jobs')
          .select((eb) => ['kind', 'status', eb.fn.countAll<number>().as('count')])
          .groupBy(['kind', 'status'])
          .execute(),
      ]);
      return {
        calls: calls.map((row) => ({
          agent: row.agent ?? '',
          model: row.model,
          status: row.status,
          calls: num(row.calls),
          inputTokens: num(row.input_tokens),
          outputTokens: num(row.output_tokens),
          cacheReadTokens: num(row.cache_read_tokens),
          cacheWriteTokens: num(row.cache_write_tokens),
          costUsd: num(row.cost_usd),
        })),
        retries: retries.map((row) => ({ agent: row.agent ?? '', model: row.model, count: num(row.count) })),
        validationFailures: validation.map((row) => ({ agent: row.agent, count: num(row.count) })),
        violations: violations.map((row) => ({
          direction: row.direction,
          type: row.entity_type,
          action: row.action,
          count: num(row.count),
        })),
        incidents: incidents.map((row) => ({
          status: row.status,
          severity: row.severity,
          count: num(row.count),
        })),
        jobs: jobs.map((row) => ({ kind: row.kind, status: row.status, count: num(row.count) })),
      };
    },

    async alarms(): Promise<AlarmRow[]> {
      const rows = await db.selectFrom('alarms').selectAll().orderBy('name').execute();
      return rows.map((row) => ({
        name: row.name,
        state: row.state as AlarmState,
        reason: row.reason,
        value: row.value === null ? null : Number(row.value),
        updatedAt: Number(row.updated_at),
      }));
    },

    /** Creates the named alarms that do not exist yet, in INSUFFICIENT_DATA, with no history. */
    async ensureAlarms(names: readonly string[], at: number): Promise<void> {
      if (names.length === 0) return;
      await db
        .insertInto('alarms')
        .values(
          names.map((name) => ({
            name,
            state: 'INSUFFICIENT_DATA',
            reason: 'not evaluated yet',
            value: null,
            updated_at: at,
          })),
        )
        .onConflict((oc) => oc.column('name').doNothing())
        .execute();
    },

    /**
     * Moves an alarm from `from` to `to`, recording the change in its history. False when the alarm
     * was no longer in `from` (another evaluator moved it first), so concurrent evaluators record each
     * change once. A same-state evaluation only refreshes reason and value.
     */
    async transition(
      name: string,
      from: AlarmState,
      to: AlarmState,
      reason: string,
      value: number | null,
      at: number,
    ): Promise<boolean> {
      const updated = await db
        .updateTable('alarms')
        .set({ state: to, reason, value, updated_at: at })
        .where('name', '=', name)
        .where('state', '=', from)
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) === 0) return false;
      if (from === to) return true;
      await db
        .insertInto('alarm_history')
        .values({
          id: newId('alarmEvent', at),
          alarm_name: name,
          from_state: from,
          to_state: to,
          reason,
          value,
          at,
        })
        .execute();
      return true;
    },

    /** State changes, newest first. */
    async alarmHistory(filter: { alarm?: string; limit?: number } = {}): Promise<AlarmTransition[]> {
      let query = db.selectFrom('alarm_history').selectAll();
      if (filter.alarm) query = query.where('alarm_name', '=', filter.alarm);
      const rows = await query
        .orderBy('at', 'desc')
        .orderBy('id', 'desc')
        .limit(filter.limit ?? 100)
        .execute();
      return rows.map((row) => ({
        id: row.id,
        alarm: row.alarm_name,
        from: row.from_state as AlarmState,
        to: row.to_state as AlarmState,
        reason: row.reason,
        value: row.value === null ? null : Number(row.value),
        at: Number(row.at),
      }));
    },
  };
}

export type AnalyticsRepository = ReturnType<typeof analyticsRepository>;
