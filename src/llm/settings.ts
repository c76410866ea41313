/**
 * The language model settings: which provider, which model, and the limits of each call. Pure schemas
 * and constants (zod only), so src/config composes them without loading a provider SDK. The flat
 * `llm*` settings of src/config are these fields; `createLanguageModel` (index.ts) parses the whole.
 */
import { z } from 'zod';

/** The providers configuration can select. `deterministic` is the default and calls nothing. */
export const PROVIDER_KINDS = ['deterministic', 'anthropic', 'bedrock', 'openai-compatible'] as const;
export type ProviderKind = (typeof PROVIDER_KINDS)[number];

/** Upper bound on generated tokens per call: each agent answers with one finding, well under this. */
export const DEFAULT_MAX_TOKENS = 1024;
/** Limit for each attempt of a call. */
export const DEFAULT_TIMEOUT_MS = 60_000;
/** Attempts per call in total, the first included. */
export const DEFAULT_MAX_ATTEMPTS = 3;
/** The longest per-attempt limit a setting may ask for. */
export const MAX_TIMEOUT_MS = 600_000;

/**
 * Each setting without its default, so per-agent overrides can reuse it as optional. Numbers are coerced:
 * they arrive as text from environment variables.
 */
export const languageModelFields = {
  provider: z.enum(PROVIDER_KINDS),
  /** Model id as the provider names it; required except for `deterministic`. */
  model: z.string().min(1),
  /** Default upper bound on generated tokens per call. */
  maxTokens: z.coerce.number().int().min(64).max(64_000),
  /**
   * Anthropic: API root (`https://api.anthropic.com`). Bedrock: endpoint
   * (`https://bedrock-runtime.us-east-1.amazonaws.com`). OpenAI-compatible: the root that
   * `/chat/completions` hangs off, usually ending in `/v1` (`http://localhost:11434/v1` for Ollama).
   */
  baseUrl: z.url({ protocol: /^https?$/ }),
  /** For OpenAI-compatible servers; Anthropic reads ANTHROPIC_API_KEY, Bedrock the AWS chain. */
  apiKey: z.string().min(1),
  /** Bedrock only; otherwise AWS_REGION and the AWS config chain decide. */
  region: z.string().min(1),
  /** Limit for each attempt, in milliseconds. */
  timeoutMs: z.coerce.number().int().min(1).max(MAX_TIMEOUT_MS),
  /** Attempts in total, the first included. */
  maxAttempts: z.coerce.number().int().min(1).max(10),
};

/**
 * Settings for one language model. Per-agent configuration reuses these fields. Secrets are better left
 * to the environment (`ANTHROPIC_API_KEY`, the AWS credential chain); `apiKey` exists for
 * OpenAI-compatible servers and for callers that resolve secrets themselves.
 */
export const languageModelConfigSchema = z
  .strictObject({
    provider: languageModelFields.provider.default('deterministic'),
    model: languageModelFields.model.optional(),
    maxTokens: languageModelFields.maxTokens.default(DEFAULT_MAX_TOKENS),
    baseUrl: languageModelFields.baseUrl.optional(),
    apiKey: languageModelFields.apiKey.optional(),
    region: languageModelFields.region.optional(),
    timeoutMs: languageModelFields.timeoutMs.default(DEFAULT_TIMEOUT_MS),
    maxAttempts: languageModelFields.maxAttempts.default(DEFAULT_MAX_ATTEMPTS),
  })
  .superRefine((config, ctx) => {
    if (config.provider !== 'deterministic' && config.model === undefined) {
      ctx.addIssue({ code: 'custom', path: ['model'], message: `required for provider ${config.provider}` });
    }
    if (config.provider === 'openai-compatible' && config.baseUrl === undefined) {
      ctx.addIssue({ code: 'custom', path: ['baseUrl'], message: 'required for provider openai-compatible' });
    }
    if (config.provider === 'bedrock' && config.apiKey !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['apiKey'],
        message: 'bedrock takes credentials from the AWS credential chain, not apiKey',
      });
    }
    if (config.provider !== 'bedrock' && config.region !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['region'], message: 'only used by provider bedrock' });
    }
  })
  .transform((config) => ({ ...config, model: config.model ?? 'deterministic' }));

/** Configuration as written (defaults optional). */
export type LanguageModelConfigInput = z.input<typeof languageModelConfigSchema>;
/** Configuration after defaults. */
export type LanguageModelConfig = z.output<typeof languageModelConfigSchema>;

/** USD per million tokens for one model (src/llm/pricing.ts has the defaults and the arithmetic). */
export const priceSchema = z.strictObject({
  /** Input tokens not read from or written to a prompt cache. */
  input: z.number().min(0),
  output: z.number().min(0),
  /** Tokens read from a prompt cache; the input price when absent. */
  cacheRead: z.number().min(0).optional(),
  /** Tokens written to a prompt cache; the input price when absent. */
  cacheWrite: z.number().min(0).optional(),
});
export type Price = z.infer<typeof priceSchema>;
export type PriceTable = Record<string, Price>;
