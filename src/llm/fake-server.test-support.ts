import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local HTTP server that answers like the three provider APIs, at their real paths:
 *   POST /v1/messages                 Anthropic Messages
 *   POST /model/{modelId}/converse    Bedrock Runtime Converse
 *   POST /v1/chat/completions         OpenAI chat completions
 * Each request consumes the next scripted step (or the default step) and is recorded with its parsed body.
 */

export type FakeWire = 'anthropic' | 'bedrock' | 'openai';

/** Token counts to report; an omitted count is left out of the response body. */
export interface FakeUsage {
  input?: number;
  output?: number;
  cacheRead?: number;
  cacheWrite?: number;
}

export type FakeStep =
  | { type: 'reply'; text: string; usage?: FakeUsage; stopReason?: string; delayMs?: number }
  | { type: 'error'; status: number; message?: string; retryAfter?: string; delayMs?: number }
  | { type: 'raw'; status: number; body: string; headers?: Record<string, string>; delayMs?: number };

export interface RecordedRequest {
  wire: FakeWire | null;
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  rawBody: string;
  /** The JSON body, or undefined when it did not parse. */
  body: unknown;
  /** Bedrock only: the model id from the path, decoded. */
  modelId: string | null;
}

export interface FakeProviderServer {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Queues steps; each request takes the next one, then the default step once the queue is empty. */
  script(...steps: FakeStep[]): void;
  /** Steps not yet consumed. */
  pending(): number;
  close(): Promise<void>;
}

export const step = {
  reply: (text: string, usage?: FakeUsage, stopReason?: string): FakeStep => ({
    type: 'reply',
    text,
    ...(usage === undefined ? {} : { usage }),
    ...(stopReason === undefined ? {} : { stopReason }),
  }),
  /** A well-formed response whose model text is not valid JSON. */
  malformedJsonText: (): FakeStep => ({
    type: 'reply',
    text: '{"summary": "cut off',
    usage: { input: 3, output: 4 },
  }),
  /** A 200 whose HTTP body itself is not JSON. */
  malformedBody: (): FakeStep => ({
    type: 'raw',
    status: 200,
    body: '{"not json',
    headers: { 'content-type': 'application/json' },
  }),
  rateLimited: (retryAfter?: string): FakeStep => ({
    type: 'error',
    status: 429,
    message: 'rate limited',
    ...(retryAfter === undefined ? {} : { retryAfter }),
  }),
  serverError: (status = 500): FakeStep => ({ type: 'error', status, message: 'internal failure' }),
  badRequest: (message = 'invalid request'): FakeStep => ({ type: 'error', status: 400, message }),
  slow: (delayMs: number, text = 'late'): FakeStep => ({ type: 'reply', text, delayMs }),
};

export async function startFakeProviderServer(
  options: { defaultStep?: FakeStep } = {},
): Promise<FakeProviderServer> {
  const defaultStep = options.defaultStep ?? step.reply('ok', { input: 1, output: 1 });
  const queue: FakeStep[] = [];
  const requests: RecordedRequest[] = [];
  let counter = 0;

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = rawBody === '' ? undefined : JSON.parse(rawBody);
      } catch {
        body = undefined;
      }
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const { wire, modelId } = route(req.method ?? 'GET', path);
      requests.push({
        wire,
        method: req.method ?? 'GET',
        path,
        headers: req.headers,
        rawBody,
        body,
        modelId,
      });
      if (wire === null) {
        send(
          res,
          404,
          { 'content-type': 'application/json' },
          JSON.stringify({ message: `no route ${path}` }),
        );
        return;
      }
      counter += 1;
      const current = queue.shift() ?? defaultStep;
      const respond = () => answer(res, wire, current, body, counter);
      if (current.delayMs === undefined || current.delayMs <= 0) {
        respond();
        return;
      }
      const timer = setTimeout(respond, current.delayMs);
      res.on('close', () => clearTimeout(timer));
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    script: (...steps) => {
      queue.push(...steps);
    },
    pending: () => queue.length,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error === undefined ? resolve() : reject(error)));
      }),
  };
}

function route(method: string, path: string): { wire: FakeWire | null; modelId: string | null } {
  if (method !== 'POST') return { wire: null, modelId: null };
  if (path === '/v1/messages') return { wire: 'anthropic', modelId: null };
  if (path === '/v1/chat/completions') return { wire: 'openai', modelId: null };
  const converse = /^\/model\/([^/]+)\/converse$/.exec(path);
  if (converse?.[1] !== undefined) return { wire: 'bedrock', modelId: decodeURIComponent(converse[1]) };
  return { wire: null, modelId: null };
}

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: string): void {
  if (res.writableEnded || res.destroyed) return;
  res.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}

function answer(res: ServerResponse, wire: FakeWire, current: FakeStep, body: unknown, n: number): void {
  const json = { 'content-type': 'application/json' };
  if (current.type === 'raw') {
    send(res, current.status, current.headers ?? {}, current.body);
    return;
  }
  const model = typeof body === 'object' && body !== null ? (body as { model?: unknown }).model : undefined;
  if (current.type === 'error') {
    const headers: Record<string, string> = { ...json };
    if (current.retryAfter !== undefined) headers['retry-after'] = current.retryAfter;
    const message = current.message ?? `status ${current.status}`;
    if (wire === 'anthropic') {
      headers['request-id'] = `req_fake_${n}`;
      const error = { type: anthropicErrorType(current.status), message };
      send(res, current.status, headers, JSON.stringify({ type: 'error', error }));
    } else if (wire === 'bedrock') {
      headers['x-amzn-requestid'] = `fake-${n}`;
      headers['x-amzn-errortype'] =
        `${bedrockErrorType(current.status)}:http://internal.amazon.com/coral/com.amazon.bedrock/`;
      send(res, current.status, headers, JSON.stringify({ message }));
    } else {
      const error = {
        message,
        type: current.status === 429 ? 'rate_limit_exceeded' : 'server_error',
        code: null,
      };
      send(res, current.status, headers, JSON.stringify({ error }));
    }
    return;
  }
  const usage = current.usage;
  if (wire === 'anthropic') {
    send(
      res,
      200,
      { ...json, 'request-id': `req_fake_${n}` },
      JSON.stringify({
        id: `msg_fake_${n}`,
        type: 'message',
        role: 'assistant',
        model: model ?? 'unknown',
        content: [{ type: 'text', text: current.text }],
        stop_reason: current.stopReason ?? 'end_turn',
        stop_sequence: null,
        usage: defined({
          input_tokens: usage?.input,
          output_tokens: usage?.output,
          cache_read_input_tokens: usage?.cacheRead,
          cache_creation_input_tokens: usage?.cacheWrite,
        }),
      }),
    );
  } else if (wire === 'bedrock') {
    const total =
      usage?.input !== undefined && usage.output !== undefined ? usage.input + usage.output : undefined;
    send(
      res,
      200,
      { ...json, 'x-amzn-requestid': `fake-${n}` },
      JSON.stringify({
        output: { message: { role: 'assistant', content: [{ text: current.text }] } },
        stopReason: current.stopReason ?? 'end_turn',
        usage: defined({
          inputTokens: usage?.input,
          outputTokens: usage?.output,
          totalTokens: total,
          cacheReadInputTokens: usage?.cacheRead,
          cacheWriteInputTokens: usage?.cacheWrite,
        }),
        metrics: { latencyMs: 1 },
      }),
    );
  } else {
    const total =
      usage?.input !== undefined && usage.output !== undefined
        ? usage.input + (usage.cacheRead ?? 0) + usage.output
        : undefined;
    send(
      res,
      200,
      json,
      JSON.stringify({
        id: `chatcmpl-fake-${n}`,
        object: 'chat.completion',
        created: 1_700_000_000 + n,
        model: model ?? 'unknown',
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: current.text },
            finish_reason: current.stopReason ?? 'stop',
          },
        ],
        ...(usage === undefined
          ? {}
          : {
              usage: defined({
                // Chat completions counts cached tokens inside prompt_tokens.
                prompt_tokens: usage.input === undefined ? undefined : usage.input + (usage.cacheRead ?? 0),
                completion_tokens: usage.output,
                total_tokens: total,
                ...(usage.cacheRead === undefined
                  ? {}
                  : { prompt_tokens_details: { cached_tokens: usage.cacheRead } }),
              }),
            }),
      }),
    );
  }
}

function defined(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined));
}

function anthropicErrorType(status: number): string {
  if (status === 400) return 'invalid_request_error';
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status === 529) return 'overloaded_error';
  return 'api_error';
}

function bedrockErrorType(status: number): string {
  if (status === 400) return 'ValidationException';
  if (status === 403) return 'AccessDeniedException';
  if (status === 404) return 'ResourceNotFoundException';
  if (status === 408) return 'ModelTimeoutException';
  if (status === 429) return 'ThrottlingException';
  if (status === 503) return 'ServiceUnavailableException';
  return 'InternalServerException';
}
