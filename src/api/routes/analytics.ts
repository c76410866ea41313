import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { configuredNotifier, evaluateAlarms } from '../../analytics/alarms.js';
import { reportWindow, tokenReport } from '../../analytics/tokens.js';
import { timestampSchema } from '../../domain/common.js';
import type { Runtime } from '../../runtime.js';
import { parseInput, writeOf } from '../http.js';
import { presentAlarm, presentAlarmChange } from '../present.js';

export const tokensQuery = z.strictObject({
  days: z.coerce.number().int().min(1).max(3660).default(30),
  since: timestampSchema.optional(),
  until: timestampSchema.optional(),
});
export const alarmsQuery = z.strictObject({
  history: z.coerce.number().int().min(0).max(1000).default(50),
  alarm: z.string().min(1).max(100).optional(),
});

export function registerAnalyticsRoutes(app: FastifyInstance, runtime: Runtime): void {
  const read = { config: { scope: 'read' as const } };
  const admin = { config: { scope: 'admin' as const } };

  app.get('/v1/analytics/tokens', read, async (request) => {
    const query = parseInput(tokensQuery, request.query ?? {}, 'query');
    const now = Date.now();
    const window = reportWindow(query, now, {
      message: 'query.until: must be after since',
      path: 'query.until',
    });
    return tokenReport(runtime.store, {
      ...window,
      budgetUsd: runtime.config.budgetMonthlyUsd,
      hardCap: runtime.config.budgetHardCap,
      now,
    });
  });

  app.get('/v1/alarms', read, async (request) => {
    const query = parseInput(alarmsQuery, request.query ?? {}, 'query');
    const alarms = await runtime.store.analytics.alarms();
    const history = await runtime.store.analytics.alarmHistory({
      limit: query.history,
      ...(query.alarm ? { alarm: query.alarm } : {}),
    });
    return { alarms: alarms.map(presentAlarm), history: history.map(presentAlarmChange) };
  });

  /** Evaluates now instead of waiting for the schedule; returns the readings and what changed. */
  app.post('/v1/alarms/evaluate', admin, async (request) => {
    // Before evaluating: a bad Idempotency-Key must be refused before the alarm states are written.
    const write = writeOf(request);
    const notify = configuredNotifier(runtime.config);
    const result = await evaluateAlarms(runtime.store, runtime.config, {
      ...(notify ? { notify } : {}),
      log: (line) => app.log.info(line),
    });
    await runtime.writes.audited(write, 200);
    return { ...result, changes: result.changes.map(presentAlarmChange) };
  });
}
