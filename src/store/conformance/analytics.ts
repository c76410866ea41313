import { describe, expect, it } from 'vitest';
import type { LlmTrace } from '../repositories/safety.js';
import { T0 } from './fixtures.js';
import { type StoreFactory, useStore } from './harness.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;

function trace(overrides: Partial<Omit<LlmTrace, 'id'>> & { createdAt: number }): Omit<LlmTrace, 'id'> {
  return {
    incidentId: 'inc_a',
    investigationId: 'inv_a',
    agent: 'change-intelligence',
    provider: 'anthropic',
    model: 'claude-sonnet-4-5',
    attempt: 1,
    prompt: 'p',
    response: '{}',
    inputTokens: 100,
    outputTokens: 10,
    cacheReadTokens: null,
    cacheWriteTokens: null,
    costUsd: 0.5,
    latencyMs: 5,
    status: 'ok',
    error: null,
    ...overrides,
  };
}

export function analyticsSpecs(init: StoreFactory): void {
  describe('analytics', () => {
    const store = useStore(init);

    it('sums tokens and cost by day, agent, model, incident and investigation, counting unknowns apart', async () => {
      const day1 = Math.floor((T0 + 10 * DAY) / DAY) * DAY;
      const day2 = day1 + DAY;
      await store().safety.addTraces([
        trace({ createdAt: day1 + 1000 }),
        trace({ createdAt: day1 + 2000, attempt: 2, status: 'ok', cacheReadTokens: 40, costUsd: 0.25 }),
        trace({ createdAt: day1 + 3000, agent: 'knowledge-rag', model: 'gpt-4.1-mini', costUsd: 0.125 }),
        // Unknown counts and no price: counted as a call, its tokens and cost left out of the sums.
        trace({
          createdAt: day2 + 1000,
          inputTokens: null,
          outputTokens: null,
          costUsd: null,
          investigationId: 'inv_b',
        }),
        // A prompt the guardrails blocked made no call.
        trace({
          createdAt: day2 + 2000,
          attempt: 0,
          status: 'blocked',
          inputTokens: null,
          outputTokens: null,
          costUsd: null,
        }),
        // Outside the window.
        trace({ createdAt: day2 + DAY + 1, costUsd: 100 }),
      ]);
      const window = { since: day1, until: day2 + DAY };
      const byDayAgentModel = await store().analytics.usage(window, ['day', 'agent', 'model']);
      expect(byDayAgentModel).toEqual([
        {
          day: new Date(day1).toISOString().slice(0, 10),
          agent: 'change-intelligence',
          model: 'claude-sonnet-4-5',
          calls: 2,
          inputTokens: 200,
          outputTokens: 20,
          cacheReadTokens: 40,
          cacheWriteTokens: 0,
          costUsd: 0.75,
          unknownTokenCalls: 0,
          unpricedCalls: 0,
        },
        expect.objectContaining({ agent: 'knowledge-rag', model: 'gpt-4.1-mini', calls: 1, costUsd: 0.125 }),
        expect.objectContaining({
          day: new Date(day2).toISOString().slice(0, 10),
          agent: 'change-intelligence',
          calls: 1,
          inputTokens: 0,
          costUsd: 0,
          unknownTokenCalls: 1,
          unpricedCalls: 1,
        }),
      ]);
      const byInvestigation = await store().analytics.usage(window, ['investigation']);
      expect(byInvestigation.map((row) => [row.investigationId, row.calls, row.costUsd])).toEqual([
        ['inv_a', 3, 0.875],
        ['inv_b', 1, 0],
      ]);
      const total = await store().analytics.usage(window, []);
      expect(total).toEqual([expect.objectContaining({ calls: 4, inputTokens: 300, costUsd: 0.875 })]);
      expect(await store().analytics.usage({ ...window, incidentId: 'inc_none' }, [])).toEqual([
        expect.objectContaining({ calls: 0, costUsd: 0 }),
      ]);
      expect(await store().analytics.cost(day1, day2 + DAY)).toBe(0.875);
    });

    it('gives the cost of consecutive buckets from any start, zero for buckets without calls', async () => {
      const start = T0 + 20 * DAY + 123_457; // not aligned to the clock hour
      await store().safety.addTraces([
        trace({ createdAt: start, costUsd: 1 }),
        trace({ createdAt: start + HOUR - 1, costUsd: 2 }),
        trace({ createdAt: start + 2 * HOUR + 5, costUsd: 4 }),
        trace({ createdAt: start + 3 * HOUR, costUsd: 8 }),
      ]);
      expect(await store().analytics.costBuckets(start, HOUR, 3)).toEqual([3, 0, 4]);
    });

    it('counts calls, invalid answers, retries, errors and blocked prompts, and violations by kind', async () => {
      const start = T0 + 30 * DAY;
      await store().safety.addTraces([
        trace({ createdAt: start + 1, status: 'invalid' }),
        trace({ createdAt: start + 2, attempt: 2, status: 'ok' }),
        trace({ createdAt: start + 3, status: 'error', costUsd: null }),
        trace({ createdAt: start + 4, attempt: 0, status: 'blocked' }),
      ]);
      expect(await store().analytics.callStats(start, start + 10)).toEqual({
        calls: 3,
        invalid: 1,
        retries: 1,
        errors: 1,
        blocked: 1,
      });
      const violation = (direction: 'input' | 'output' | 'ingest', entityType: string, at: number) => ({
        incidentId: null,
        agent: null,
        direction,
        entityType,
        action: 'anonymize',
        location: 'x',
        valueHash: 'h',
        createdAt: at,
      });
      await store().safety.addViolations([
        violation('input', 'EMAIL', start + 1),
        violation('output', 'AWS_ACCESS_KEY', start + 2),
        violation('input', 'INJECTION:instruction-override', start + 3),
        violation('ingest', 'EMAIL', start + 4),
        violation('input', 'EMAIL', start + 100),
      ]);
      expect(await store().analytics.violationCounts(start, start + 10)).toEqual({
        pii: 2,
        content: 1,
        ingest: 1,
      });
    });

    it('keeps alarm state with a history of changes, each recorded once under concurrent evaluators', async () => {
      await store().analytics.ensureAlarms(['A', 'B'], T0);
      await store().analytics.ensureAlarms(['A'], T0 + 1);
      expect((await store().analytics.alarms()).map((alarm) => [alarm.name, alarm.state])).toEqual([
        ['A', 'INSUFFICIENT_DATA'],
        ['B', 'INSUFFICIENT_DATA'],
      ]);
      expect(await store().analytics.transition('A', 'INSUFFICIENT_DATA', 'OK', 'fine', 0.1, T0 + 10)).toBe(
        true,
      );
      // A second evaluator that read the old state loses.
      expect(await store().analytics.transition('A', 'INSUFFICIENT_DATA', 'OK', 'fine', 0.1, T0 + 11)).toBe(
        false,
      );
      expect(await store().analytics.transition('A', 'OK', 'OK', 'still fine', 0.2, T0 + 20)).toBe(true);
      expect(await store().analytics.transition('A', 'OK', 'ALARM', 'too high', 0.9, T0 + 30)).toBe(true);
      const [a] = await store().analytics.alarms();
      expect(a).toEqual({ name: 'A', state: 'ALARM', reason: 'too high', value: 0.9, updatedAt: T0 + 30 });
      const history = await store().analytics.alarmHistory({ alarm: 'A' });
      expect(history.map((item) => [item.from, item.to, item.value, item.at])).toEqual([
        ['OK', 'ALARM', 0.9, T0 + 30],
        ['INSUFFICIENT_DATA', 'OK', 0.1, T0 + 10],
      ]);
      expect(await store().analytics.alarmHistory({ alarm: 'B' })).toEqual([]);
    });
  });
}
