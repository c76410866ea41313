import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HmacVerifier, SnsVerifier, type SourceAuthSettings } from '../auth/sources.js';
import { hasScope, type TokenVerifier } from '../auth/tokens.js';
import { OpxError } from '../domain/errors.js';

/** Bearer, or Basic with the token as password (SNS HTTPS subscriptions can only carry credentials in the URL). */
function credentialOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const [kind, value] = header.split(' ', 2);
  if (!value) return undefined;
  if (kind?.toLowerCase() === 'bearer') return value.trim();
  if (kind?.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 ? decoded.slice(colon + 1) : decoded;
  }
  return undefined;
}

export function registerAuth(
  app: FastifyInstance,
  verifier: TokenVerifier,
  sources: SourceAuthSettings = {},
): void {
  app.decorateRequest('principal', null as never);
  const hmac = new HmacVerifier();
  const sns = new SnsVerifier();

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

  app.addHook('onRequest', async (request) => {
    const config = request.routeOptions.config;
    if (config.scope === 'public') return;
    // A signed source is checked once its body is read, and accepts nothing else: not even a token.
    if (signedSource(request)) return;
    const token = credentialOf(request);
    // Routes that accept a body credential authenticate after parsing, in preHandler.
    if (!token && config.bodyToken) return;
    await authenticate(request, token);
  });

  app.addHook('preHandler', async (request) => {
    const signed = signedSource(request);
    if (signed) {
      const { source, settings } = signed;
      request.principal =
        settings.mode === 'hmac'
          ? hmac.verify(source, settings, request.headers, request.rawBody, Date.now())
          : await sns.verify(settings, request.body, Date.now());
      return;
    }
    const config = request.routeOptions.config;
    if (config.scope === 'public' || request.principal || !config.bodyToken) return;
    const body = request.body as Record<string, unknown> | null;
    const value = body && typeof body === 'object' ? body[config.bodyToken] : undefined;
    await authenticate(request, typeof value === 'string' ? value : undefined);
  });
}
