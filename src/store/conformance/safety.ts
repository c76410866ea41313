import { describe, expect, it } from 'vitest';
import { T0 } from './fixtures.js';
import { type StoreFactory, unique, useStore } from './harness.js';

export function safetySpecs(init: StoreFactory): void {
  describe('safety records', () => {
    const store = useStore(init);

    it('stores LLM traces with unknown token counts as null, newest first, filtered by incident and agent', async () => {
      const incidentId = unique('inc');
      const base = {
        incidentId,
        provider: 'openai-compatible',
        model: 'test-model',
        prompt: 'redacted <EMAIL_1>',
        costUsd: null,
        latencyMs: 12.6,
        error: null,
      };
      const ids = await store().safety.addTraces([
        {
          ...base,
          agent: 'signal-intelligence',
          attempt: 1,
          response: 'not json',
          inputTokens: 120,
          outputTokens: 30,
          cacheReadTokens: null,
          cacheWriteTokens: 0,
          status: 'invalid',
          createdAt: T0,
        },
        {
          ...base,
          agent: 'signal-intelligence',
          attempt: 2,
          response: '{}',
          inputTokens: null,
          outputTokens: null,
          cacheReadTokens: null,
          cacheWriteTokens: null,
          status: 'ok',
          createdAt: T0 + 1,
        },
        {
          ...base,
          agent: 'change-intelligence',
          attempt: 1,
          response: null,
          inputTokens: null,
          outputTokens: null,
          cacheReadTokens: null,
          cacheWriteTokens: null,
          status: 'error',
          error: '429',
          createdAt: T0 + 2,
        },
      ]);
      expect(ids).toHaveLength(3);
      const all = await store().safety.traces({ incidentId });
      expect(all.map((trace) => [trace.agent, trace.attempt, trace.status])).toEqual([
        ['change-intelligence', 1, 'error'],
        ['signal-intelligence', 2, 'ok'],
        ['signal-intelligence', 1, 'invalid'],
      ]);
      expect(all[2]).toMatchObject({
        inputTokens: 120,
        cacheReadTokens: null,
        cacheWriteTokens: 0,
        latencyMs: 13,
      });
      expect(all[1]).toMatchObject({ inputTokens: null, outputTokens: null });
      expect(await store().safety.traces({ incidentId, agent: 'change-intelligence' })).toHaveLength(1);
      expect(await store().safety.trace(all[0]!.id)).toEqual(all[0]);
      expect(await store().safety.trace(unique('trc'))).toBeUndefined();
      expect(await store().safety.traces({ incidentId: unique('inc') })).toEqual([]);
    });

    it('stores validation errors and guardrail violations per incident, in order', async () => {
      const incidentId = unique('inc');
      await store().safety.addValidationErrors([
        {
          incidentId,
          agent: 'risk-blast-radius',
          attempt: 1,
          errors: ['claims[0]: unknown id x'],
          createdAt: T0,
        },
        {
          incidentId,
          agent: 'risk-blast-radius',
          attempt: 2,
          errors: ['confidence: > 1'],
          createdAt: T0 + 1,
        },
      ]);
      expect(
        (await store().safety.validationErrors(incidentId)).map((error) => [error.attempt, error.errors]),
      ).toEqual([
        [1, ['claims[0]: unknown id x']],
        [2, ['confidence: > 1']],
      ]);
      await store().safety.addViolations([
        {
          incidentId,
          agent: 'signal-intelligence',
          direction: 'input',
          entityType: 'EMAIL',
          action: 'anonymize',
          location: 'prompt:120-140',
          valueHash: 'ab'.repeat(32),
          createdAt: T0,
        },
      ]);
      expect(await store().safety.violations(incidentId)).toMatchObject([
        { agent: 'signal-intelligence', direction: 'input', entityType: 'EMAIL', action: 'anonymize' },
      ]);
      expect(await store().safety.violations(unique('inc'))).toEqual([]);
    });
  });
}
