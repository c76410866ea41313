import { describe, expect, it } from 'vitest';
import { LanguageModelError } from './errors.js';
import {
  backoffDelay,
  defaultRetryOptions,
  parseRetryAfter,
  type RetryOptions,
  retryAfterFromHeaders,
  runWithRetries,
} from './retry.js';

/** The rejection of a call that must fail. */
function failed(promise: Promise<unknown>): Promise<LanguageModelError> {
  return promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (error: unknown) => error as LanguageModelError,
  );
}

const NOW = Date.parse('2030-01-01T00:00:00Z');

function options(overrides: Partial<RetryOptions> = {}): RetryOptions & { sleeps: number[] } {
  const sleeps: number[] = [];
  return {
    ...defaultRetryOptions,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    now: () => NOW,
    random: () => 0.5,
    ...overrides,
    sleeps,
  };
}

describe('parseRetryAfter', () => {
  it('reads delay-seconds, fractional seconds and HTTP dates', () => {
    expect(parseRetryAfter('7', NOW)).toBe(7000);
    expect(parseRetryAfter(' 1.5 ', NOW)).toBe(1500);
    expect(parseRetryAfter('0', NOW)).toBe(0);
    expect(parseRetryAfter(new Date(NOW + 30_000).toUTCString(), NOW)).toBe(30_000);
  });

  it('treats a date in the past as no wait, and unreadable or absent values as null', () => {
    expect(parseRetryAfter(new Date(NOW - 5000).toUTCString(), NOW)).toBe(0);
    expect(parseRetryAfter('soon', NOW)).toBeNull();
    expect(parseRetryAfter('-3', NOW)).toBeNull();
    expect(parseRetryAfter('', NOW)).toBeNull();
    expect(parseRetryAfter(undefined, NOW)).toBeNull();
    expect(parseRetryAfter(null, NOW)).toBeNull();
  });

  it('prefers retry-after-ms over Retry-After', () => {
    const headers = new Headers({ 'retry-after-ms': '1234', 'retry-after': '9' });
    expect(retryAfterFromHeaders((n) => headers.get(n), NOW)).toBe(1234);
    const plain = new Headers({ 'retry-after': '9' });
    expect(retryAfterFromHeaders((n) => plain.get(n), NOW)).toBe(9000);
  });
});

describe('backoffDelay', () => {
  it('draws from [0, min(maxDelay, base × 2^(retry-1)))', () => {
    const opts = options({ baseDelayMs: 100, maxDelayMs: 1000, random: () => 0.999 });
    expect(backoffDelay(1, opts)).toBe(99);
    expect(backoffDelay(2, opts)).toBe(199);
    expect(backoffDelay(3, opts)).toBe(399);
    expect(backoffDelay(10, opts)).toBe(999);
    expect(backoffDelay(3, options({ baseDelayMs: 100, random: () => 0 }))).toBe(0);
  });
});

describe('runWithRetries', () => {
  const retryable = () =>
    new LanguageModelError('bedrock', 'server_error', 'boom', { status: 502, retryable: true });

  it('returns the value and the attempt count', async () => {
    let calls = 0;
    const opts = options();
    const result = await runWithRetries(
      'bedrock',
      async () => {
        calls += 1;
        if (calls < 3) throw retryable();
        return 'done';
      },
      () => retryable(),
      opts,
    );
    expect(result).toEqual({ value: 'done', attempts: 3 });
    expect(opts.sleeps).toEqual([250, 500]);
  });

  it('passes unknown errors through classify, and stops on non-retryable ones', async () => {
    const opts = options();
    const error = await failed(
      runWithRetries(
        'anthropic',
        async () => {
          throw new Error('weird');
        },
        (e) => new LanguageModelError('anthropic', 'invalid_response', String(e)),
        opts,
      ),
    );
    expect(error.llmCode).toBe('invalid_response');
    expect(error.attempts).toBe(1);
    expect(opts.sleeps).toEqual([]);
  });

  it('honours maxAttempts of 1', async () => {
    const error = await failed(
      runWithRetries(
        'bedrock',
        async () => {
          throw retryable();
        },
        () => retryable(),
        options({ maxAttempts: 1 }),
      ),
    );
    expect(error.attempts).toBe(1);
  });

  it('turns a caller abort during the back-off wait into a non-retryable aborted error', async () => {
    const controller = new AbortController();
    const opts = options({
      sleep: async (_ms, signal) => {
        controller.abort();
        signal?.throwIfAborted();
      },
    });
    const error = await failed(
      runWithRetries(
        'openai-compatible',
        async () => {
          throw retryable();
        },
        () => retryable(),
        opts,
        controller.signal,
      ),
    );
    expect(error.llmCode).toBe('aborted');
    expect(error.retryable).toBe(false);
  });

  it('does not start when the caller signal is already aborted', async () => {
    let calls = 0;
    const error = await failed(
      runWithRetries(
        'anthropic',
        async () => {
          calls += 1;
          return 1;
        },
        () => retryable(),
        options(),
        AbortSignal.abort(),
      ),
    );
    expect(error.llmCode).toBe('aborted');
    expect(calls).toBe(0);
  });

  it('the default sleep waits and can be cancelled', async () => {
    const started = Date.now();
    await defaultRetryOptions.sleep(20);
    expect(Date.now() - started).toBeGreaterThanOrEqual(15);
    await expect(defaultRetryOptions.sleep(10_000, AbortSignal.abort())).rejects.toThrow();
  });
});
