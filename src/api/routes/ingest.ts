import { SpanKind } from '@opentelemetry/api';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { SourceName } from '../../auth/sources.js';
import { parseBackstageCatalog } from '../../catalog/backstage.js';
import { changeInputSchema } from '../../domain/change.js';
import { OpxError } from '../../domain/errors.js';
import { serviceInputSchema } from '../../domain/service.js';
import { parseAlertmanagerWebhook } from '../../ingest/adapters/alertmanager.js';
import { parseCloudWatchSns } from '../../ingest/adapters/cloudwatch.js';
import { parseEventBridgeAlarm } from '../../ingest/adapters/eventbridge.js';
import { parseGenericSignals } from '../../ingest/adapters/generic.js';
import { parsePagerDutyChange, parsePagerDutyEvent } from '../../ingest/adapters/pagerduty.js';
import { parsePrometheusAlerts } from '../../ingest/adapters/prometheus.js';
import type { Adapter, AdapterResult } from '../../ingest/adapters/types.js';
import type { IngestResult } from '../../ingest/pipeline.js';
import type { Runtime } from '../../runtime.js';
import { detectionLatency, signalsIngested } from '../../telemetry/metrics.js';
import { currentTraceContext, inSpan } from '../../telemetry/tracing.js';
import { parseInput, sendWrite, writeOf } from '../http.js';
import { presentChange } from '../present.js';
import type {
  ChangeRecorded,
  CloudWatchIngest,
  IngestSummary,
  PagerDutyAccepted,
  ServicesImported,
} from '../schemas.js';

type Ok = Extract<AdapterResult, { ok: true }>;

/** `POST /v1/services` in JSON: one service, an array of them, or `{ services: [...] }`. */
export const servicesBody = z.union([
  z.array(serviceInputSchema).min(1).max(1000),
  z.strictObject({ services: z.array(serviceInputSchema).min(1).max(1000) }),
  serviceInputSchema,
]);

function summary(result: IngestResult): IngestSummary {
  return {
    accepted: result.signals.length,
    signals: result.signals,
    incidents: { created: result.incidentsCreated, updated: result.incidentsUpdated },
  };
}

/** Signals by source and action, and for each new incident how long after its first signal it opened. */
function recordIngestMetrics(parsed: Ok, result: IngestResult, now: number): void {
  const startOf = new Map<string, number>();
  result.signals.forEach((outcome, index) => {
    const draft = parsed.signals[index]!;
    signalsIngested.inc({ source: draft.source, action: outcome.action });
    for (const incidentId of outcome.incidentIds) {
      const startsAt = draft.startsAt ?? now;
      startOf.set(incidentId, Math.min(startOf.get(incidentId) ?? startsAt, startsAt));
    }
  });
  for (const incidentId of result.incidentsCreated) {
    const startedAt = startOf.get(incidentId);
    if (startedAt !== undefined) detectionLatency.observe(Math.max(0, now - startedAt) / 1000);
  }
}

export function registerIngestRoutes(app: FastifyInstance, runtime: Runtime): void {
  const { ingest, writes } = runtime;

  /** Parses with a source adapter, then stores everything it yielded in one transaction. */
  function receiver(
    adapter: Adapter,
    respond: (parsed: Ok, result: IngestResult) => { statusCode: number; body: unknown },
  ) {
    return async (request: FastifyRequest, reply: FastifyReply) => {
      const now = Date.now();
      const parsed = adapter(request.body, { now });
      if (!parsed.ok) {
        throw new OpxError(
          parsed.error.code,
          parsed.error.message,
          parsed.error.path ? { path: parsed.error.path } : {},
        );
      }
      return inSpan(
        'opx.ingest',
        {
          kind: SpanKind.SERVER,
          attributes: { 'http.route': request.routeOptions.url ?? '', 'opx.signals': parsed.signals.length },
        },
        async (span) => {
          // The result of the run that committed (a group commit may re-run the work alone).
          let committed: IngestResult | undefined;
          const trace = currentTraceContext();
          const response = await writes.write(async (scope) => {
            const result = await ingest.ingestInScope(
              scope,
              parsed.signals,
              request.principal.name,
              now,
              trace,
            );
            await ingest.recordChanges(scope, parsed.changes, now);
            await ingest.recordConfirmations(scope, parsed.confirmations);
            committed = result;
            return {
              ...respond(parsed, result),
              audit: {
                detail: {
                  signals: result.signals.length,
                  changes: parsed.changes.length,
                  incidentsCreated: result.incidentsCreated,
                },
              },
            };
          }, writeOf(request));
          if (committed && !response.replayed) {
            recordIngestMetrics(parsed, committed, now);
            for (const incidentId of committed.incidentsCreated)
              span.addEvent('opx.incident.opened', { 'opx.incident.id': incidentId });
            span.setAttribute('opx.incidents.created', committed.incidentsCreated.length);
          }
          return sendWrite(reply, response);
        },
      );
    };
  }

  const source = (name: SourceName) => ({ config: { scope: 'ingest' as const, source: name } });

  app.post(
    '/v1/signals',
    source('signals'),
    receiver(parseGenericSignals, (_parsed, result) => ({ statusCode: 200, body: summary(result) })),
  );
  app.post(
    '/v1/ingest/alertmanager',
    source('alertmanager'),
    receiver(parseAlertmanagerWebhook, (_parsed, result) => ({ statusCode: 200, body: summary(result) })),
  );
  // Prometheus treats OPX as an Alertmanager here; Alertmanager answers 200 with an empty body.
  app.post(
    '/api/v2/alerts',
    source('prometheus'),
    receiver(parsePrometheusAlerts, () => ({ statusCode: 200, body: null })),
  );
  app.post(
    '/v1/ingest/cloudwatch',
    source('cloudwatch'),
    receiver(parseCloudWatchSns, (parsed, result) => ({
      statusCode: 200,
      body: {
        ...summary(result),
        subscriptionConfirmations: parsed.confirmations.map((confirmation) => ({
          topicArn: confirmation.topicArn,
          status: 'pending',
          note: 'recorded for an admin to confirm; OPX never fetches SubscribeURL by itself (see `opx sns list`)',
        })),
      } satisfies CloudWatchIngest,
    })),
  );
  app.post(
    '/v1/ingest/eventbridge',
    source('eventbridge'),
    receiver(parseEventBridgeAlarm, (_parsed, result) => ({ statusCode: 200, body: summary(result) })),
  );
  const pagerDutyConfig = {
    config: { scope: 'ingest' as const, bodyToken: 'routing_key' as const, source: 'pagerduty' as const },
  };
  app.post(
    '/v2/enqueue',
    pagerDutyConfig,
    receiver(parsePagerDutyEvent, (parsed) => ({
      statusCode: 202,
      body: {
        status: 'success',
        message: 'Event processed',
        dedup_key: parsed.dedupKeys[0],
      } satisfies PagerDutyAccepted,
    })),
  );
  app.post(
    '/v2/change/enqueue',
    pagerDutyConfig,
    receiver(parsePagerDutyChange, () => ({
      statusCode: 202,
      body: { status: 'success', message: 'Change event processed' } satisfies PagerDutyAccepted,
    })),
  );

  app.post('/v1/changes', source('changes'), async (request, reply) => {
    const input = parseInput(changeInputSchema, request.body);
    const response = await writes.write(async (scope) => {
      const { change, created } = await ingest.recordChange(scope, input);
      return {
        statusCode: created ? 201 : 200,
        body: { change: presentChange(change), created } satisfies ChangeRecorded,
      };
    }, writeOf(request));
    return sendWrite(reply, response);
  });

  app.post('/v1/services', { config: { scope: 'admin' } }, async (request, reply) => {
    const contentType = String(request.headers['content-type'] ?? '');
    let services: z.output<typeof serviceInputSchema>[];
    let skipped: unknown[] = [];
    if (/yaml/.test(contentType)) {
      const parsed = parseBackstageCatalog(String(request.body ?? ''));
      if (!parsed.ok)
        throw new OpxError(
          parsed.error.code,
          parsed.error.message,
          parsed.error.path ? { path: parsed.error.path } : {},
        );
      services = parsed.services;
      skipped = parsed.skipped;
    } else {
      const body = parseInput(servicesBody, request.body);
      services = Array.isArray(body) ? body : 'services' in body ? body.services : [body];
    }
    const response = await writes.write(async (scope) => {
      const result = await scope.services.upsertMany(services);
      return { statusCode: 200, body: { ...result, skipped } satisfies ServicesImported };
    }, writeOf(request));
    return sendWrite(reply, response);
  });
}
