import {
  BedrockRuntimeClient,
  ConverseCommand,
  type ConverseCommandOutput,
} from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { errorForStatus, isNetworkError, LanguageModelError } from './errors.js';
import { type PreparedRequest, remoteModel } from './model.js';
import { type RetryOptions, retryAfterFromHeaders } from './retry.js';
import { type AttemptResult, JSON_INSTRUCTION, type LanguageModel, tokenCount } from './types.js';

export interface BedrockModelOptions {
  /** Model or inference-profile id, e.g. `anthropic.claude-3-5-haiku-20241022-v1:0`. */
  model: string;
  maxTokens: number;
  /** Otherwise AWS_REGION / the shared config file. */
  region?: string | undefined;
  /** Endpoint override (a VPC endpoint, or a local server in tests). */
  baseUrl?: string | undefined;
  retry: RetryOptions;
}

/** Bedrock Runtime Converse through AWS SDK v3; credentials come from the standard AWS chain. */
export function createBedrockModel(options: BedrockModelOptions): LanguageModel {
  const client = new BedrockRuntimeClient({
    ...(options.region === undefined ? {} : { region: options.region }),
    ...(options.baseUrl === undefined ? {} : { endpoint: options.baseUrl }),
    // One attempt per send: retries happen in src/llm/retry.ts only.
    maxAttempts: 1,
    // The client's default handler speaks HTTP/2, which only its bidirectional-streaming operations need.
    // Converse is a plain request/response call, and HTTP/1.1 also works through proxies and VPC endpoints
    // that do not offer h2. The per-attempt AbortSignal enforces the timeout.
    requestHandler: new NodeHttpHandler(),
  });

  const attempt = async (request: PreparedRequest, signal: AbortSignal): Promise<AttemptResult> => {
    const system = [request.system, request.json ? JSON_INSTRUCTION : ''].filter((s) => s !== '');
    const output: ConverseCommandOutput = await client.send(
      new ConverseCommand({
        modelId: options.model,
        ...(system.length === 0 ? {} : { system: system.map((text) => ({ text })) }),
        messages: request.messages.map((m) => ({ role: m.role, content: [{ text: m.content }] })),
        inferenceConfig: { maxTokens: request.maxTokens, temperature: 0 },
      }),
      { abortSignal: signal },
    );
    const content = output.output?.message?.content;
    if (!Array.isArray(content)) {
      throw new LanguageModelError('bedrock', 'invalid_response', 'the response has no output message');
    }
    const text = content.flatMap((block) => (typeof block.text === 'string' ? [block.text] : [])).join('');
    return {
      text,
      usage: {
        inputTokens: tokenCount(output.usage?.inputTokens),
        outputTokens: tokenCount(output.usage?.outputTokens),
        cacheReadTokens: tokenCount(output.usage?.cacheReadInputTokens),
        cacheWriteTokens: tokenCount(output.usage?.cacheWriteInputTokens),
      },
      stopReason: typeof output.stopReason === 'string' ? output.stopReason : null,
    };
  };

  return remoteModel({
    kind: 'bedrock',
    model: options.model,
    maxTokens: options.maxTokens,
    retry: options.retry,
    attempt,
    classify: classifyBedrockError,
  });
}

interface SmithyErrorShape {
  name?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { statusCode?: number; headers?: Record<string, string | undefined> };
}

const THROTTLING = new Set([
  'ThrottlingException',
  'TooManyRequestsException',
  'ServiceQuotaExceededException',
]);
const CREDENTIALS = new Set(['CredentialsProviderError', 'TokenProviderError']);

export function classifyBedrockError(error: unknown, nowMs: number): LanguageModelError {
  if (error instanceof LanguageModelError) return error;
  const shape = (typeof error === 'object' && error !== null ? error : {}) as SmithyErrorShape;
  const name = shape.name ?? 'Error';
  const message = `${name}: ${shape.message ?? String(error)}`;
  if (CREDENTIALS.has(name)) return new LanguageModelError('bedrock', 'auth', message, { cause: error });
  const status = shape.$metadata?.httpStatusCode ?? shape.$response?.statusCode;
  if (typeof status === 'number' && status >= 400) {
    const headers = shape.$response?.headers ?? {};
    const retryAfterMs = retryAfterFromHeaders((n) => headerValue(headers, n), nowMs);
    // Throttling is retryable whatever status a proxy maps it to.
    if (THROTTLING.has(name)) {
      return new LanguageModelError('bedrock', 'rate_limited', message, {
        status,
        retryable: true,
        retryAfterMs,
        cause: error,
      });
    }
    return errorForStatus('bedrock', status, message, { retryAfterMs, cause: error });
  }
  if (isNetworkError(error) || name === 'TimeoutError') {
    return new LanguageModelError('bedrock', 'network', message, { retryable: true, cause: error });
  }
  return new LanguageModelError('bedrock', 'invalid_response', message, { cause: error });
}

function headerValue(headers: Record<string, string | undefined>, name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === name) return value;
  return undefined;
}
