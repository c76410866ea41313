/**
 * Token analytics: what the agents' model calls used and cost, by day, agent, model and
 * investigation, with the month's spend against the budget. Everything is summed from llm_traces.
 */

import { toIso } from '../domain/common.js';
import type { UsageRow } from '../store/repositories/analytics.js';
import type { Store } from '../store/store.js';
import { type BudgetStatus, budgetStatus } from './alarms.js';

const DAY_MS = 86_400_000;

export interface TokenReport {
  since: string;
  until: string;
  total: UsageRow;
  byDay: UsageRow[];
  byAgent: UsageRow[];
  byModel: UsageRow[];
  /** The costliest incidents, at most 20. */
  byIncident: UsageRow[];
  investigations: {
    count: number;
    /** Priced cost per investigation; investigations whose calls had no price count at what was priced. */
    meanUsd: number;
    medianUsd: number;
    maxUsd: number;
    /** The costliest, at most 20. */
    top: UsageRow[];
  };
  /** The month's start as ISO-8601, like the window: the report is printed and answered as it is. */
  budget: Omit<BudgetStatus, 'monthStart'> & { monthStart: string; hardCap: boolean };
}

export interface TokenReportOptions {
  since: number;
  until: number;
  budgetUsd: number;
  hardCap: boolean;
  now?: number;
}

/** The window `--days N` means: the last N days up to now, starting at midnight UTC. */
export function lastDays(days: number, now: number): { since: number; until: number } {
  return { since: Math.floor(now / DAY_MS) * DAY_MS - (days - 1) * DAY_MS, until: now + 1 };
}

export async function tokenReport(store: Store, options: TokenReportOptions): Promise<TokenReport> {
  const window = { since: options.since, until: options.until };
  const [total, byDay, byAgent, byModel, byIncident, byInvestigation, budget] = await Promise.all([
    store.analytics.usage(window, []),
    store.analytics.usage(window, ['day']),
    store.analytics.usage(window, ['agent']),
    store.analytics.usage(window, ['model']),
    store.analytics.usage(window, ['incident']),
    store.analytics.usage(window, ['investigation']),
    budgetStatus(store, options.budgetUsd, options.now ?? Date.now()),
  ]);
  const investigations = byInvestigation
    .filter((row) => row.investigationId !== null)
    .sort((a, b) => b.costUsd - a.costUsd);
  const costs = investigations.map((row) => row.costUsd).sort((a, b) => a - b);
  const middle = Math.floor(costs.length / 2);
  const round = (value: number) => Math.round(value * 1e8) / 1e8;
  return {
    since: new Date(options.since).toISOString(),
    until: new Date(options.until).toISOString(),
    total: total[0]!,
    byDay,
    byAgent: byAgent.sort((a, b) => b.costUsd - a.costUsd || b.calls - a.calls),
    byModel: byModel.sort((a, b) => b.costUsd - a.costUsd || b.calls - a.calls),
    byIncident: byIncident.sort((a, b) => b.costUsd - a.costUsd || b.calls - a.calls).slice(0, 20),
    investigations: {
      count: investigations.length,
      meanUsd: costs.length === 0 ? 0 : round(costs.reduce((sum, cost) => sum + cost, 0) / costs.length),
      medianUsd:
        costs.length === 0
          ? 0
          : costs.length % 2 === 1
            ? costs[middle]!
            : round((costs[middle - 1]! + costs[middle]!) / 2),
      maxUsd: costs.at(-1) ?? 0,
      top: investigations.slice(0, 20),
    },
    budget: { ...budget, monthStart: toIso(budget.monthStart), hardCap: options.hardCap },
  };
}
