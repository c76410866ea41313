import Anthropic from '@anthropic-ai/sdk';
import { errorForStatus, isNetworkError, LanguageModelError } from './errors.js';
import { type PreparedRequest, remoteModel } from './model.js';
import { type RetryOptions, retryAfterFromHeaders } from './retry.js';
import { type AttemptResult, JSON_INSTRUCTION, type LanguageModel, tokenCount } from './types.js';

export interface AnthropicModelOptions {
  model: string;
  maxTokens: number;
  /** Falls back to `ANTHROPIC_API_KEY`. */
  apiKey?: string | undefined;
  /** API root; the SDK's default (or `ANTHROPIC_BASE_URL`) when absent. */
  baseUrl?: string | undefined;
  retry: RetryOptions;
  env?: NodeJS.ProcessEnv;
}

/** Anthropic Messages API through the official SDK, with the SDK's own retries off. */
export function createAnthropicModel(options: AnthropicModelOptions): LanguageModel {
  const env = options.env ?? process.env;
  const apiKey = options.apiKey ?? env.ANTHROPIC_API_KEY;
  if (apiKey === undefined || apiKey === '') {
    throw new LanguageModelError('anthropic', 'config', 'no API key: set ANTHROPIC_API_KEY or apiKey');
  }
  const client = new Anthropic({
    apiKey,
    ...(options.baseUrl === undefined ? {} : { baseURL: options.baseUrl }),
    maxRetries: 0,
    // The retry loop's per-attempt AbortSignal enforces the timeout; this is only a backstop.
    timeout: options.retry.timeoutMs + 1000,
  });

  const attempt = async (request: PreparedRequest, signal: AbortSignal): Promise<AttemptResult> => {
    const system = request.json ? joinSystem(request.system, JSON_INSTRUCTION) : request.system;
    const message = await client.messages.create(
      {
        model: options.model,
        max_tokens: request.maxTokens,
        // No `temperature`: the API version this SDK major sends (anthropic-version 2026-10-21) rejects
        // temperature, top_p and top_k with a 400 even at their defaults, and recent models reject them on
        // every version. Reproducibility comes from recorded traces (replay), not from sampling settings.
        ...(system === '' ? {} : { system }),
        messages: request.messages.map((m) => ({ role: m.role, content: m.content })),
      },
      { signal },
    );
    if (!Array.isArray(message?.content)) {
      throw new LanguageModelError('anthropic', 'invalid_response', 'the response has no content array');
    }
    const text = message.content
      .flatMap((block) => (block.type === 'text' && typeof block.text === 'string' ? [block.text] : []))
      .join('');
    // The SDK does not validate bodies: a proxy or compatible server may omit any of these fields.
    const usage: Partial<Anthropic.Usage> | undefined = message.usage;
    return {
      text,
      usage: {
        inputTokens: tokenCount(usage?.input_tokens),
        outputTokens: tokenCount(usage?.output_tokens),
        cacheReadTokens: tokenCount(usage?.cache_read_input_tokens),
        cacheWriteTokens: tokenCount(usage?.cache_creation_input_tokens),
      },
      stopReason: typeof message.stop_reason === 'string' ? message.stop_reason : null,
    };
  };

  return remoteModel({
    kind: 'anthropic',
    model: options.model,
    maxTokens: options.maxTokens,
    retry: options.retry,
    attempt,
    classify: classifyAnthropicError,
  });
}

export function classifyAnthropicError(error: unknown, nowMs: number): LanguageModelError {
  if (error instanceof LanguageModelError) return error;
  if (error instanceof Anthropic.APIConnectionTimeoutError) {
    return new LanguageModelError('anthropic', 'timeout', 'the SDK timed out', {
      retryable: true,
      cause: error,
    });
  }
  if (error instanceof Anthropic.APIConnectionError) {
    return new LanguageModelError('anthropic', 'network', error.message, { retryable: true, cause: error });
  }
  if (error instanceof Anthropic.APIError && typeof error.status === 'number') {
    const headers = error.headers;
    const retryAfterMs = headers === undefined ? null : retryAfterFromHeaders((n) => headers.get(n), nowMs);
    return errorForStatus('anthropic', error.status, error.message, { retryAfterMs, cause: error });
  }
  if (error instanceof SyntaxError) {
    return new LanguageModelError('anthropic', 'invalid_response', 'the response body is not JSON', {
      cause: error,
    });
  }
  if (isNetworkError(error)) {
    return new LanguageModelError('anthropic', 'network', String(error), { retryable: true, cause: error });
  }
  return new LanguageModelError('anthropic', 'invalid_response', String(error), { cause: error });
}

function joinSystem(system: string, extra: string): string {
  return system === '' ? extra : `${system}\n\n${extra}`;
}
