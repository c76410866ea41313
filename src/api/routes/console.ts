import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { toIso } from '../../domain/common.js';
import { OpxError } from '../../domain/errors.js';
import { requireIncident } from '../../incidents/service.js';
import type { Runtime } from '../../runtime.js';
import { packageRoot } from '../../util/package-root.js';
import { idParams, parseInput } from '../http.js';
import { presentIncident } from './incidents.js';

/** web/dist, beside the package's code (src/util/package-root.ts). */
export const CONSOLE_ROOT = `${path.join(packageRoot(), 'web', 'dist')}${path.sep}`;

/** Paths the API owns: a miss there is an API 404 in JSON, never the console's HTML. */
const API_PREFIXES = ['/v1/', '/v2/', '/api/'];
const API_PATHS = new Set(['/v1', '/v2', '/api', '/healthz', '/metrics']);

/** How often the stream looks for changed incidents; a change reaches the browser within about this long. */
export const STREAM_POLL_MS = 1000;
/** A comment line this often keeps proxies and load balancers from closing an idle stream. */
const STREAM_HEARTBEAT_MS = 15_000;
/**
 * The stream watches the most recently detected incidents only: those are the ones a console shows
 * live. Older incidents still change through the API; the console sees that on its next load.
 */
const STREAM_WATCHED = 200;

/**
 * A client that reads slower than events arrive is dropped once this much is queued for it: the
 * server never buffers without bound for a reader that is not reading. It reconnects and re-reads.
 */
export const STREAM_BUFFER_LIMIT_BYTES = 256 * 1024;

interface Subscriber {
  /** The API token the stream was opened with; null for principals that cannot be revoked. */
  readonly tokenId: string | null;
  send(frame: string): void;
  /** Ends the stream, first telling the client why when there is a reason. */
  close(reason?: { code: string; message: string }): void;
}

/** One server-sent event, as written on the wire. */
function sseFrame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * One poller per server, shared by every open stream. It polls the store rather than listening to
 * this process, because with PostgreSQL the worker that changes an incident may be another process.
 * A change is any new incident, or a new `updated_at` or `last_event_seq` (every event append bumps it).
 * Each poll also re-checks the tokens the streams were opened with, so a revoked token's stream is
 * closed within a poll, whichever process revoked it.
 */
function incidentWatcher(runtime: Runtime, log: (error: unknown) => void) {
  const subscribers = new Set<Subscriber>();
  let marks: Map<string, string> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let polling = false;

  async function closeRevoked(): Promise<void> {
    const ids = new Set<string>();
    for (const subscriber of subscribers) if (subscriber.tokenId) ids.add(subscriber.tokenId);
    if (ids.size === 0) return;
    const active = await runtime.store.tokens.activeIds([...ids]);
    for (const subscriber of subscribers) {
      if (subscriber.tokenId && !active.has(subscriber.tokenId))
        subscriber.close({ code: 'unauthorized', message: 'the token was revoked' });
    }
  }

  async function poll(): Promise<void> {
    if (polling) return;
    polling = true;
    try {
      await closeRevoked();
      // Two narrow columns of the newest incidents; the repositories have no change feed to ask.
      const rows = await runtime.store.db
        .selectFrom('incidents')
        .select(['id', 'updated_at', 'last_event_seq'])
        .orderBy('detected_at', 'desc')
        .orderBy('id', 'desc')
        .limit(STREAM_WATCHED)
        .execute();
      const next = new Map(rows.map((row) => [row.id, `${row.updated_at}:${row.last_event_seq}`]));
      const previous = marks;
      marks = next;
      if (!previous) return;
      const changed = rows.filter((row) => previous.get(row.id) !== next.get(row.id));
      for (const row of changed) {
        const incident = await runtime.store.incidents.get(row.id);
        if (!incident) continue;
        const frame = sseFrame('incident', {
          incident: presentIncident(incident),
          lastEventSeq: row.last_event_seq,
        });
        for (const subscriber of subscribers) subscriber.send(frame);
      }
    } catch (error) {
      log(error);
    } finally {
      polling = false;
    }
  }

  return {
    async subscribe(subscriber: Subscriber): Promise<() => void> {
      subscribers.add(subscriber);
      if (!timer) {
        // The first snapshot is the baseline: a new stream reports what changes after it opened.
        // The timer is set before the await so two streams opening together start one poller.
        marks = undefined;
        timer = setInterval(() => void poll(), STREAM_POLL_MS);
        await poll();
      }
      return () => {
        subscribers.delete(subscriber);
        if (subscribers.size === 0 && timer) {
          clearInterval(timer);
          timer = undefined;
        }
      };
    },
    closeAll(): void {
      for (const subscriber of subscribers) subscriber.close();
      subscribers.clear();
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}

/**
 * The server side of one live stream over `raw`. Writes are dropped once the stream has ended; a
 * client with more than STREAM_BUFFER_LIMIT_BYTES queued is cut off (destroyed, not ended: ending
 * would wait for the queue to drain). `onEnd` runs exactly once, however the stream ends.
 */
export function streamSubscriber(
  raw: Pick<Writable, 'write' | 'end' | 'destroy' | 'writableLength'>,
  tokenId: string | null,
  hooks: { onEnd(): void; onSlowClient(queuedBytes: number): void },
): Subscriber & { ended(): void; isOpen(): boolean } {
  let open = true;
  const ended = () => {
    if (!open) return;
    open = false;
    hooks.onEnd();
  };
  return {
    tokenId,
    send(frame) {
      if (!open) return;
      if (raw.writableLength > STREAM_BUFFER_LIMIT_BYTES) {
        hooks.onSlowClient(raw.writableLength);
        ended();
        raw.destroy();
        return;
      }
      raw.write(frame);
    },
    close(reason) {
      if (!open) return;
      if (reason) raw.write(sseFrame('error', { error: reason }));
      ended();
      raw.end();
    },
    ended,
    isOpen: () => open,
  };
}

function isApiPath(urlPath: string): boolean {
  return API_PATHS.has(urlPath) || API_PREFIXES.some((prefix) => urlPath.startsWith(prefix));
}

/** The file under the console's root that a URL path names, if there is one (never outside the root). */
function consoleFile(urlPath: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0')) return undefined;
  const file = path.resolve(CONSOLE_ROOT, `.${decoded}`);
  if (!file.startsWith(CONSOLE_ROOT)) return undefined;
  try {
    return statSync(file).isFile() ? path.relative(CONSOLE_ROOT, file) : undefined;
  } catch {
    return undefined;
  }
}

const NOT_BUILT =
  'The OPX web console is not built yet.\n\n' +
  'Run `npm run build` in the OPX checkout (`npm ci` runs it for you), then reload this page.\n' +
  'The API itself works without it: see docs/api.md.\n';

/**
 * The web console (web/dist, built by Vite) at `/`, its live incident stream, and the two read-only
 * safety views it shows that no other route exposes.
 */
export async function registerConsoleRoutes(app: FastifyInstance, runtime: Runtime): Promise<void> {
  const publicRoute = { config: { scope: 'public' as const } };
  const read = { config: { scope: 'read' as const } };

  // Only reply.sendFile: the routes below decide what is a file and what falls back to the app.
  await app.register(fastifyStatic, { root: CONSOLE_ROOT, serve: false });

  const sendIndex = (reply: FastifyReply) => {
    if (!existsSync(path.join(CONSOLE_ROOT, 'index.html')))
      return reply.code(503).type('text/plain; charset=utf-8').send(NOT_BUILT);
    // The page names hashed assets; it must be fetched again after every build.
    return reply.header('cache-control', 'no-cache').sendFile('index.html', { cacheControl: false });
  };

  app.get('/', publicRoute, async (_request, reply) => sendIndex(reply));
  app.get('/*', publicRoute, async (request, reply) => {
    const urlPath = request.url.split('?')[0] ?? '/';
    if (isApiPath(urlPath)) throw new OpxError('not_found', `no route GET ${urlPath}`);
    const file = consoleFile(urlPath);
    if (file) {
      // Vite puts a content hash in every asset name, so an asset never changes under its name.
      const immutable = file.startsWith(`assets${path.sep}`);
      return reply
        .header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
        .sendFile(file, { cacheControl: false });
    }
    // A path with an extension is a missing file, not a page of the app.
    if (path.extname(urlPath) !== '') throw new OpxError('not_found', `no file ${urlPath}`);
    return sendIndex(reply);
  });

  const watcher = incidentWatcher(runtime, (error) =>
    app.log.warn({ err: error }, 'incident stream poll failed'),
  );
  app.addHook('preClose', async () => watcher.closeAll());

  /**
   * Server-sent events: `event: incident` with `{incident, lastEventSeq}` whenever an incident is new
   * or changed. Browsers' EventSource cannot send the Authorization header, so the console reads this
   * with fetch(); any SSE client that can set headers works too.
   */
  /** Open streams, in all and per token: both are capped, so idle clients cannot pile up. */
  let openStreams = 0;
  const streamsPerKey = new Map<string, number>();

  /**
   * Server-sent events: `event: incident` with `{incident, lastEventSeq}` whenever an incident is new
   * or changed. Browsers' EventSource cannot send the Authorization header, so the console reads this
   * with fetch(); any SSE client that can set headers works too. A stream ends with `event: error`
   * when its token is revoked, and is dropped when its client stops reading.
   */
  app.get('/v1/stream/incidents', read, async (request, reply) => {
    const principal = request.principal;
    const key = principal.tokenId ?? principal.name;
    const { streamMaxClients, streamMaxPerToken } = runtime.config;
    const mine = streamsPerKey.get(key) ?? 0;
    if (openStreams >= streamMaxClients || mine >= streamMaxPerToken) {
      reply.header('retry-after', '30');
      throw new OpxError(
        'rate_limited',
        openStreams >= streamMaxClients
          ? `this server already holds ${streamMaxClients} live streams (streamMaxClients); retry later`
          : `this token already holds ${streamMaxPerToken} live streams (streamMaxPerToken); close one first`,
        { retryable: true },
      );
    }
    openStreams += 1;
    streamsPerKey.set(key, mine + 1);

    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-content-type-options': 'nosniff',
      // Tells nginx not to buffer the stream.
      'x-accel-buffering': 'no',
      connection: 'keep-alive',
    });
    let unsubscribe: () => void = () => {};
    let heartbeat: NodeJS.Timeout | undefined;
    const subscriber = streamSubscriber(raw, principal.tokenId, {
      onEnd() {
        clearInterval(heartbeat);
        unsubscribe();
        openStreams -= 1;
        const left = (streamsPerKey.get(key) ?? 1) - 1;
        if (left > 0) streamsPerKey.set(key, left);
        else streamsPerKey.delete(key);
      },
      onSlowClient: (queuedBytes) =>
        request.log.warn({ queuedBytes }, 'live stream dropped: its client is not reading'),
    });
    request.raw.on('close', () => subscriber.ended());
    unsubscribe = await watcher.subscribe(subscriber);
    if (!subscriber.isOpen()) {
      unsubscribe();
      return;
    }
    // Clients reconnect after this many milliseconds if the stream drops.
    subscriber.send(`retry: 3000\n${sseFrame('ready', { pollMs: STREAM_POLL_MS })}`);
    heartbeat = setInterval(() => subscriber.send(': keep-alive\n\n'), STREAM_HEARTBEAT_MS);
  });

  /** What the guardrails and the output validation caught, over the store's whole life. */
  app.get('/v1/safety/summary', read, async () => {
    const snapshot = await runtime.store.analytics.snapshot();
    return {
      violations: snapshot.violations,
      validationFailures: snapshot.validationFailures,
      calls: snapshot.calls.map(({ agent, model, status, calls }) => ({ agent, model, status, calls })),
    };
  });

  /** One incident's guardrail violations (hashes, never values) and failed model-output validations. */
  app.get('/v1/incidents/:id/safety', read, async (request) => {
    const { id } = parseInput(idParams, request.params, 'params');
    await requireIncident(runtime.store, id);
    const [violations, validationErrors] = await Promise.all([
      runtime.store.safety.violations(id),
      runtime.store.safety.validationErrors(id),
    ]);
    return {
      violations: violations.map((violation) => ({ ...violation, createdAt: toIso(violation.createdAt) })),
      validationErrors: validationErrors.map((error) => ({ ...error, createdAt: toIso(error.createdAt) })),
    };
  });
}
