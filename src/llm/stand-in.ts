/**
 * A stand-in language model on a real port that speaks OpenAI chat completions, for running OPX's LLM
 * mode with no key and no network (`opx fake-llm`, the tokens benchmark, the demo's LLM mode).
 *
 * It reasons about nothing: for each agent prompt it answers with the engine finding that the prompt
 * carries (summary, confidence and claims with their evidence ids), as JSON, so every answer passes
 * validation. What it exercises is everything around the model: prompts built, redacted and sent over
 * HTTP, answers validated, tokens counted (with the o200k_base tokenizer, as a real server would
 * report them), cost priced, calls traced and replayed.
 */

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getEncoding, type Tiktoken } from 'js-tiktoken';

export interface StandInExchange {
  promptTokens: number;
  answerTokens: number;
}

export interface StandInModel {
  /** The OpenAI-compatible root, ending in /v1 (OPX_LLM_BASE_URL). */
  readonly url: string;
  readonly exchanges: StandInExchange[];
  close(): Promise<void>;
}

export interface StandInOptions {
  host?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Added before each answer, to stand for a real model's latency. */
  delayMs?: number;
}

const BODY_LIMIT = 4 * 1024 * 1024;

let encoding: Tiktoken | undefined;
function countTokens(text: string): number {
  encoding ??= getEncoding('o200k_base');
  return encoding.encode(text).length;
}

interface EngineFinding {
  summary: string;
  confidence: number;
  insufficientEvidence: boolean;
  claims: { text: string; evidenceIds: string[]; confidence: number }[];
}

/** The engine finding an OPX agent prompt carries (see compactEvidence in src/investigate/llm.ts). */
export function engineFindingOf(prompt: string): EngineFinding | undefined {
  const header =
    /^ENGINE FINDING \(deterministic analysis; confidence ([0-9.]+)(, insufficient evidence)?\)$/m.exec(
      prompt,
    );
  if (!header) return undefined;
  const confidence = Math.min(1, Math.max(0, Number(header[1])));
  const lines = prompt.slice(header.index + header[0].length + 1).split('\n');
  const summary = /^summary: (.*)$/.exec(lines[0] ?? '')?.[1];
  if (summary === undefined) return undefined;
  const claims: EngineFinding['claims'] = [];
  for (const line of lines.slice(1)) {
    const claim = /^- (.*) \[([^\]]*)\]$/.exec(line);
    if (!claim) break;
    const evidenceIds = claim[2]!
      .split(',')
      .map((id) => id.trim())
      .filter((id) => id !== '');
    claims.push({ text: claim[1]!, evidenceIds, confidence });
  }
  return { summary, confidence, insufficientEvidence: header[2] !== undefined, claims };
}

function send(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

function fail(response: ServerResponse, status: number, message: string): void {
  send(response, status, { error: { message, type: 'invalid_request_error', code: null } });
}

async function readBody(request: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > BODY_LIMIT) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function startStandInModel(options: StandInOptions = {}): Promise<StandInModel> {
  const exchanges: StandInExchange[] = [];
  const delayMs = options.delayMs ?? 0;
  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const route = (request.url ?? '').split('?')[0];
    if (request.method === 'GET' && route === '/v1/models') {
      send(response, 200, {
        object: 'list',
        data: [{ id: 'opx-stand-in', object: 'model', owned_by: 'opx' }],
      });
      return;
    }
    if (request.method !== 'POST' || route !== '/v1/chat/completions') {
      fail(
        response,
        404,
        `no route ${request.method} ${route}: this stand-in serves POST /v1/chat/completions`,
      );
      return;
    }
    const text = await readBody(request);
    if (text === undefined) {
      fail(response, 413, `the request body exceeds ${BODY_LIMIT} bytes`);
      return;
    }
    let body: { model?: unknown; messages?: { role?: unknown; content?: unknown }[] };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      fail(response, 400, 'the request body is not JSON');
      return;
    }
    if (!Array.isArray(body.messages) || body.messages.length === 0) {
      fail(response, 400, 'messages must be a non-empty array');
      return;
    }
    const prompt = body.messages
      .map((message) => (typeof message.content === 'string' ? message.content : ''))
      .join('\n');
    const finding = engineFindingOf(prompt);
    if (!finding) {
      fail(
        response,
        400,
        'the stand-in model only answers OPX agent prompts (no ENGINE FINDING section found)',
      );
      return;
    }
    const answer = JSON.stringify(finding);
    const exchange = { promptTokens: countTokens(prompt), answerTokens: countTokens(answer) };
    exchanges.push(exchange);
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    send(response, 200, {
      id: `chatcmpl-opx-${exchanges.length}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: typeof body.model === 'string' ? body.model : 'opx-stand-in',
      choices: [{ index: 0, message: { role: 'assistant', content: answer }, finish_reason: 'stop' }],
      usage: {
        prompt_tokens: exchange.promptTokens,
        completion_tokens: exchange.answerTokens,
        total_tokens: exchange.promptTokens + exchange.answerTokens,
      },
    });
  };
  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) fail(response, 500, `stand-in model error: ${(error as Error).message}`);
      else response.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}/v1`,
    exchanges,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
