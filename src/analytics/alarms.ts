/**
 * The seven alarms of the original design, evaluated over sliding windows of OPX's own records
 * (llm_traces, guardrail_violations), each with a state (OK, ALARM, INSUFFICIENT_DATA) and a history
 * of its changes. A change can be sent to a webhook as HMAC-signed JSON.
 *
 * Evaluation is idempotent and safe to run from several processes at once: a change is recorded only
 * by the evaluator that moves the alarm out of the state it read (see AnalyticsRepository.transition).
 */

import { createHmac } from 'node:crypto';
import type { Config } from '../config/index.js';
import type { BudgetStatus } from '../domain/analytics.js';
import type { AlarmRow, AlarmState } from '../store/repositories/analytics.js';
import type { Store } from '../store/store.js';
import { runEvery } from '../util/schedule.js';

export type { BudgetStatus };

export const ALARM_NAMES = [
  'Guardrails-HighContentViolationRate',
  'Guardrails-HighPIIViolationRate',
  'TokenAnalytics-BudgetWarning-80pct',
  'TokenAnalytics-BudgetCritical-95pct',
  'TokenAnalytics-CostSpike',
  'Validation-HighFailureRate',
  'Validation-HighRetryRate',
] as const;
export type AlarmName = (typeof ALARM_NAMES)[number];

export interface AlarmReading {
  name: AlarmName;
  state: AlarmState;
  /** The measured value the state was decided on (a rate, a budget fraction, an hour's cost), or null. */
  value: number | null;
  threshold: number;
  reason: string;
}

export type AlarmSettings = Pick<Config, 'budgetMonthlyUsd' | 'alarmThresholds'>;

const HOUR_MS = 3_600_000;

/** The first instant of `now`'s calendar month, UTC. */
export function monthStart(now: number): number {
  const date = new Date(now);
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1);
}

export async function budgetStatus(store: Store, budgetUsd: number, now: number): Promise<BudgetStatus> {
  const since = monthStart(now);
  const spentUsd = await store.analytics.cost(since, now + 1);
  return { monthStart: since, budgetUsd, spentUsd, fraction: spentUsd / budgetUsd };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

const usd = (value: number) => `$${value.toFixed(value >= 100 ? 0 : value >= 1 ? 2 : 4)}`;
const rate = (value: number) => value.toFixed(3).replace(/\.?0+$/, '') || '0';

/** Reads every alarm's current value and the state it implies, without recording anything. */
export async function readAlarms(
  store: Store,
  settings: AlarmSettings,
  now: number,
): Promise<AlarmReading[]> {
  const t = settings.alarmThresholds;
  const windowMs = t.windowSeconds * 1000;
  const since = now - windowMs + 1;
  const [calls, violations, budget, spike] = await Promise.all([
    store.analytics.callStats(since, now + 1),
    store.analytics.violationCounts(since, now + 1),
    budgetStatus(store, settings.budgetMonthlyUsd, now),
    store.analytics.costBuckets(
      now + 1 - (t.costSpikeBaselineHours + 1) * HOUR_MS,
      HOUR_MS,
      t.costSpikeBaselineHours + 1,
    ),
  ]);
  const window = `the last ${Math.round(t.windowSeconds / 60)} min`;
  const perCall = (name: AlarmName, count: number, threshold: number, what: string): AlarmReading => {
    if (calls.calls < t.minCalls)
      return {
        name,
        state: 'INSUFFICIENT_DATA',
        value: null,
        threshold,
        reason: `${calls.calls} model calls in ${window}; the rate needs at least ${t.minCalls}`,
      };
    const value = count / calls.calls;
    return {
      name,
      state: value > threshold ? 'ALARM' : 'OK',
      value,
      threshold,
      reason: `${rate(value)} ${what} per model call in ${window} (${count} of ${calls.calls} calls; threshold ${threshold})`,
    };
  };
  const budgetAlarm = (name: AlarmName, threshold: number): AlarmReading => ({
    name,
    state: budget.fraction >= threshold ? 'ALARM' : 'OK',
    value: budget.fraction,
    threshold,
    reason: `${usd(budget.spentUsd)} of the ${usd(budget.budgetUsd)} monthly budget spent (${Math.round(budget.fraction * 100)}%; alarm at ${Math.round(threshold * 100)}%)`,
  });
  const lastHour = spike.at(-1)!;
  const baseline = spike.slice(0, -1);
  const spikeThreshold = Math.max(t.costSpikeFactor * median(baseline), t.costSpikeMinUsd);
  const costSpike: AlarmReading =
    spike.every((value) => value === 0) && calls.calls === 0
      ? {
          name: 'TokenAnalytics-CostSpike',
          state: 'INSUFFICIENT_DATA',
          value: null,
          threshold: spikeThreshold,
          reason: `no priced model calls in the last ${t.costSpikeBaselineHours + 1} hours`,
        }
      : {
          name: 'TokenAnalytics-CostSpike',
          state: lastHour > spikeThreshold ? 'ALARM' : 'OK',
          value: lastHour,
          threshold: spikeThreshold,
          reason: `${usd(lastHour)} in the last hour against ${usd(spikeThreshold)} (${t.costSpikeFactor}× the median hour of the ${t.costSpikeBaselineHours} before it, ${usd(median(baseline))}, and at least ${usd(t.costSpikeMinUsd)})`,
        };
  return [
    perCall(
      'Guardrails-HighContentViolationRate',
      violations.content,
      t.contentViolationRate,
      'prompt-injection matches',
    ),
    perCall('Guardrails-HighPIIViolationRate', violations.pii, t.piiViolationRate, 'PII and secret matches'),
    budgetAlarm('TokenAnalytics-BudgetWarning-80pct', 0.8),
    budgetAlarm('TokenAnalytics-BudgetCritical-95pct', 0.95),
    costSpike,
    perCall('Validation-HighFailureRate', calls.invalid, t.validationFailureRate, 'invalid answers'),
    perCall('Validation-HighRetryRate', calls.retries, t.validationRetryRate, 'retries'),
  ];
}

export interface AlarmChange extends AlarmReading {
  from: AlarmState;
  at: number;
}

export type AlarmNotifier = (change: AlarmChange) => Promise<void>;

/**
 * Evaluates every alarm and records what changed. Each change is logged and, when a notifier is
 * given, sent; a notifier failure is logged and does not undo the change.
 */
export async function evaluateAlarms(
  store: Store,
  settings: AlarmSettings,
  options: { now?: number; notify?: AlarmNotifier; log?: (line: string) => void } = {},
): Promise<{ readings: AlarmReading[]; changes: AlarmChange[] }> {
  const now = options.now ?? Date.now();
  await store.analytics.ensureAlarms(ALARM_NAMES, now);
  const readings = await readAlarms(store, settings, now);
  const current = new Map((await store.analytics.alarms()).map((row: AlarmRow) => [row.name, row]));
  const changes: AlarmChange[] = [];
  for (const reading of readings) {
    const from = current.get(reading.name)?.state ?? 'INSUFFICIENT_DATA';
    const moved = await store.transaction((scope) =>
      scope.analytics.transition(reading.name, from, reading.state, reading.reason, reading.value, now),
    );
    if (moved && from !== reading.state) changes.push({ ...reading, from, at: now });
  }
  for (const change of changes) {
    options.log?.(`alarm ${change.name}: ${change.from} -> ${change.state}: ${change.reason}`);
    if (options.notify)
      await options.notify(change).catch((error: unknown) => {
        options.log?.(`alarm ${change.name}: the webhook failed: ${(error as Error).message}`);
      });
  }
  return { readings, changes };
}

/** The signature header value for a webhook body: `sha256=` + HMAC-SHA256 of `<timestamp>.<body>`. */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * Sends each change as JSON to `url`, with `x-opx-timestamp` (epoch seconds) and, when a secret is
 * set, `x-opx-signature` (webhookSignature). Tries three times with backoff; a 2xx is success.
 */
export function webhookNotifier(
  url: string,
  secret: string | undefined,
  options: { timeoutMs?: number; attempts?: number; backoffMs?: number } = {},
): AlarmNotifier {
  const attempts = options.attempts ?? 3;
  return async (change) => {
    const body = JSON.stringify({
      alarm: change.name,
      from: change.from,
      to: change.state,
      value: change.value,
      threshold: change.threshold,
      reason: change.reason,
      at: new Date(change.at).toISOString(),
    });
    let lastError: unknown;
    for (let attempt = 1; attempt <= attempts; attempt += 1) {
      const timestamp = String(Math.floor(Date.now() / 1000));
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'opx-alarms',
            'x-opx-timestamp': timestamp,
            ...(secret ? { 'x-opx-signature': webhookSignature(secret, timestamp, body) } : {}),
          },
          body,
          signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
        });
        await response.arrayBuffer();
        if (response.ok) return;
        lastError = new Error(`HTTP ${response.status}`);
      } catch (error) {
        lastError = error;
      }
      if (attempt < attempts)
        await new Promise((resolve) => setTimeout(resolve, (options.backoffMs ?? 500) * 2 ** (attempt - 1)));
    }
    throw lastError instanceof Error ? lastError : new Error(String(lastError));
  };
}

/** The notifier the configuration asks for, or none. */
export function configuredNotifier(config: Pick<Config, 'alarmWebhookUrl' | 'alarmWebhookSecret'>) {
  return config.alarmWebhookUrl
    ? webhookNotifier(config.alarmWebhookUrl, config.alarmWebhookSecret)
    : undefined;
}

/** Evaluates the alarms every `intervalMs` until `signal` aborts. */
export function scheduleAlarms(
  store: Store,
  config: Config,
  options: { signal: AbortSignal; log: (line: string) => void },
): Promise<void> {
  const notify = configuredNotifier(config);
  return runEvery(config.alarmIntervalSeconds * 1000, options.signal, () =>
    evaluateAlarms(store, config, { ...(notify ? { notify } : {}), log: options.log }).then(
      () => {},
      (error: unknown) => options.log(`alarm evaluation failed: ${(error as Error).message}`),
    ),
  );
}
