import type { ProviderKind } from './settings.js';

export { PROVIDER_KINDS, type ProviderKind } from './settings.js';

export interface ChatMessage {
  role: 'user' | 'assistant';
  content: string;
}

export interface CompletionRequest {
  system: string;
  /** The conversation so far; providers expect it to start with a user turn. */
  messages: ChatMessage[];
  /** Upper bound on generated tokens; defaults to the model's configured `maxTokens`. */
  maxTokens?: number;
  /**
   * Only 0 is accepted. Bedrock and OpenAI-compatible servers are sent `temperature: 0`. Anthropic is sent
   * no temperature: the API version of the current SDK rejects sampling parameters (see anthropic.ts).
   */
  temperature?: 0;
  /** Cancels the call, including any wait between attempts. A cancelled call is never retried. */
  signal?: AbortSignal;
  /**
   * Ask for a single JSON object. OpenAI-compatible servers get `response_format: json_object`;
   * Anthropic and Bedrock, which have no schema-less JSON mode, get an instruction appended to the system
   * prompt. The text is returned as the model wrote it: callers parse and validate it.
   */
  responseFormat?: 'json';
}

/**
 * Token counts as the provider reported them. A count the provider did not report is null, never 0.
 * The four are disjoint: `inputTokens` are the prompt tokens neither read from nor written to a cache.
 */
export interface TokenUsage {
  inputTokens: number | null;
  outputTokens: number | null;
  cacheReadTokens: number | null;
  cacheWriteTokens: number | null;
}

export interface CompletionResult {
  text: string;
  usage: TokenUsage;
  /** The provider kind that answered (`anthropic`, `bedrock`, `openai-compatible`). */
  provider: ProviderKind;
  /** The model as configured (the id sent to the provider). */
  model: string;
  /** Wall time of the whole call, attempts and waits between them included. */
  latencyMs: number;
  /** The provider's stop reason as it reported it (`end_turn`, `max_tokens`, `stop`, …), or null. */
  stopReason: string | null;
  /** Attempts made, the successful one included (1 when the first attempt succeeded). */
  attempts: number;
}

export interface LanguageModel {
  readonly kind: ProviderKind;
  readonly model: string;
  /** Throws `LanguageModelError` on failure, after retries where the failure is retryable. */
  complete(request: CompletionRequest): Promise<CompletionResult>;
}

/** What one provider attempt returns; the shared retry loop adds provider, model, latency and attempts. */
export interface AttemptResult {
  text: string;
  usage: TokenUsage;
  stopReason: string | null;
}

/** Instruction appended to the system prompt when JSON is requested from a provider without a JSON mode. */
export const JSON_INSTRUCTION =
  'Respond with a single JSON object and nothing else: no prose, no Markdown code fences.';

/** A non-negative integer token count, or null when absent or not a number. */
export function tokenCount(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? Math.trunc(value) : null;
}
