import { setTimeout as delay } from 'node:timers/promises';
import { LanguageModelError } from './errors.js';
import { DEFAULT_MAX_ATTEMPTS, DEFAULT_TIMEOUT_MS } from './settings.js';
import type { ProviderKind } from './types.js';

/**
 * The one place OPX retries a language-model call. Provider SDKs are built with their own retries off
 * (`maxRetries: 0`, `maxAttempts: 1`) so attempts never multiply.
 */
export interface RetryOptions {
  /** Attempts in total, the first included. */
  maxAttempts: number;
  /** Limit for each attempt; an attempt that exceeds it is aborted and counts as retryable. */
  timeoutMs: number;
  /** Back-off ceiling for the first retry; it doubles on each further retry. */
  baseDelayMs: number;
  /** Largest back-off between attempts when the provider sent no Retry-After. */
  maxDelayMs: number;
  /** A Retry-After longer than this ends the retries: the caller's budget matters more than one call. */
  maxRetryAfterMs: number;
  /** Waits `ms`; rejects when `signal` aborts. Injected by tests. */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Wall clock, epoch milliseconds. Used for latency and HTTP-date Retry-After. Injected by tests. */
  now: () => number;
  /** Uniform in [0, 1); drives the jitter. Injected by tests. */
  random: () => number;
}

export const defaultRetryOptions: RetryOptions = {
  maxAttempts: DEFAULT_MAX_ATTEMPTS,
  timeoutMs: DEFAULT_TIMEOUT_MS,
  baseDelayMs: 500,
  maxDelayMs: 20_000,
  maxRetryAfterMs: 60_000,
  sleep: (ms, signal) => delay(ms, undefined, signal === undefined ? undefined : { signal }),
  now: () => Date.now(),
  random: () => Math.random(),
};

/**
 * Parses a Retry-After value: delay-seconds (`"7"`, `"1.5"`) or an HTTP date. Returns milliseconds to
 * wait (0 for a date in the past), or null when the value is absent or unreadable.
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | null {
  if (value === null || value === undefined) return null;
  const trimmed = value.trim();
  if (trimmed === '') return null;
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  // HTTP dates always name the month ("Wed, 21 Oct 2015 07:28:00 GMT"); this keeps "-3" from parsing as a year.
  if (!/[a-z]{3}/i.test(trimmed)) return null;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - nowMs);
}

/**
 * Reads the wait a provider asked for from response headers: `retry-after-ms` (sent by Anthropic and
 * OpenAI) when present, else `Retry-After`.
 */
export function retryAfterFromHeaders(
  get: (name: string) => string | null | undefined,
  nowMs: number,
): number | null {
  const ms = get('retry-after-ms');
  if (ms !== null && ms !== undefined && /^\d+(\.\d+)?$/.test(ms.trim()))
    return Math.round(Number(ms.trim()));
  return parseRetryAfter(get('retry-after'), nowMs);
}

/** Full-jitter exponential back-off for retry number `retry` (1 for the wait before the second attempt). */
export function backoffDelay(retry: number, options: RetryOptions): number {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (retry - 1));
  return Math.floor(options.random() * ceiling);
}

/**
 * Runs `attempt` until it succeeds, fails with a non-retryable error, or `maxAttempts` is reached.
 * Each attempt gets a signal that aborts on the caller's signal or the per-attempt timeout. Errors that
 * are not already `LanguageModelError` go through `classify`.
 */
export async function runWithRetries<T>(
  provider: ProviderKind,
  attempt: (signal: AbortSignal) => Promise<T>,
  classify: (error: unknown) => LanguageModelError,
  options: RetryOptions,
  callerSignal?: AbortSignal,
): Promise<{ value: T; attempts: number }> {
  const maxAttempts = Math.max(1, Math.floor(options.maxAttempts));
  for (let attemptNo = 1; ; attemptNo += 1) {
    if (callerSignal?.aborted) throw aborted(provider, attemptNo - 1, callerSignal.reason);
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), options.timeoutMs);
    const signal =
      callerSignal === undefined ? timeout.signal : AbortSignal.any([callerSignal, timeout.signal]);
    let error: LanguageModelError;
    try {
      const value = await attempt(signal);
      return { value, attempts: attemptNo };
    } catch (caught) {
      if (callerSignal?.aborted) throw aborted(provider, attemptNo, caught);
      if (timeout.signal.aborted) {
        error = new LanguageModelError(provider, 'timeout', `no answer within ${options.timeoutMs} ms`, {
          retryable: true,
          cause: caught,
        });
      } else {
        error = caught instanceof LanguageModelError ? caught : classify(caught);
      }
    } finally {
      clearTimeout(timer);
    }
    error.attempts = attemptNo;
    if (!error.retryable || attemptNo >= maxAttempts) throw error;
    if (error.retryAfterMs !== null && error.retryAfterMs > options.maxRetryAfterMs) throw error;
    const wait = error.retryAfterMs ?? backoffDelay(attemptNo, options);
    try {
      await options.sleep(wait, callerSignal);
    } catch (caught) {
      throw aborted(provider, attemptNo, caught);
    }
  }
}

function aborted(provider: ProviderKind, attempts: number, cause: unknown): LanguageModelError {
  const error = new LanguageModelError(provider, 'aborted', 'the call was cancelled', { cause });
  error.attempts = attempts;
  return error;
}
