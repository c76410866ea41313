/** Talking to the OPX API with the token the user pasted, through the typed client (src/client). */
import { OpxApiError, OpxClient } from '../../src/client/index';

const TOKEN_KEY = 'opx.token';

// sessionStorage, not localStorage: the token leaves with the tab and is not shared with other tabs.
export function storedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function storeToken(token: string | null): void {
  if (token === null) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}

/** An answer that was not 2xx, with the API's own `{error: {code, message}}` words when it sent them. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function errorOf(response: Response): Promise<ApiError> {
  const text = await response.text();
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
    if (body.error?.message)
      return new ApiError(response.status, body.error.code ?? 'error', body.error.message);
  } catch {
    // Not JSON: a proxy or a crash answered; show its status and text below.
  }
  return new ApiError(
    response.status,
    'http_error',
    `the server answered ${response.status} ${response.statusText}${text ? `: ${text.slice(0, 300)}` : ''}`,
  );
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const token = storedToken();
  return { ...(token ? { authorization: `Bearer ${token}` } : {}), ...extra };
}

/** The typed API client (src/client) with the pasted token, on the console's own origin. */
export function opx(): OpxClient {
  const token = storedToken();
  return new OpxClient({ baseUrl: '', ...(token ? { token } : {}) });
}

/** Runs a client call; a failure becomes an ApiError with the API's own words, or says the server is unreachable. */
export async function call<T>(work: (client: OpxClient) => Promise<T>): Promise<T> {
  try {
    return await work(opx());
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    if (error instanceof OpxApiError) {
      const words = error.body?.error;
      throw words
        ? new ApiError(error.status, words.code, words.message)
        : new ApiError(
            error.status,
            'http_error',
            `the server answered ${error.status}${error.text ? `: ${error.text.slice(0, 300)}` : ''}`,
          );
    }
    throw new ApiError(
      0,
      'network',
      `cannot reach the OPX server (${(error as Error).message}); is it running?`,
    );
  }
}

/** A GET of any route, for the pages that read by route; the answer's type is the caller's. */
export function apiGet<T>(route: string, signal?: AbortSignal): Promise<T> {
  return call((client) => client.request<T>('GET', route, signal ? { signal } : {}));
}

export interface StreamHandlers {
  onEvent(event: string, data: unknown): void;
  onState(state: 'connecting' | 'live' | 'retrying', error?: ApiError): void;
}

/**
 * Reads the server-sent event stream with fetch, because EventSource cannot send the Authorization
 * header. Reconnects after a drop; stops for good on 401/403, where retrying cannot help.
 */
export function openStream(route: string, handlers: StreamHandlers): () => void {
  const stop = new AbortController();
  let retryMs = 3000;

  async function readOnce(): Promise<'retry' | 'stop'> {
    handlers.onState('connecting');
    const response = await fetch(route, {
      headers: headers({ accept: 'text/event-stream' }),
      signal: stop.signal,
    });
    if (!response.ok || !response.body) {
      const error = await errorOf(response);
      handlers.onState('retrying', error);
      return response.status === 401 || response.status === 403 ? 'stop' : 'retry';
    }
    handlers.onState('live');
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return 'retry';
      buffer += value;
      // Events end with a blank line (the SSE format); a partial event waits for the next chunk.
      let end = buffer.indexOf('\n\n');
      while (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) event = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
          else if (line.startsWith('retry:')) retryMs = Number(line.slice(6)) || retryMs;
        }
        if (data.length > 0) {
          try {
            handlers.onEvent(event, JSON.parse(data.join('\n')));
          } catch {
            // A malformed event is skipped; the next one still arrives.
          }
        }
        end = buffer.indexOf('\n\n');
      }
    }
  }

  void (async () => {
    while (!stop.signal.aborted) {
      let next: 'retry' | 'stop';
      try {
        next = await readOnce();
      } catch (error) {
        if (stop.signal.aborted) return;
        handlers.onState(
          'retrying',
          new ApiError(0, 'network', `live updates dropped: ${(error as Error).message}`),
        );
        next = 'retry';
      }
      if (next === 'stop') return;
      await new Promise((resolve) => setTimeout(resolve, retryMs));
    }
  })();
  return () => stop.abort();
}
