import { describe, expect, it } from 'vitest';
import { configSchema, loadConfig } from '../config/index.js';
import { costOf, DEFAULT_PRICES, priceFor, priceTable } from './pricing.js';

const usage = (
  input: number | null,
  output: number | null,
  cacheRead: number | null = null,
  cacheWrite: number | null = null,
) => ({
  inputTokens: input,
  outputTokens: output,
  cacheReadTokens: cacheRead,
  cacheWriteTokens: cacheWrite,
});

describe('price table', () => {
  it('matches model ids by the longest key they contain, across naming schemes', () => {
    expect(priceFor('gpt-4o-mini-2024-07-18', DEFAULT_PRICES)?.key).toBe('gpt-4o-mini');
    expect(priceFor('gpt-4o-2024-08-06', DEFAULT_PRICES)?.key).toBe('gpt-4o');
    expect(priceFor('claude-sonnet-4-5-20250929', DEFAULT_PRICES)?.key).toBe('claude-sonnet-4-5');
    expect(priceFor('us.anthropic.claude-sonnet-4-5-20250929-v1:0', DEFAULT_PRICES)?.key).toBe(
      'claude-sonnet-4-5',
    );
    expect(priceFor('claude-opus-4-1-20250805', DEFAULT_PRICES)?.key).toBe('claude-opus-4-1');
    expect(priceFor('GPT-5-MINI', DEFAULT_PRICES)?.key).toBe('gpt-5-mini');
    expect(priceFor('llama3.1:8b', DEFAULT_PRICES)).toBeUndefined();
  });

  it('prices each kind of token at its rate, and leaves the cost unknown when it cannot be known', () => {
    // Sonnet 4.5: $3 in, $15 out, $0.30 cache read, $3.75 cache write per million.
    expect(costOf(usage(1000, 200, 5000, 2000), 'claude-sonnet-4-5', DEFAULT_PRICES)).toBeCloseTo(
      (1000 * 3 + 200 * 15 + 5000 * 0.3 + 2000 * 3.75) / 1e6,
      10,
    );
    // A missing cache price falls back to the input price; unknown cache counts count as none.
    expect(costOf(usage(100, 10, 50), 'm', { m: { input: 2, output: 4 } })).toBeCloseTo(
      (150 * 2 + 40) / 1e6,
      10,
    );
    expect(costOf(usage(100, 10), 'llama3.1', DEFAULT_PRICES)).toBeNull();
    expect(costOf(usage(null, 10), 'gpt-4o', DEFAULT_PRICES)).toBeNull();
    expect(costOf(usage(100, null), 'gpt-4o', DEFAULT_PRICES)).toBeNull();
    expect(costOf(usage(0, 0), 'gpt-4o', DEFAULT_PRICES)).toBe(0);
  });

  it('takes overrides and additions from the configuration, JSON in the environment', () => {
    const config = loadConfig({
      env: { OPX_LLM_PRICES: '{"llama3.1": {"input": 0, "output": 0}, "gpt-4o": {"input": 1, "output": 2}}' },
      cwd: '/nonexistent',
    });
    const table = priceTable(config.llmPrices);
    expect(costOf(usage(1000, 1000), 'llama3.1:8b', table)).toBe(0);
    expect(costOf(usage(1_000_000, 0), 'gpt-4o', table)).toBe(1);
    expect(table['claude-sonnet-4-5']).toEqual(DEFAULT_PRICES['claude-sonnet-4-5']);
    expect(() =>
      loadConfig({ env: { OPX_LLM_PRICES: '{"x": {"input": -1, "output": 0}}' }, cwd: '/nonexistent' }),
    ).toThrow(/llmPrices\.x\.input/);
    expect(() => loadConfig({ env: { OPX_LLM_PRICES: 'not json' }, cwd: '/nonexistent' })).toThrow(
      /OPX_LLM_PRICES/,
    );
    expect(configSchema.parse({}).llmPrices).toEqual({});
  });
});
