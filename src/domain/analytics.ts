/**
 * The records OPX's analytics and audit answer with: token usage and cost, alarms, audit entries.
 * Types only; the store's repositories and src/analytics compute them, and the API answers with them
 * (times as ISO-8601 there).
 */

export interface UsageRow {
  /** `YYYY-MM-DD` (UTC) when grouped by day. */
  day?: string;
  agent?: string | null;
  model?: string;
  incidentId?: string | null;
  investigationId?: string | null;
  calls: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  costUsd: number;
  /** Calls whose input or output count the provider did not report. */
  unknownTokenCalls: number;
  /** Calls with no price (unknown model or unknown counts): their cost is missing from `costUsd`. */
  unpricedCalls: number;
}

export interface BudgetStatus {
  monthStart: number;
  budgetUsd: number;
  spentUsd: number;
  /** spent / budget. */
  fraction: number;
}

/** The token report (`opx costs`, `GET /v1/analytics/tokens`). */
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

export type AlarmState = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';

export interface AlarmRow {
  name: string;
  state: AlarmState;
  reason: string;
  value: number | null;
  updatedAt: number;
}

export interface AlarmTransition {
  id: string;
  alarm: string;
  from: AlarmState;
  to: AlarmState;
  reason: string;
  value: number | null;
  at: number;
}

/** One authenticated write through the API. */
export interface AuditEntry {
  id: string;
  principal: string;
  action: string;
  target: string | null;
  at: number;
  detail: Record<string, unknown>;
}
