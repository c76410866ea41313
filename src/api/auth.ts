import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HmacVerifier, SnsVerifier, type SourceAuthSettings } from '../auth/sources.js';
import { hasScope, type TokenVerifier } from '../auth/tokens.js';
import { OpxError } from '../domain/errors.js';

/** Bearer, or Basic with the token as password (SNS HTTPS subscriptions can only carry credentials in the URL). */
function credentialOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  // RFC 9110 §11.4: the scheme, then one or more spaces, then the credentials.
  const match = /^\s*(\S+)\s+(\S.*?)\s*$/.exec(header);
  if (!match) return undefined;
  const [, kind, value = ''] = match;
  if (kind?.toLowerCase() === 'bearer') return value;
  if (kind?.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 ? decoded.slice(colon + 1) : decoded;
  }
  return undefined;
}

/**
 * Failed authentications per client address, in fixed one-minute windows. An address past the limit
 * gets 429 for the rest of its window without its credentials being checked, so guessing tokens or
 * routing keys, or a sender stuck on a revoked token, costs one cheap answer and no store lookups.
 * Successful requests are never counted.
 */
export class FailedAuthLimiter {
  readonly #windows = new Map<string, { failures: number; resetAt: number }>();
  static readonly WINDOW_MS = 60_000;
  /** Addresses remembered at once; past it, windows that have ended are dropped first. */
  static readonly MAX_ADDRESSES = 50_000;

  constructor(readonly maxPerMinute: number) {}

  /** Milliseconds until `address` may try again, or undefined when it may now. */
  blockedFor(address: string, now: number): number | undefined {
    const window = this.#windows.get(address);
    if (!window || window.resetAt <= now || window.failures < this.maxPerMinute) return undefined;
    return window.resetAt - now;
  }

  record(address: string, now: number): void {
    let window = this.#windows.get(address);
    if (!window || window.resetAt <= now) {
      if (this.#windows.size >= FailedAuthLimiter.MAX_ADDRESSES) this.#prune(now);
      window = { failures: 0, resetAt: now + FailedAuthLimiter.WINDOW_MS };
      this.#windows.set(address, window);
    }
    window.failures += 1;
  }

  #prune(now: number): void {
    for (const [address, window] of this.#windows) if (window.resetAt <= now) this.#windows.delete(address);
    if (this.#windows.size >= FailedAuthLimiter.MAX_ADDRESSES) this.#windows.clear();
  }
}

export function registerAuth(
  app: FastifyInstance,
  verifier: TokenVerifier,
  sources: SourceAuthSettings = {},
  failuresPerMinute = 0,
): void {
  app.decorateRequest('principal', null as never);
  const hmac = new HmacVerifier();
  const sns = new SnsVerifier();
  const limiter = failuresPerMinute > 0 ? new FailedAuthLimiter(failuresPerMinute) : undefined;

  /** Refuses an address that has failed too often; counts this request's failure if it fails. */
  async function counted(request: FastifyRequest, reply: FastifyReply, check: () => Promise<void>) {
    if (!limiter) return check();
    const now = Date.now();
    const wait = limiter.blockedFor(request.ip, now);
    if (wait !== undefined) {
      const seconds = Math.ceil(wait / 1000);
      reply.header('retry-after', String(seconds));
      throw new OpxError(
        'rate_limited',
        `too many failed authentications from this address (more than ${limiter.maxPerMinute} a minute); retry after ${seconds} s`,
        { retryable: true },
      );
    }
    try {
      await check();
    } catch (error) {
      if (error instanceof OpxError && error.code === 'unauthorized') limiter.record(request.ip, now);
      throw error;
    }
  }

  /** The signature check a route's source is configured for, if any. */
  function signedSource(request: FastifyRequest) {
    const source = request.routeOptions.config.source;
    const settings = source === undefined ? undefined : sources[source];
    return source !== undefined && settings !== undefined && settings.mode !== 'token'
      ? { source, settings }
      : undefined;
  }

  async function authenticate(request: FastifyRequest, token: string | undefined): Promise<void> {
    const scope = request.routeOptions.config.scope ?? 'admin';
    if (!token) {
      throw new OpxError(
        'unauthorized',
        'missing credentials: send "Authorization: Bearer <token>" (create one with `opx tokens create`)',
      );
    }
    const principal = await verifier.verify(token);
    if (!principal) throw new OpxError('unauthorized', 'the token is unknown or revoked');
    if (scope !== 'public' && !hasScope(principal, scope)) {
      throw new OpxError(
        'forbidden',
        `this endpoint needs the "${scope}" scope; the token has ${principal.scopes.join(', ')}`,
      );
    }
    request.principal = principal;
  }

  app.addHook('onRequest', async (request, reply) => {
    const config = request.routeOptions.config;
    if (config.scope === 'public') return;
    // A signed source is checked once its body is read, and accepts nothing else: not even a token.
    if (signedSource(request)) return;
    const token = credentialOf(request);
    // Routes that accept a body credential authenticate after parsing, in preHandler.
    if (!token && config.bodyToken) return;
    await counted(request, reply, () => authenticate(request, token));
  });

  app.addHook('preHandler', async (request, reply) => {
    const signed = signedSource(request);
    if (signed) {
      const { source, settings } = signed;
      await counted(request, reply, async () => {
        request.principal =
          settings.mode === 'hmac'
            ? hmac.verify(source, settings, request.headers, request.rawBody, Date.now())
            : await sns.verify(settings, request.body, Date.now());
      });
      return;
    }
    const config = request.routeOptions.config;
    if (config.scope === 'public' || request.principal || !config.bodyToken) return;
    const body = request.body as Record<string, unknown> | null;
    const value = body && typeof body === 'object' ? body[config.bodyToken] : undefined;
    await counted(request, reply, () => authenticate(request, typeof value === 'string' ? value : undefined));
  });
}
