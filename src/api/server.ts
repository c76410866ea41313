import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyError, type FastifyInstance, LogController } from 'fastify';
import { TokenVerifier } from '../auth/tokens.js';
import { OpxError } from '../domain/errors.js';
import type { Runtime } from '../runtime.js';
import { ping } from '../store/index.js';
import { metricsRegistry } from '../telemetry/metrics.js';
import { registerAuth } from './auth.js';
import { errorBody } from './http.js';
import { registerAdminRoutes } from './routes/admin.js';
import { registerAnalyticsRoutes } from './routes/analytics.js';
import { registerGuardrailRoutes } from './routes/guardrails.js';
import { registerIncidentRoutes } from './routes/incidents.js';
import { registerIngestRoutes } from './routes/ingest.js';
import { registerInvestigationRoutes } from './routes/investigations.js';
import { registerKnowledgeRoutes } from './routes/knowledge.js';

export interface ServerOptions {
  /** Log requests (one line each); off keeps the ingest hot path lean. */
  logRequests?: boolean;
}

/** Maps any thrown error to OPX's stable JSON error shape and status. */
function toOpxError(error: unknown): OpxError {
  if (error instanceof OpxError) return error;
  const fastifyError = error as FastifyError;
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new OpxError(
        'payload_too_large',
        'the request body is larger than the server accepts (OPX_BODY_LIMIT_BYTES); send smaller batches',
      );
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new OpxError(
        'unsupported_media_type',
        'send JSON with Content-Type: application/json (YAML for catalog imports)',
      );
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new OpxError('invalid_json', `the body is not valid JSON: ${fastifyError.message}`);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new OpxError('invalid_json', 'the body is empty; send a JSON document');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new OpxError('invalid_request', 'Content-Length does not match the body');
    default:
      break;
  }
  if (fastifyError.statusCode === 400 && error instanceof SyntaxError) {
    return new OpxError('invalid_json', `the body is not valid JSON: ${error.message}`);
  }
  if (
    fastifyError.statusCode !== undefined &&
    fastifyError.statusCode >= 400 &&
    fastifyError.statusCode < 500
  ) {
    return new OpxError('invalid_request', fastifyError.message);
  }
  return new OpxError('internal', 'internal error; the server log has details', { cause: error });
}

/** The certificate and key for HTTPS, or undefined for plain HTTP; a half or unreadable setting is an error. */
function tlsOptions(config: Runtime['config']): { cert: Buffer; key: Buffer } | undefined {
  if (config.tlsCertFile === undefined && config.tlsKeyFile === undefined) return undefined;
  if (config.tlsCertFile === undefined || config.tlsKeyFile === undefined)
    throw new OpxError('config_invalid', 'TLS needs both OPX_TLS_CERT_FILE and OPX_TLS_KEY_FILE');
  const read = (file: string, what: string) => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new OpxError(
        'config_invalid',
        `cannot read the TLS ${what} ${file}: ${(error as Error).message}`,
      );
    }
  };
  return { cert: read(config.tlsCertFile, 'certificate'), key: read(config.tlsKeyFile, 'key') };
}

export async function buildServer(runtime: Runtime, options: ServerOptions = {}): Promise<FastifyInstance> {
  const { config } = runtime;
  const tls = tlsOptions(config);
  const app = Fastify({
    logger: config.logLevel === 'silent' ? false : { level: config.logLevel },
    logController: new LogController({ disableRequestLogging: !options.logRequests }),
    bodyLimit: config.bodyLimitBytes,
    return503OnClosing: true,
    // A client has requestTimeoutSeconds to send its whole request; Node checks every second (its
    // default, 30 s, would let a slow sender hold a connection up to twice as long).
    serverFactory: (handler) => {
      const timeouts = {
        requestTimeout: config.requestTimeoutSeconds * 1000,
        connectionsCheckingInterval: 1000,
      };
      return tls ? createHttpsServer({ ...tls, ...timeouts }, handler) : createHttpServer(timeouts, handler);
    },
    // Tells Fastify the server speaks HTTPS (for the addresses it reports); the factory above makes it.
    ...(tls ? { https: tls } : {}),
  });
  // Secure headers on every answer; a JSON API serves no scripts, so the strictest policy applies.
  await app.register(helmet, {
    contentSecurityPolicy: { directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    hsts: config.tlsCertFile !== undefined,
  });
  // CORS is off unless origins are configured: browsers on other origins get no access.
  if (config.corsOrigins.length > 0)
    await app.register(cors, {
      origin: config.corsOrigins,
      allowedHeaders: ['authorization', 'content-type', 'idempotency-key'],
    });

  // SNS posts JSON as text/plain; accept JSON under that type too.
  app.addContentTypeParser('text/plain', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch (error) {
      done(
        new OpxError('invalid_json', `the body is not valid JSON: ${(error as Error).message}`),
        undefined,
      );
    }
  });
  app.addContentTypeParser(
    ['application/yaml', 'application/x-yaml', 'text/yaml'],
    { parseAs: 'string' },
    (_request, body, done) => done(null, body),
  );

  const verifier = new TokenVerifier(runtime.store, config.adminToken);
  registerAuth(app, verifier);
  // Per token, counted after authentication (per address for requests that fail it).
  if (config.rateLimitPerMinute > 0)
    await app.register(rateLimit, {
      hook: 'preHandler',
      max: config.rateLimitPerMinute,
      timeWindow: 60_000,
      keyGenerator: (request) => (request.principal ? `token:${request.principal.name}` : `ip:${request.ip}`),
      errorResponseBuilder: (_request, context) =>
        new OpxError(
          'rate_limited',
          `more than ${context.max} requests a minute for this token; retry after ${Math.ceil(context.ttl / 1000)} s`,
          { retryable: true },
        ),
    });

  app.setErrorHandler((error, request, reply) => {
    const opxError = toOpxError(error);
    if (opxError.status >= 500) request.log.error({ err: error }, 'request failed');
    return reply.code(opxError.status).send(errorBody(opxError));
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send(errorBody(new OpxError('not_found', `no route ${request.method} ${request.url.split('?')[0]}`))),
  );

  app.get('/healthz', { config: { scope: 'public' } }, async (_request, reply) => {
    try {
      await ping(runtime.store);
      return {
        status: 'ok',
        store: runtime.store.dialect,
        schemaVersion: await runtime.store.schemaVersion(),
      };
    } catch (error) {
      return reply.code(503).send({ status: 'unavailable', error: (error as Error).message });
    }
  });

  // Prometheus scrapes with a `read` token (scrape_config `authorization`).
  const metrics = metricsRegistry(runtime.store, runtime.config);
  app.get('/metrics', { config: { scope: 'read' } }, async (_request, reply) => {
    const body = await metrics.metrics();
    return reply.type(metrics.contentType).send(body);
  });

  registerIngestRoutes(app, runtime);
  registerIncidentRoutes(app, runtime);
  registerAdminRoutes(app, runtime, verifier);
  registerKnowledgeRoutes(app, runtime);
  registerInvestigationRoutes(app, runtime);
  registerAnalyticsRoutes(app, runtime);
  registerGuardrailRoutes(app);
  return app;
}
