import { errorForStatus, isNetworkError, LanguageModelError } from './errors.js';
import { type PreparedRequest, remoteModel } from './model.js';
import { type RetryOptions, retryAfterFromHeaders } from './retry.js';
import { type AttemptResult, type LanguageModel, tokenCount } from './types.js';

/*
 * Plain `fetch` rather than the `openai` SDK: the request is one POST with a small, stable JSON shape that
 * every compatible server (Ollama, vLLM, llama.cpp server, LM Studio) implements; the SDK's current major
 * requires Node 22 while OPX supports Node 20; and it would add a second retry/timeout layer to switch off.
 */

export interface OpenAICompatibleModelOptions {
  model: string;
  maxTokens: number;
  /** The root `/chat/completions` hangs off, usually ending in `/v1`. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer …` when present; local servers usually need none. */
  apiKey?: string | undefined;
  retry: RetryOptions;
  fetch?: typeof fetch;
}

export function createOpenAICompatibleModel(options: OpenAICompatibleModelOptions): LanguageModel {
  const doFetch = options.fetch ?? fetch;
  const url = `${options.baseUrl.replace(/\/+$/, '')}/chat/completions`;

  const attempt = async (request: PreparedRequest, signal: AbortSignal): Promise<AttemptResult> => {
    const messages = [
      ...(request.system === '' ? [] : [{ role: 'system', content: request.system }]),
      ...request.messages.map((m) => ({ role: m.role, content: m.content })),
    ];
    const response = await doFetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        ...(options.apiKey === undefined ? {} : { authorization: `Bearer ${options.apiKey}` }),
      },
      body: JSON.stringify({
        model: options.model,
        messages,
        max_tokens: request.maxTokens,
        temperature: 0,
        stream: false,
        ...(request.json ? { response_format: { type: 'json_object' } } : {}),
      }),
      signal,
    });
    const raw = await response.text();
    if (!response.ok) {
      const retryAfterMs = retryAfterFromHeaders((n) => response.headers.get(n), options.retry.now());
      throw errorForStatus('openai-compatible', response.status, errorMessage(response.status, raw), {
        retryAfterMs,
      });
    }
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch (cause) {
      throw new LanguageModelError('openai-compatible', 'invalid_response', 'the response body is not JSON', {
        status: response.status,
        cause,
      });
    }
    return parseCompletion(body, response.status);
  };

  return remoteModel({
    kind: 'openai-compatible',
    model: options.model,
    maxTokens: options.maxTokens,
    retry: options.retry,
    attempt,
    classify: (error) => {
      if (error instanceof LanguageModelError) return error;
      if (isNetworkError(error) || (error instanceof TypeError && error.message === 'fetch failed')) {
        return new LanguageModelError('openai-compatible', 'network', describe(error), {
          retryable: true,
          cause: error,
        });
      }
      return new LanguageModelError('openai-compatible', 'invalid_response', describe(error), {
        cause: error,
      });
    },
  });
}

interface ChatCompletionShape {
  choices?: { message?: { content?: unknown }; finish_reason?: unknown }[];
  usage?: {
    prompt_tokens?: unknown;
    completion_tokens?: unknown;
    prompt_tokens_details?: { cached_tokens?: unknown } | null;
  } | null;
}

function parseCompletion(body: unknown, status: number): AttemptResult {
  const completion = (typeof body === 'object' && body !== null ? body : {}) as ChatCompletionShape;
  const choice = Array.isArray(completion.choices) ? completion.choices[0] : undefined;
  const content = choice?.message?.content;
  if (choice === undefined || (typeof content !== 'string' && content !== null)) {
    throw new LanguageModelError(
      'openai-compatible',
      'invalid_response',
      'the response has no choices[0].message',
      {
        status,
      },
    );
  }
  const usage = completion.usage ?? {};
  const prompt = tokenCount(usage.prompt_tokens);
  const cached = tokenCount(usage.prompt_tokens_details?.cached_tokens);
  return {
    text: content ?? '',
    usage: {
      // prompt_tokens includes the cached ones; OPX counts input as the tokens not read from a cache,
      // as Anthropic and Bedrock report it, so prices and sums mean the same for every provider.
      inputTokens: prompt === null ? null : Math.max(0, prompt - (cached ?? 0)),
      outputTokens: tokenCount(usage.completion_tokens),
      cacheReadTokens: cached,
      // The chat completions format has no field for tokens written to a prompt cache.
      cacheWriteTokens: null,
    },
    stopReason: typeof choice.finish_reason === 'string' ? choice.finish_reason : null,
  };
}

function errorMessage(status: number, raw: string): string {
  try {
    const parsed = JSON.parse(raw) as { error?: { message?: unknown } | string; message?: unknown };
    const message =
      typeof parsed.error === 'string'
        ? parsed.error
        : typeof parsed.error?.message === 'string'
          ? parsed.error.message
          : typeof parsed.message === 'string'
            ? parsed.message
            : undefined;
    if (message !== undefined) return `HTTP ${status}: ${message.slice(0, 500)}`;
  } catch {
    // Not JSON; fall through to the raw text.
  }
  return `HTTP ${status}: ${raw.slice(0, 500)}`;
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? ` (${error.cause.message})` : '';
  return `${error.message}${cause}`;
}
