import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import secureJson from 'secure-json-parse';
import { metricsRegistry } from '../analytics/metrics.js';
import { TokenVerifier } from '../auth/tokens.js';
import { OpxError } from '../domain/errors.js';
import { normalizeBody } from '../domain/payload.js';
import type { Runtime } from '../runtime.js';
import { storeFault, storeUnavailable } from '../store/faults.js';
import { ping } from '../store/store.js';
import { registerAuth } from './auth.js';
import { errorBody } from './http.js';
import { openApiDocument } from './openapi.js';
import { registerAdminRoutes } from './routes/admin.js';
import { registerAnalyticsRoutes } from './routes/analytics.js';
import { registerCatalogRoutes } from './routes/catalog.js';
import { registerConsoleRoutes } from './routes/console.js';
import { registerGuardrailRoutes } from './routes/guardrails.js';
import { registerIncidentRoutes } from './routes/incidents.js';
import { registerIngestRoutes } from './routes/ingest.js';
import { registerInvestigationRoutes } from './routes/investigations.js';
import { registerKnowledgeRoutes } from './routes/knowledge.js';
import { registerNotificationRoutes } from './routes/notifications.js';
import { registerSessionRoutes } from './routes/session.js';
import { registerSignalRoutes } from './routes/signals.js';

export interface ServerOptions {
  /** Log requests (one line each); off keeps the ingest hot path lean. */
  logRequests?: boolean;
}

/** Maps any thrown error to OPX's stable JSON error shape and status. */
function toOpxError(error: unknown): OpxError {
  if (error instanceof OpxError) return error;
  // A locked, full or unreachable database is the store's state, not a fault of the request: 503 and
  // retryable, so a sender keeps the data and sends it again instead of dropping it on a 500.
  const fault = storeFault(error);
  if (fault) return storeUnavailable(error, fault);
  // PostgreSQL text cannot hold U+0000 (SQLSTATE 22021; 22P05 when it cannot be converted), which a
  // request can put in any id, query value or body field: the request is at fault, not the server.
  for (let current: unknown = error; current instanceof Error; current = current.cause) {
    const sqlState = (current as { code?: unknown }).code;
    if (sqlState === '22021' || sqlState === '22P05')
      return new OpxError(
        'invalid_request',
        'the request holds text the store cannot keep (a NUL character, U+0000); remove it and send again',
      );
  }
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

/** Seconds until a retryable 503 is worth retrying: the store fault's own wait, else one second. */
function retryAfterSeconds(error: OpxError): number {
  const seconds = (error.details as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
  return typeof seconds === 'number' && seconds > 0 ? Math.ceil(seconds) : 1;
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
    // Errors Fastify raises before routing (a malformed URL, a path parameter over 100 characters)
    // get the { error: { code, message } } shape of every other answer, with Fastify's status.
    frameworkErrors: (error, _request, reply) => {
      (reply as FastifyReply)
        .code(error.statusCode ?? 400)
        .send(errorBody(new OpxError('invalid_request', error.message)));
    },
    // Node's parser refuses some requests before Fastify sees them (headers over 16 kB, broken
    // framing, too slow). Fastify's default answer lacks `Connection: close`, so a keep-alive client
    // reuses the socket it then destroys and its next request fails; this one says so, in OPX's shape.
    clientErrorHandler: (error, socket) => {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ECONNRESET' || socket.destroyed) return;
      const [status, reason, message] =
        code === 'HPE_HEADER_OVERFLOW'
          ? [431, 'Request Header Fields Too Large', 'the URL and headers are larger than 16 kB']
          : code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? [408, 'Request Timeout', 'the request did not arrive in time (OPX_REQUEST_TIMEOUT_SECONDS)']
            : [400, 'Bad Request', 'the request is not valid HTTP/1.1'];
      const body = JSON.stringify(errorBody(new OpxError('invalid_request', message)));
      if (socket.writable)
        socket.write(
          `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
        );
      socket.destroy(error);
    },
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
  // Secure headers on every answer. One policy serves the JSON API and the web console: nothing is
  // allowed unless named, and the console may load only its own scripts, styles, images and API.
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        scriptSrc: ["'self'"],
        // The hash is the one <style> cytoscape inserts: `.__________cytoscape_container { position: relative; }`.
        styleSrc: ["'self'", "'sha256-pgvDUBa4IjFA2yuSJ2cqcyxmNYJMborsd0ORcRv9vw8='"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        baseUri: ["'none'"],
        formAction: ["'none'"],
        frameAncestors: ["'none'"],
      },
    },
    hsts: config.tlsCertFile !== undefined,
  });
  // CORS is off unless origins are configured: browsers on other origins get no access.
  if (config.corsOrigins.length > 0)
    await app.register(cors, {
      origin: config.corsOrigins,
      allowedHeaders: ['authorization', 'content-type', 'idempotency-key'],
    });

  // What JSON allows but OPX refuses (with a 400 a sender stops retrying, not a 500 later) or keeps
  // differently: see normalizeBody.
  const checked = (value: unknown): OpxError | null => {
    const problem = normalizeBody(value);
    return problem ? new OpxError('invalid_request', problem, { path: 'body' }) : null;
  };
  // secure-json-parse is JSON.parse that refuses `__proto__` and `constructor.prototype` keys.
  const parse = (
    request: FastifyRequest,
    body: Buffer,
    done: (error: Error | null, value?: unknown) => void,
  ) => {
    request.rawBody = body;
    if (body.length === 0)
      return done(new OpxError('invalid_json', 'the body is empty; send a JSON document'));
    let value: unknown;
    try {
      value = secureJson.parse(body, undefined, { protoAction: 'error', constructorAction: 'error' });
    } catch (error) {
      const message = (error as Error).message;
      return done(
        /forbidden prototype property/i.test(message)
          ? new OpxError(
              'invalid_request',
              'the body has a key named "__proto__" (or "constructor" holding "prototype"), which OPX refuses because it can alter objects\' prototypes; rename the key',
              { path: 'body' },
            )
          : new OpxError('invalid_json', `the body is not valid JSON: ${message}`),
      );
    }
    done(checked(value), value);
  };
  // The body's bytes are kept beside the parsed value: signed sources are verified over them.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) =>
    parse(request, body as Buffer, done),
  );
  // SNS posts JSON as text/plain; accept JSON under that type too, parsed and checked the same way.
  app.addContentTypeParser('text/plain', { parseAs: 'buffer' }, (request, body, done) =>
    parse(request, body as Buffer, done),
  );
  app.addContentTypeParser(
    ['application/yaml', 'application/x-yaml', 'text/yaml'],
    { parseAs: 'string' },
    (_request, body, done) => done(null, body),
  );

  const verifier = new TokenVerifier(runtime.store, config.adminToken);
  registerAuth(app, verifier, config.sourceAuth, config.authFailuresPerMinute);
  // Per token, counted after authentication (per address for requests that fail it).
  if (config.rateLimitPerMinute > 0)
    await app.register(rateLimit, {
      hook: 'preHandler',
      max: config.rateLimitPerMinute,
      timeWindow: 60_000,
      // By token id: two tokens that share a name do not share a budget.
      keyGenerator: (request) =>
        request.principal
          ? `token:${request.principal.tokenId ?? request.principal.name}`
          : `ip:${request.ip}`,
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
    // RFC 9110 §10.2.3: tells a client when to retry a 503. The rate limiter sets its own for a 429.
    if (opxError.retryable && opxError.status === 503 && !reply.hasHeader('retry-after'))
      reply.header('retry-after', String(retryAfterSeconds(opxError)));
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

  // The API's own description, public like /healthz: it holds no data (docs/api.md, docs/openapi.json).
  app.get('/openapi.json', { config: { scope: 'public' } }, async () => openApiDocument());

  // Prometheus scrapes with a `read` token (scrape_config `authorization`).
  const metrics = metricsRegistry(runtime.store, runtime.config);
  app.get('/metrics', { config: { scope: 'read' } }, async (_request, reply) => {
    const body = await metrics.metrics();
    return reply.type(metrics.contentType).send(body);
  });

  registerIngestRoutes(app, runtime);
  registerIncidentRoutes(app, runtime);
  registerSignalRoutes(app, runtime);
  registerCatalogRoutes(app, runtime);
  registerAdminRoutes(app, runtime, verifier);
  registerNotificationRoutes(app, runtime);
  registerKnowledgeRoutes(app, runtime);
  registerInvestigationRoutes(app, runtime);
  registerAnalyticsRoutes(app, runtime);
  registerGuardrailRoutes(app);
  registerSessionRoutes(app);
  await registerConsoleRoutes(app, runtime);
  return app;
}
