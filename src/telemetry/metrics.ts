/**
 * OPX's own metrics in the Prometheus format (prom-client), served at `/metrics`.
 *
 * Two kinds:
 * - Process metrics, counted where the work happens: signals ingested, detection latency,
 *   investigation and agent durations, and Node's own (`opx_process_*`, `opx_nodejs_*`). Each process
 *   counts its own; Prometheus sums the instances.
 * - Store metrics, read from the database at scrape time (at most every few seconds): incidents by
 *   status and severity, LLM calls, tokens and cost, guardrail violations, validation failures and
 *   retries, alarm states, the budget, and the job queue. They are the same whichever API process is
 *   scraped, so aggregate them with max(), not sum().
 */

import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { ALARM_NAMES, budgetStatus } from '../analytics/alarms.js';
import type { Config } from '../config/index.js';
import type { Store } from '../store/index.js';
import type { MetricsSnapshot } from '../store/repositories/analytics.js';

/** This process's metrics: one registry per process, whatever the number of runtimes. */
export const processRegistry = new Registry();
collectDefaultMetrics({ register: processRegistry, prefix: 'opx_' });

export const signalsIngested = new Counter({
  name: 'opx_signals_ingested_total',
  help: 'Signals accepted and stored, by source and what ingest did with them (created, repeated, resolved, …).',
  labelNames: ['source', 'action'] as const,
  registers: [processRegistry],
});

export const detectionLatency = new Histogram({
  name: 'opx_detection_latency_seconds',
  help: 'From the earliest signal of a new incident starting to the incident being opened.',
  buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
  registers: [processRegistry],
});

export const investigationDuration = new Histogram({
  name: 'opx_investigation_duration_seconds',
  help: 'Wall time of an investigation run in this process, by outcome.',
  labelNames: ['outcome'] as const,
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
  registers: [processRegistry],
});

export const agentDuration = new Histogram({
  name: 'opx_agent_duration_seconds',
  help: "Wall time of one agent's node (engine, and model calls when configured), by agent.",
  labelNames: ['agent'] as const,
  buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60],
  registers: [processRegistry],
});

/** Runs `work` and observes its wall time in seconds on `histogram`, whether it succeeds or throws. */
export async function timed<T>(
  histogram: { observe(value: number): void },
  work: () => Promise<T>,
): Promise<T> {
  const started = performance.now();
  try {
    return await work();
  } finally {
    histogram.observe((performance.now() - started) / 1000);
  }
}

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
