import { Counter, Gauge, Registry } from 'prom-client';
import type { Config } from '../config/index.js';
import type { MetricsSnapshot } from '../store/repositories/analytics.js';
import type { Store } from '../store/store.js';
import { processRegistry } from '../telemetry/metrics.js';
import { ALARM_NAMES, budgetStatus } from './alarms.js';

/**
 * The store's metrics for `/metrics`, read from the database at scrape time (at most every few
 * seconds): incidents, LLM calls and cost, guardrails, alarms, the budget and the job queue. The
 * process's own counters are in src/telemetry/metrics.ts.
 */

const SNAPSHOT_TTL_MS = 5000;

/** The store metrics of one runtime, in a registry of their own. */
export function storeRegistry(store: Store, config: Pick<Config, 'budgetMonthlyUsd'>): Registry {
  const registry = new Registry();
  let cached: { at: number; value: Promise<Snapshot> } | undefined;
  interface Snapshot {
    totals: MetricsSnapshot;
    alarms: Awaited<ReturnType<Store['analytics']['alarms']>>;
    budget: Awaited<ReturnType<typeof budgetStatus>>;
  }
  const snapshot = (): Promise<Snapshot> => {
    const now = Date.now();
    if (!cached || now - cached.at > SNAPSHOT_TTL_MS) {
      const value = Promise.all([
        store.analytics.snapshot(),
        store.analytics.alarms(),
        budgetStatus(store, config.budgetMonthlyUsd, now),
      ]).then(([totals, alarms, budget]) => ({ totals, alarms, budget }));
      cached = { at: now, value };
      value.catch(() => {
        cached = undefined;
      });
    }
    return cached.value;
  };

  /** A gauge set from the snapshot on every scrape (labels not seen this time are dropped). */
  const gauge = <L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    fill: (set: (labels: Record<L, string>, value: number) => void, data: Snapshot) => void,
  ) =>
    new Gauge<L>({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        const data = await snapshot();
        this.reset();
        fill((labels, value) => (labelNames.length === 0 ? this.set(value) : this.set(labels, value)), data);
      },
    });
  /** A counter read from the store: the running total, re-read on every scrape. */
  const total = <L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    fill: (add: (labels: Record<L, string>, value: number) => void, data: Snapshot) => void,
  ) =>
    new Counter<L>({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        const data = await snapshot();
        this.reset();
        fill((labels, value) => {
          if (value > 0) this.inc(labels, value);
        }, data);
      },
    });

  gauge('opx_incidents', 'Incidents by status and severity.', ['status', 'severity'], (set, { totals }) => {
    for (const row of totals.incidents) set({ status: row.status, severity: row.severity }, row.count);
  });
  gauge(
    'opx_jobs',
    'Background jobs by kind and status (pending ones are the queue).',
    ['kind', 'status'],
    (set, { totals }) => {
      for (const row of totals.jobs) set({ kind: row.kind, status: row.status }, row.count);
    },
  );
  total(
    'opx_llm_calls_total',
    'Language model calls by agent, model and outcome.',
    ['agent', 'model', 'status'],
    (add, { totals }) => {
      for (const row of totals.calls)
        add({ agent: row.agent, model: row.model, status: row.status }, row.calls);
    },
  );
  total(
    'opx_llm_tokens_total',
    'Tokens of language model calls by agent, model and type (input excludes cached; unknown counts are not added).',
    ['agent', 'model', 'type'],
    (add, { totals }) => {
      for (const row of totals.calls) {
        const labels = { agent: row.agent, model: row.model };
        add({ ...labels, type: 'input' }, row.inputTokens);
        add({ ...labels, type: 'output' }, row.outputTokens);
        add({ ...labels, type: 'cache_read' }, row.cacheReadTokens);
        add({ ...labels, type: 'cache_write' }, row.cacheWriteTokens);
      }
    },
  );
  total(
    'opx_llm_cost_usd_total',
    'Priced cost of language model calls, in USD.',
    ['agent', 'model'],
    (add, { totals }) => {
      const byKey = new Map<string, { agent: string; model: string; usd: number }>();
      for (const row of totals.calls) {
        const key = `${row.agent}\u0000${row.model}`;
        const entry = byKey.get(key) ?? { agent: row.agent, model: row.model, usd: 0 };
        entry.usd += row.costUsd;
        byKey.set(key, entry);
      }
      for (const entry of byKey.values()) add({ agent: entry.agent, model: entry.model }, entry.usd);
    },
  );
  total(
    'opx_llm_retries_total',
    'Calls that re-asked a model after an invalid answer.',
    ['agent', 'model'],
    (add, { totals }) => {
      for (const row of totals.retries) add({ agent: row.agent, model: row.model }, row.count);
    },
  );
  total(
    'opx_validation_failures_total',
    'Model answers that failed validation.',
    ['agent'],
    (add, { totals }) => {
      for (const row of totals.validationFailures) add({ agent: row.agent }, row.count);
    },
  );
  total(
    'opx_guardrail_violations_total',
    'Guardrail matches by direction (input, output: model calls; ingest: redacted before storage), type and action.',
    ['direction', 'type', 'action'],
    (add, { totals }) => {
      for (const row of totals.violations)
        add({ direction: row.direction, type: row.type, action: row.action }, row.count);
    },
  );
  gauge(
    'opx_alarm_state',
    'Alarm state: 1 for the state each alarm is in, 0 for the others.',
    ['alarm', 'state'],
    (set, { alarms }) => {
      const states = new Map(alarms.map((alarm) => [alarm.name, alarm.state]));
      for (const name of ALARM_NAMES)
        for (const state of ['OK', 'ALARM', 'INSUFFICIENT_DATA'])
          set({ alarm: name, state }, (states.get(name) ?? 'INSUFFICIENT_DATA') === state ? 1 : 0);
    },
  );
  gauge('opx_budget_monthly_usd', 'The monthly budget for language model calls.', [], (set, { budget }) => {
    set({}, budget.budgetUsd);
  });
  gauge(
    'opx_budget_spent_usd',
    'Priced cost of language model calls this calendar month (UTC).',
    [],
    (set, { budget }) => {
      set({}, budget.spentUsd);
    },
  );
  return registry;
}

/** Everything `/metrics` serves for a runtime: this process's metrics and the store's. */
export function metricsRegistry(store: Store, config: Pick<Config, 'budgetMonthlyUsd'>): Registry {
  return Registry.merge([processRegistry, storeRegistry(store, config)]);
}
