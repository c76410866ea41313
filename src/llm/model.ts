import { LanguageModelError } from './errors.js';
import { type RetryOptions, runWithRetries } from './retry.js';
import type {
  AttemptResult,
  ChatMessage,
  CompletionRequest,
  CompletionResult,
  LanguageModel,
  ProviderKind,
} from './types.js';

/** A request after defaults and checks, as a provider attempt receives it. */
export interface PreparedRequest {
  system: string;
  messages: ChatMessage[];
  maxTokens: number;
  json: boolean;
}

export interface RemoteModelSpec {
  kind: Exclude<ProviderKind, 'deterministic'>;
  model: string;
  maxTokens: number;
  retry: RetryOptions;
  /** One attempt, without retries; throws whatever the transport throws. */
  attempt: (request: PreparedRequest, signal: AbortSignal) => Promise<AttemptResult>;
  /** Maps a transport or SDK error to a `LanguageModelError`. */
  classify: (error: unknown, nowMs: number) => LanguageModelError;
}

/** Builds a `LanguageModel` from one provider attempt, adding checks, retries, timing and attempt count. */
export function remoteModel(spec: RemoteModelSpec): LanguageModel {
  return {
    kind: spec.kind,
    model: spec.model,
    async complete(request: CompletionRequest): Promise<CompletionResult> {
      const prepared = prepare(spec.kind, request, spec.maxTokens);
      const started = spec.retry.now();
      const { value, attempts } = await runWithRetries(
        spec.kind,
        (signal) => spec.attempt(prepared, signal),
        (error) => spec.classify(error, spec.retry.now()),
        spec.retry,
        request.signal,
      );
      return {
        text: value.text,
        usage: value.usage,
        provider: spec.kind,
        model: spec.model,
        latencyMs: Math.max(0, spec.retry.now() - started),
        stopReason: value.stopReason,
        attempts,
      };
    },
  };
}

function prepare(
  kind: ProviderKind,
  request: CompletionRequest,
  configuredMaxTokens: number,
): PreparedRequest {
  const invalid = (message: string) => new LanguageModelError(kind, 'bad_request', message);
  if (request.temperature !== undefined && request.temperature !== 0) throw invalid('temperature must be 0');
  if (request.messages.length === 0) throw invalid('at least one message is required');
  const maxTokens = request.maxTokens ?? configuredMaxTokens;
  if (!Number.isInteger(maxTokens) || maxTokens < 1) throw invalid('maxTokens must be a positive integer');
  return {
    system: request.system,
    messages: request.messages,
    maxTokens,
    json: request.responseFormat === 'json',
  };
}
