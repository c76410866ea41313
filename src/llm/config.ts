import { z } from 'zod';
import { DEFAULT_MAX_ATTEMPTS, DEFAULT_TIMEOUT_MS } from './retry.js';
import { PROVIDER_KINDS } from './types.js';

/**
 * Settings for one language model. Per-agent configuration reuses this schema. Secrets are better left to
 * the environment (`ANTHROPIC_API_KEY`, the AWS credential chain); `apiKey` exists for OpenAI-compatible
 * servers and for callers that resolve secrets themselves.
 */
export const languageModelConfigSchema = z
  .strictObject({
    provider: z.enum(PROVIDER_KINDS).default('deterministic'),
    /** Model id as the provider names it; required except for `deterministic`. */
    model: z.string().min(1).optional(),
    /** Default upper bound on generated tokens per call. */
    maxTokens: z.coerce.number().int().min(1).max(1_000_000).default(4096),
    /**
     * Anthropic: API root (`https://api.anthropic.com`). Bedrock: endpoint
     * (`https://bedrock-runtime.us-east-1.amazonaws.com`). OpenAI-compatible: the root that
     * `/chat/completions` hangs off, usually ending in `/v1` (`http://localhost:11434/v1` for Ollama).
     */
    baseUrl: z.url({ protocol: /^https?$/ }).optional(),
    apiKey: z.string().min(1).optional(),
    /** Bedrock only; otherwise AWS_REGION and the AWS config chain decide. */
    region: z.string().min(1).optional(),
    /** Limit for each attempt. */
    timeoutMs: z.coerce.number().int().min(1).max(3_600_000).default(DEFAULT_TIMEOUT_MS),
    /** Attempts in total, the first included. */
    maxAttempts: z.coerce.number().int().min(1).max(10).default(DEFAULT_MAX_ATTEMPTS),
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
