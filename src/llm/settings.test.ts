import { describe, expect, it } from 'vitest';
import { ERROR_CODES, OpxError } from '../domain/errors.js';
import { LANGUAGE_MODEL_ERROR_CODES, LanguageModelError, type LanguageModelErrorCode } from './errors.js';
import { createLanguageModel } from './index.js';
import { DEFAULT_MAX_TOKENS, languageModelConfigSchema } from './settings.js';

/** The rejection of a call that must fail. */
function failed(promise: Promise<unknown>): Promise<LanguageModelError> {
  return promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (error: unknown) => error as LanguageModelError,
  );
}

describe('languageModelConfigSchema', () => {
  it('defaults to the deterministic provider, 1,024 tokens, a 60 s timeout and 3 attempts', () => {
    expect(DEFAULT_MAX_TOKENS).toBe(1024);
    expect(languageModelConfigSchema.parse({})).toEqual({
      provider: 'deterministic',
      model: 'deterministic',
      maxTokens: 1024,
      timeoutMs: 60_000,
      maxAttempts: 3,
    });
  });

  it('coerces numbers written as strings (environment variables)', () => {
    const parsed = languageModelConfigSchema.parse({
      provider: 'bedrock',
      model: 'm',
      maxTokens: '512',
      timeoutMs: '1000',
      maxAttempts: '5',
    });
    expect(parsed).toMatchObject({ maxTokens: 512, timeoutMs: 1000, maxAttempts: 5 });
  });

  it.each([
    [{ provider: 'anthropic' }, 'model'],
    [{ provider: 'openai-compatible', model: 'm' }, 'baseUrl'],
    [{ provider: 'bedrock', model: 'm', apiKey: 'k' }, 'apiKey'],
    [{ provider: 'anthropic', model: 'm', region: 'us-east-1' }, 'region'],
    [{ provider: 'openai-compatible', model: 'm', baseUrl: 'ftp://x' }, 'baseUrl'],
    [{ provider: 'anthropic', model: 'm', maxAttempts: 0 }, 'maxAttempts'],
    [{ provider: 'anthropic', model: 'm', timeoutMs: -1 }, 'timeoutMs'],
    [{ provider: 'anthropic', model: 'm', timeoutMs: 600_001 }, 'timeoutMs'],
    [{ provider: 'anthropic', model: 'm', maxTokens: 63 }, 'maxTokens'],
    [{ provider: 'anthropic', model: 'm', maxTokens: 64_001 }, 'maxTokens'],
    [{ provider: 'nope', model: 'm' }, 'provider'],
    [{ provider: 'anthropic', model: 'm', temperature: 0.7 }, ''],
  ])('rejects %j at %s', (input, path) => {
    const result = languageModelConfigSchema.safeParse(input);
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join('.'))).toContain(path);
  });
});

describe('createLanguageModel', () => {
  it('builds the deterministic provider, which refuses to generate text', async () => {
    const model = createLanguageModel({ provider: 'deterministic' });
    expect(model.kind).toBe('deterministic');
    const error = await failed(model.complete({ system: '', messages: [{ role: 'user', content: 'x' }] }));
    expect(error).toBeInstanceOf(LanguageModelError);
    expect(error.llmCode).toBe('not_supported');
    expect(error.retryable).toBe(false);
  });

  it('throws a config error naming the bad field', () => {
    expect(() => createLanguageModel({ provider: 'openai-compatible', model: 'm' })).toThrow(
      /invalid configuration: baseUrl: required/,
    );
    try {
      createLanguageModel({ provider: 'openai-compatible', model: 'm' });
    } catch (error) {
      expect(error).toBeInstanceOf(OpxError);
      expect((error as LanguageModelError).llmCode).toBe('config');
      expect((error as LanguageModelError).code).toBe('config_invalid');
    }
  });

  it('rejects a request it cannot send before calling the provider', async () => {
    const model = createLanguageModel({
      provider: 'openai-compatible',
      model: 'm',
      baseUrl: 'http://127.0.0.1:9/v1',
    });
    await expect(model.complete({ system: 's', messages: [] })).rejects.toMatchObject({
      llmCode: 'bad_request',
    });
    await expect(
      model.complete({ system: 's', messages: [{ role: 'user', content: 'x' }], maxTokens: 0 }),
    ).rejects.toMatchObject({ llmCode: 'bad_request' });
    await expect(
      model.complete({ system: 's', messages: [{ role: 'user', content: 'x' }], temperature: 1 as 0 }),
    ).rejects.toMatchObject({ llmCode: 'bad_request' });
  });
});

describe('LanguageModelError', () => {
  const expected: Record<LanguageModelErrorCode, [string, number]> = {
    rate_limited: ['rate_limited', 429],
    server_error: ['upstream_error', 502],
    timeout: ['timeout', 504],
    network: ['upstream_error', 502],
    aborted: ['internal', 500],
    auth: ['config_invalid', 500],
    bad_request: ['internal', 500],
    invalid_response: ['upstream_error', 502],
    not_supported: ['internal', 500],
    config: ['config_invalid', 500],
  };

  it.each(Object.entries(expected))(
    'maps %s to one OpxError code and HTTP status',
    (llmCode, [code, status]) => {
      expect(LANGUAGE_MODEL_ERROR_CODES[llmCode as LanguageModelErrorCode]).toBe(code);
      expect(ERROR_CODES[code as keyof typeof ERROR_CODES]).toBe(status);
      const error = new LanguageModelError('anthropic', llmCode as LanguageModelErrorCode, 'boom');
      expect(error).toBeInstanceOf(OpxError);
      expect(error).toMatchObject({
        code,
        llmCode,
        status,
        provider: 'anthropic',
        name: 'LanguageModelError',
      });
    },
  );

  it('covers every language model code', () => {
    expect(Object.keys(LANGUAGE_MODEL_ERROR_CODES).sort()).toEqual(Object.keys(expected).sort());
  });

  it("keeps the provider's status, Retry-After, retryability and cause apart from OPX's status", () => {
    const cause = new Error('socket');
    const error = new LanguageModelError('openai-compatible', 'rate_limited', 'slow down', {
      status: 429,
      retryable: true,
      retryAfterMs: 2000,
      cause,
    });
    expect(error.message).toBe('openai-compatible: slow down');
    expect(error).toMatchObject({ providerStatus: 429, retryAfterMs: 2000, retryable: true, attempts: 0 });
    expect(error.cause).toBe(cause);
    const bad = new LanguageModelError('bedrock', 'bad_request', 'no such model', { status: 404 });
    expect(bad).toMatchObject({ providerStatus: 404, status: 500, retryable: false });
  });
});
