import { createAnthropicModel } from './anthropic.js';
import { createBedrockModel } from './bedrock.js';
import { createDeterministicModel } from './deterministic.js';
import { LanguageModelError } from './errors.js';
import { createOpenAICompatibleModel } from './openai-compatible.js';
import { defaultRetryOptions, type RetryOptions } from './retry.js';
import { type LanguageModelConfigInput, languageModelConfigSchema } from './settings.js';
import { type LanguageModel, PROVIDER_KINDS } from './types.js';

export interface LanguageModelDeps {
  /** Overrides for the retry loop: tests inject `sleep`, `now` and `random`. */
  retry?: Partial<
    Pick<RetryOptions, 'sleep' | 'now' | 'random' | 'baseDelayMs' | 'maxDelayMs' | 'maxRetryAfterMs'>
  >;
  /** Environment to read credentials from; `process.env` by default. */
  env?: NodeJS.ProcessEnv;
}

/**
 * Builds the configured model. The config is validated with `languageModelConfigSchema`; an invalid one, or
 * a missing credential the provider needs up front, throws `LanguageModelError` with code `config`.
 */
export function createLanguageModel(
  input: LanguageModelConfigInput,
  deps: LanguageModelDeps = {},
): LanguageModel {
  const parsed = languageModelConfigSchema.safeParse(input);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    const provider = PROVIDER_KINDS.find((kind) => kind === input.provider) ?? 'deterministic';
    throw new LanguageModelError(provider, 'config', `invalid configuration: ${detail}`);
  }
  const config = parsed.data;
  const retry: RetryOptions = {
    ...defaultRetryOptions,
    ...deps.retry,
    timeoutMs: config.timeoutMs,
    maxAttempts: config.maxAttempts,
  };
  switch (config.provider) {
    case 'deterministic':
      return createDeterministicModel(config.model);
    case 'anthropic':
      return createAnthropicModel({
        model: config.model,
        maxTokens: config.maxTokens,
        apiKey: config.apiKey,
        baseUrl: config.baseUrl,
        retry,
        ...(deps.env === undefined ? {} : { env: deps.env }),
      });
    case 'bedrock':
      return createBedrockModel({
        model: config.model,
        maxTokens: config.maxTokens,
        region: config.region,
        baseUrl: config.baseUrl,
        retry,
      });
    case 'openai-compatible':
      return createOpenAICompatibleModel({
        model: config.model,
        maxTokens: config.maxTokens,
        baseUrl: config.baseUrl!,
        apiKey: config.apiKey,
        retry,
      });
  }
}
