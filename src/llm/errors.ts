import { type ErrorCode, OpxError } from '../domain/errors.js';
import type { ProviderKind } from './settings.js';

export type LanguageModelErrorCode =
  /** 429, or a provider throttling error. */
  | 'rate_limited'
  /** 5xx (and 408) from the provider. */
  | 'server_error'
  /** The attempt exceeded the configured per-call timeout. */
  | 'timeout'
  /** The connection failed (refused, reset, DNS, TLS, …) before an HTTP answer arrived. */
  | 'network'
  /** The caller cancelled through its AbortSignal. */
  | 'aborted'
  /** 401/403, or no credentials to send. */
  | 'auth'
  /** Any other 4xx: the request itself is wrong and retrying cannot help. */
  | 'bad_request'
  /** The provider answered 2xx with a body that is not the documented shape. */
  | 'invalid_response'
  /** The model cannot complete at all (the deterministic provider). */
  | 'not_supported'
  /** Configuration is missing or contradictory. */
  | 'config';

/**
 * The one table from a language model failure to OPX's error code, and so to the HTTP status
 * (`ERROR_CODES` in src/domain/errors.ts). The provider is OPX's upstream: its failures are never the
 * API client's fault, so none maps to a 4xx except throttling, which a client can wait out.
 */
export const LANGUAGE_MODEL_ERROR_CODES = {
  rate_limited: 'rate_limited', // 429
  server_error: 'upstream_error', // 502
  timeout: 'timeout', // 504
  network: 'upstream_error', // 502
  aborted: 'internal', // 500: OPX cancelled its own call (investigation timeout, shutdown)
  auth: 'config_invalid', // 500: OPX's credentials for the provider are missing or refused
  bad_request: 'internal', // 500: OPX sent a request the provider refused
  invalid_response: 'upstream_error', // 502
  not_supported: 'internal', // 500
  config: 'config_invalid', // 500
} as const satisfies Record<LanguageModelErrorCode, ErrorCode>;

/**
 * Every failure of a `LanguageModel` call: an `OpxError` whose `code` comes from
 * `LANGUAGE_MODEL_ERROR_CODES`, with the provider's own detail alongside. `retryable` says whether
 * another attempt could succeed.
 */
export class LanguageModelError extends OpxError {
  /** What went wrong at the provider (`rate_limited`, `timeout`, …); `code` is its OPX error code. */
  readonly llmCode: LanguageModelErrorCode;
  readonly provider: ProviderKind;
  /** HTTP status of the provider's answer; null when there was none (network, timeout, local errors). */
  readonly providerStatus: number | null;
  /** Wait the provider asked for (Retry-After), in milliseconds, when it sent one. */
  readonly retryAfterMs: number | null;
  /** Attempts made before giving up; set by the retry loop. */
  attempts: number;

  constructor(
    provider: ProviderKind,
    code: LanguageModelErrorCode,
    message: string,
    options: {
      status?: number | null;
      retryable?: boolean;
      retryAfterMs?: number | null;
      cause?: unknown;
    } = {},
  ) {
    super(LANGUAGE_MODEL_ERROR_CODES[code], `${provider}: ${message}`, {
      retryable: options.retryable ?? false,
      ...(options.cause === undefined ? {} : { cause: options.cause }),
    });
    this.name = 'LanguageModelError';
    this.provider = provider;
    this.llmCode = code;
    this.providerStatus = options.status ?? null;
    this.retryAfterMs = options.retryAfterMs ?? null;
    this.attempts = 0;
  }
}

/** Classifies an HTTP error status: 408, 429 and 5xx are retryable; other 4xx are not. */
export function errorForStatus(
  provider: ProviderKind,
  status: number,
  message: string,
  options: { retryAfterMs?: number | null; cause?: unknown } = {},
): LanguageModelError {
  const common = { status, retryAfterMs: options.retryAfterMs ?? null, cause: options.cause };
  if (status === 429)
    return new LanguageModelError(provider, 'rate_limited', message, { ...common, retryable: true });
  if (status >= 500 || status === 408) {
    return new LanguageModelError(provider, 'server_error', message, { ...common, retryable: true });
  }
  if (status === 401 || status === 403) return new LanguageModelError(provider, 'auth', message, common);
  return new LanguageModelError(provider, 'bad_request', message, common);
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

/** True when the error, or one of its causes, is a connection-level failure. */
export function isNetworkError(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
    current = current.cause;
  }
  return false;
}
