/**
 * Token analytics: what the agents' model calls used and cost, by day, agent, model and
 * investigation, with the month's spend against the budget. Everything is summed from llm_traces.
 */

import type { TokenReport } from '../domain/analytics.js';
import { toIso } from '../domain/common.js';
import { OpxError } from '../domain/errors.js';
import type { Store } from '../store/store.js';
import { budgetStatus } from './alarms.js';

export type { TokenReport };

const DAY_MS = 86_400_000;

export interface TokenReportOptions {
  since: number;
  until: number;
  budgetUsd: number;
  hardCap: boolean;
  now?: number;
}

/**
 * A report's window: from `since`, else the last `days` days, up to `until`, else now. An empty one
 * is refused with `empty` (the message and field, in the caller's words).
 */
export function reportWindow(
  query: { days: number; since?: number | undefined; until?: number | undefined },
  now: number,
  empty: { message: string; path: string },
): { since: number; until: number } {
  const window =
    query.since === undefined ? lastDays(query.days, now) : { since: query.since, until: now + 1 };
  if (query.until !== undefined) window.until = query.until;
  if (window.until <= window.since)
    throw new OpxError('invalid_request', empty.message, { path: empty.path });
  return window;
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
