import { describe, expect, it } from 'vitest';
import { createLanguageModel, LanguageModelError, languageModelConfigSchema } from './index.js';

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
  it('defaults to the deterministic provider with a 60 s timeout and 3 attempts', () => {
    expect(languageModelConfigSchema.parse({})).toEqual({
      provider: 'deterministic',
      model: 'deterministic',
      maxTokens: 4096,
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
    expect(error.code).toBe('not_supported');
    expect(error.retryable).toBe(false);
  });

  it('throws a config error naming the bad field', () => {
    expect(() => createLanguageModel({ provider: 'openai-compatible', model: 'm' })).toThrow(
      /invalid configuration: baseUrl: required/,
    );
    try {
      createLanguageModel({ provider: 'openai-compatible', model: 'm' });
    } catch (error) {
      expect((error as LanguageModelError).code).toBe('config');
    }
  });

  it('rejects a request it cannot send before calling the provider', async () => {
    const model = createLanguageModel({
      provider: 'openai-compatible',
      model: 'm',
      baseUrl: 'http://127.0.0.1:9/v1',
    });
    await expect(model.complete({ system: 's', messages: [] })).rejects.toMatchObject({
      code: 'bad_request',
    });
    await expect(
      model.complete({ system: 's', messages: [{ role: 'user', content: 'x' }], maxTokens: 0 }),
    ).rejects.toMatchObject({ code: 'bad_request' });
    await expect(
      model.complete({ system: 's', messages: [{ role: 'user', content: 'x' }], temperature: 1 as 0 }),
    ).rejects.toMatchObject({ code: 'bad_request' });
  });
});
