import { LanguageModelError } from './errors.js';
import type { CompletionResult, LanguageModel } from './types.js';

/**
 * The default provider. Each agent's deterministic engine (src/investigate/agents) produces its finding
 * directly, so there is nothing for a text model to do: callers check `kind === 'deterministic'` and run
 * the engine instead of calling `complete`. Calling `complete` anyway is a wiring bug, so it rejects with
 * a non-retryable `not_supported` error rather than returning empty text a caller might mistake for an
 * answer.
 */
export function createDeterministicModel(model = 'deterministic'): LanguageModel {
  return {
    kind: 'deterministic',
    model,
    complete(): Promise<CompletionResult> {
      return Promise.reject(
        new LanguageModelError(
          'deterministic',
          'not_supported',
          'the deterministic provider does not generate text; run the agent’s deterministic engine instead',
        ),
      );
    },
  };
}
