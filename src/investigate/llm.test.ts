import { describe, expect, it } from 'vitest';
import { configSchema } from '../config/index.js';
import { shopBundle } from './agents/fixtures.test-support.js';
import { analyzeSignals } from './agents/signal-intelligence.js';
import { compactEvidence, configuredRefiners } from './llm.js';

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
