/**
 * What a language model call costs: a price table keyed by model name, in US dollars per million
 * tokens, and the arithmetic over a call's token counts.
 *
 * The defaults are the providers' list prices for on-demand use as their pricing pages gave them in
 * November 2025 (https://www.anthropic.com/pricing, https://openai.com/api/pricing). Prices change:
 * override or extend the table with `llmPrices` in opx.config.yaml or OPX_LLM_PRICES (JSON), e.g.
 * `{"claude-sonnet-4-5": {"input": 3, "output": 15}, "llama3.1": {"input": 0, "output": 0}}`. Bedrock
 * bills Anthropic models at the same list prices in most regions; a regional or batch price needs an
 * override.
 *
 * A key matches a model id that contains it, so `claude-sonnet-4-5` prices
 * `claude-sonnet-4-5-20250929` and the Bedrock id `us.anthropic.claude-sonnet-4-5-20250929-v1:0`.
 * The longest matching key wins (`gpt-4o-mini` over `gpt-4o`).
 */

import type { Price, PriceTable } from './settings.js';
import type { TokenUsage } from './types.js';

export type { Price, PriceTable } from './settings.js';

/** USD per million tokens. Anthropic cache writes are the 5-minute cache's price. */
export const DEFAULT_PRICES: PriceTable = {
  // Anthropic
  'claude-opus-4-5': { input: 5, output: 25, cacheRead: 0.5, cacheWrite: 6.25 },
  'claude-opus-4-1': { input: 15, output: 75, cacheRead: 1.5, cacheWrite: 18.75 },
  'claude-opus-4': { input: 15, output: 75, cacheRead: 1.5, cacheWrite: 18.75 },
  'claude-sonnet-4-5': { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 },
  'claude-sonnet-4': { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 },
  'claude-3-7-sonnet': { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 },
  'claude-haiku-4-5': { input: 1, output: 5, cacheRead: 0.1, cacheWrite: 1.25 },
  'claude-3-5-haiku': { input: 0.8, output: 4, cacheRead: 0.08, cacheWrite: 1 },
  // OpenAI (cached input is the cache-read price; OpenAI does not charge cache writes)
  'gpt-5': { input: 1.25, output: 10, cacheRead: 0.125 },
  'gpt-5-mini': { input: 0.25, output: 2, cacheRead: 0.025 },
  'gpt-5-nano': { input: 0.05, output: 0.4, cacheRead: 0.005 },
  'gpt-4.1': { input: 2, output: 8, cacheRead: 0.5 },
  'gpt-4.1-mini': { input: 0.4, output: 1.6, cacheRead: 0.1 },
  'gpt-4.1-nano': { input: 0.1, output: 0.4, cacheRead: 0.025 },
  'gpt-4o': { input: 2.5, output: 10, cacheRead: 1.25 },
  'gpt-4o-mini': { input: 0.15, output: 0.6, cacheRead: 0.075 },
  o3: { input: 2, output: 8, cacheRead: 0.5 },
  'o4-mini': { input: 1.1, output: 4.4, cacheRead: 0.275 },
};

/** The table in force: the defaults with the configured entries added or replacing them. */
export function priceTable(overrides: PriceTable = {}): PriceTable {
  return { ...DEFAULT_PRICES, ...overrides };
}

/** The price of `model`: the longest key it contains, or undefined when none matches. */
export function priceFor(model: string, table: PriceTable): { key: string; price: Price } | undefined {
  let best: { key: string; price: Price } | undefined;
  const id = model.toLowerCase();
  for (const [key, price] of Object.entries(table)) {
    if (id.includes(key.toLowerCase()) && (!best || key.length > best.key.length)) best = { key, price };
  }
  return best;
}

/**
 * USD for one call, or null when it cannot be known: no price for the model, or the provider did not
 * report input or output tokens. Cache counts a provider does not report count as none.
 */
export function costOf(usage: TokenUsage, model: string, table: PriceTable): number | null {
  const found = priceFor(model, table);
  if (!found || usage.inputTokens === null || usage.outputTokens === null) return null;
  const { price } = found;
  const dollars =
    usage.inputTokens * price.input +
    usage.outputTokens * price.output +
    (usage.cacheReadTokens ?? 0) * (price.cacheRead ?? price.input) +
    (usage.cacheWriteTokens ?? 0) * (price.cacheWrite ?? price.input);
  // `dollars` is in USD per million tokens times tokens; rounded to a millionth of a cent.
  return Math.round(dollars * 100) / 1e8;
}
