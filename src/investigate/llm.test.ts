import { describe, expect, it } from 'vitest';
import { configSchema } from '../config/index.js';
import { shopBundle } from './agents/fixtures.test-support.js';
import { analyzeSignals } from './agents/signal-intelligence.js';
import { checkAnswer, compactEvidence, configuredRefiners } from './llm.js';

describe('language model configuration', () => {
  it('gives no refiner to deterministic agents, one to each agent a provider is set for', () => {
    expect(configuredRefiners(configSchema.parse({}))).toEqual({});
    const one = configuredRefiners(
      configSchema.parse({
        llmAgents: {
          'change-intelligence': {
            provider: 'openai-compatible',
            model: 'm',
            baseUrl: 'http://127.0.0.1:9/v1',
          },
        },
      }),
    );
    expect(Object.keys(one)).toEqual(['change-intelligence']);
  });

  it('rejects an incomplete provider setting with the settings to fix', () => {
    expect(() => configuredRefiners(configSchema.parse({ llmProvider: 'openai-compatible' }))).toThrow(
      /model: required.*OPX_LLM_MODEL/,
    );
  });
});

describe('compactEvidence', () => {
  it('carries the engine finding and one line per cited item, with ids, and nothing uncited', () => {
    const bundle = shopBundle();
    const finding = analyzeSignals(bundle);
    const text = compactEvidence(bundle, finding);
    const cited = new Set(finding.claims.flatMap((claim) => claim.evidenceIds));
    for (const id of cited) expect(text).toContain(`${id}:`);
    for (const signal of bundle.signals)
      if (!cited.has(signal.id)) expect(text).not.toContain(`${signal.id}:`);
    expect(text).toContain(finding.summary);
  });
});

describe('checkAnswer', () => {
  const model = { kind: 'openai-compatible' as const, model: 'm', complete: async () => ({}) as never };
  it('lets "the evidence is insufficient" stand without claims, and nothing else', () => {
    const bundle = shopBundle();
    const base = analyzeSignals(bundle);
    const answer = (fields: Record<string, unknown>) =>
      checkAnswer(
        JSON.stringify({ summary: 's', confidence: 0.2, insufficientEvidence: true, claims: [], ...fields }),
        base,
        bundle,
        model,
      );
    expect(answer({})).toHaveProperty('finding');
    expect(answer({ insufficientEvidence: false })).toEqual({
      problems: ['claims: at least one claim is needed unless insufficientEvidence is true'],
    });
    expect(answer({ confidence: 0.9 })).toEqual({
      problems: ['confidence: above 0.5 while insufficientEvidence is true'],
    });
    const cited = base.claims[0]!;
    expect(answer({ insufficientEvidence: false, claims: [cited] })).toHaveProperty('finding');
    expect(
      answer({ insufficientEvidence: false, claims: [{ ...cited, evidenceIds: ['sig_made_up'] }] }),
    ).toHaveProperty('problems');
  });
});
