import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { incidentSeveritySchema, parseTimestamp, toIso } from '../../domain/common.js';
import { OpxError } from '../../domain/errors.js';
import {
  type Incident,
  type IncidentEvent,
  type IncidentStatus,
  incidentStatusSchema,
  mergeInputSchema,
  noteInputSchema,
  resolveInputSchema,
  splitInputSchema,
  transitionInputSchema,
} from '../../domain/incident.js';
import { mergeIncidents, splitIncident } from '../../incidents/merge.js';
import {
  addNote,
  changeSeverity,
  requireIncident,
  transitionIncident,
  verifyChain,
} from '../../incidents/service.js';
import { scheduleReinvestigation } from '../../ingest/pipeline.js';
import { freezeEvidence } from '../../investigate/bundle.js';
import type { Runtime } from '../../runtime.js';
import { idParams, parseInput, sendWrite, writeOf } from '../http.js';
import { presentSignal } from '../present.js';
import type {
  ChainVerificationView,
  Evidence,
  EvidenceFrozen,
  IncidentDetail,
  IncidentEventList,
  IncidentEventView,
  IncidentList,
  IncidentView,
  MergeResponse,
  NoteResponse,
  SeverityResponse,
  SplitResponse,
  TransitionResponse,
} from '../schemas.js';

const csv = <T extends z.ZodType<unknown, string>>(item: T) =>
  z
    .string()
    .transform((value) =>
      value
        .split(',')
        .map((part) => part.trim())
        .filter(Boolean),
    )
    .pipe(z.array(item));

const isoTime = z.string().transform((value, context) => {
  const parsed = parseTimestamp(value);
  if (parsed === undefined) {
    context.addIssue({ code: 'custom', message: 'use an ISO-8601 time such as 2026-11-26T10:00:00Z' });
    return z.NEVER;
  }
  return parsed;
});

export const listQuery = z.strictObject({
  status: csv(incidentStatusSchema)
    .optional()
    .meta({ description: 'comma-separated, e.g. OPEN,ACKNOWLEDGED' }),
  severity: csv(incidentSeveritySchema).optional().meta({ description: 'comma-separated, e.g. SEV1,SEV2' }),
  service: z.string().min(1).max(200).optional(),
  q: z.string().max(200).optional().meta({
    description:
      'free text: incidents whose title, a service or a note (among the 10,000 most recent notes) contains it, ignoring case',
  }),
  since: isoTime.optional().meta({ description: 'detected at or after this ISO-8601 time' }),
  until: isoTime.optional().meta({ description: 'detected before this ISO-8601 time' }),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(200).optional(),
});

export function encodeCursor(detectedAt: number, id: string): string {
  return Buffer.from(`${detectedAt}:${id}`).toString('base64url');
}

function decodeCursor(cursor: string): { detectedAt: number; id: string } {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const match = /^(\d+):(inc_[0-9a-z]+)$/.exec(text);
  if (!match)
    throw new OpxError(
      'invalid_request',
      'cursor is not one this server issued; pass nextCursor back unchanged',
      { path: 'cursor' },
    );
  return { detectedAt: Number(match[1]), id: match[2]! };
}

export const severityBody = z.strictObject({
  severity: incidentSeveritySchema,
  reason: z.string().max(2000).optional(),
});

export function registerIncidentRoutes(app: FastifyInstance, runtime: Runtime): void {
  const { store, ingest, writes } = runtime;
  const read = { config: { scope: 'read' as const } };
  const respond = { config: { scope: 'respond' as const } };

  app.get('/v1/incidents', read, async (request): Promise<IncidentList> => {
    const query = parseInput(listQuery, request.query, 'query');
    const items = await store.incidents.list({
      ...(query.status ? { status: query.status } : {}),
      ...(query.severity ? { severity: query.severity } : {}),
      ...(query.service ? { service: query.service } : {}),
      ...(query.q?.trim() ? { text: query.q } : {}),
      ...(query.since !== undefined ? { since: query.since } : {}),
      ...(query.until !== undefined ? { until: query.until } : {}),
      ...(query.cursor ? { cursor: decodeCursor(query.cursor) } : {}),
      limit: query.limit + 1,
    });
    const page = items.slice(0, query.limit);
    const last = page[page.length - 1];
    return {
      items: page.map(presentIncident),
      nextCursor: items.length > query.limit && last ? encodeCursor(last.detectedAt, last.id) : null,
    };
  });

  app.get('/v1/incidents/:id', read, async (request): Promise<IncidentDetail> => {
    const { id } = parseInput(idParams, request.params, 'params');
    const incident = await requireIncident(store, id);
    const links = new Map((await store.incidents.signalLinks(id)).map((link) => [link.signalId, link]));
    const signals = await store.signals.getMany([...links.keys()]);
    return {
      incident: {
        ...presentIncident(incident),
        currentInvestigationId: await store.investigations.currentId(id),
      },
      signals: signals.map((signal) => ({
        ...presentSignal(signal),
        joinedBy: links.get(signal.id)?.reason ?? null,
        pinned: links.get(signal.id)?.pinned ?? false,
      })),
    };
  });

  app.get('/v1/incidents/:id/events', read, async (request): Promise<IncidentEventList> => {
    const { id } = parseInput(idParams, request.params, 'params');
    await requireIncident(store, id);
    const events = await store.incidents.events(id);
    return { items: events.map(presentEvent) };
  });

  app.get('/v1/incidents/:id/verify', read, async (request): Promise<ChainVerificationView> => {
    const { id } = parseInput(idParams, request.params, 'params');
    return verifyChain(store, id);
  });

  const transitions: { path: string; to: IncidentStatus }[] = [
    { path: 'acknowledge', to: 'ACKNOWLEDGED' },
    { path: 'mitigate', to: 'MITIGATED' },
    { path: 'resolve', to: 'RESOLVED' },
    { path: 'close', to: 'CLOSED' },
    { path: 'reopen', to: 'OPEN' },
  ];
  for (const { path, to } of transitions) {
    app.post(`/v1/incidents/:id/${path}`, respond, async (request, reply) => {
      const { id } = parseInput(idParams, request.params, 'params');
      const body = parseInput(
        to === 'RESOLVED' ? resolveInputSchema : transitionInputSchema,
        request.body ?? {},
      );
      const response = await writes.write(async (scope) => {
        const { incident, event } = await transitionIncident(scope, id, to, {
          principal: request.principal.name,
          at: Date.now(),
          ...body,
        });
        return {
          statusCode: 200,
          body: {
            incident: presentIncident(incident),
            event: presentEvent(event),
          } satisfies TransitionResponse,
        };
      }, writeOf(request));
      return sendWrite(reply, response);
    });
  }

  app.post('/v1/incidents/:id/severity', respond, async (request, reply) => {
    const { id } = parseInput(idParams, request.params, 'params');
    const body = parseInput(severityBody, request.body);
    const response = await writes.write(async (scope) => {
      const incident = await changeSeverity(scope, id, body.severity, {
        principal: request.principal.name,
        at: Date.now(),
        reason: body.reason,
      });
      return { statusCode: 200, body: { incident: presentIncident(incident) } satisfies SeverityResponse };
    }, writeOf(request));
    return sendWrite(reply, response);
  });

  // Merge and split by hand: the moved signals stay where the responder put them, and the incidents
  // that changed are investigated again.
  const rerun = async (scope: Parameters<typeof scheduleReinvestigation>[0], ids: string[]) => {
    if (ingest.settings.investigate)
      await scheduleReinvestigation(scope, ids, Date.now(), ingest.settings.investigate);
  };
  app.post('/v1/incidents/:id/merge', respond, async (request, reply) => {
    const { id } = parseInput(idParams, request.params, 'params');
    const body = parseInput(mergeInputSchema, request.body);
    const response = await writes.write(async (scope) => {
      const { incident, merged } = await mergeIncidents(scope, id, body.into, {
        principal: request.principal.name,
        reason: body.reason,
      });
      await rerun(scope, [incident.id]);
      return {
        statusCode: 200,
        body: {
          incident: presentIncident(incident),
          merged: presentIncident(merged),
        } satisfies MergeResponse,
      };
    }, writeOf(request));
    return sendWrite(reply, response);
  });

  app.post('/v1/incidents/:id/split', respond, async (request, reply) => {
    const { id } = parseInput(idParams, request.params, 'params');
    const body = parseInput(splitInputSchema, request.body);
    const response = await writes.write(async (scope) => {
      const { incident, split } = await splitIncident(scope, id, body.signalIds, {
        principal: request.principal.name,
        reason: body.reason,
        title: body.title,
      });
      await rerun(scope, [incident.id, split.id]);
      return {
        statusCode: 201,
        body: { incident: presentIncident(incident), split: presentIncident(split) } satisfies SplitResponse,
      };
    }, writeOf(request));
    return sendWrite(reply, response);
  });

  app.post('/v1/incidents/:id/notes', respond, async (request, reply) => {
    const { id } = parseInput(idParams, request.params, 'params');
    const { text } = parseInput(noteInputSchema, request.body);
    const response = await writes.write(async (scope) => {
      const event = await addNote(scope, id, text, request.principal.name);
      return { statusCode: 201, body: { event: presentEvent(event) } satisfies NoteResponse };
    }, writeOf(request));
    return sendWrite(reply, response);
  });

  app.post('/v1/incidents/:id/evidence', respond, async (request, reply) => {
    const { id } = parseInput(idParams, request.params, 'params');
    // The cached knowledge index, built outside the write transaction.
    const options = await runtime.evidenceOptions(request.principal.name);
    const response = await writes.write(async (scope) => {
      const frozen = await freezeEvidence(scope, id, options);
      return { statusCode: 201, body: frozen satisfies EvidenceFrozen };
    }, writeOf(request));
    return sendWrite(reply, response);
  });

  app.get('/v1/incidents/:id/evidence', read, async (request): Promise<Evidence> => {
    const { id } = parseInput(idParams, request.params, 'params');
    await requireIncident(store, id);
    const bundle = await store.evidence.latestBundle(id);
    if (!bundle)
      throw new OpxError(
        'not_found',
        `incident ${id} has no frozen evidence yet; POST /v1/incidents/${id}/evidence makes one`,
      );
    return { bundle, graph: (await store.evidence.graphForBundle(bundle.id)) ?? null };
  });
}

/** Times as ISO-8601 at the edge; the store keeps epoch milliseconds. */
export function presentIncident(incident: Incident): IncidentView {
  return {
    ...incident,
    startedAt: toIso(incident.startedAt),
    detectedAt: toIso(incident.detectedAt),
    acknowledgedAt: toIso(incident.acknowledgedAt),
    mitigatedAt: toIso(incident.mitigatedAt),
    resolvedAt: toIso(incident.resolvedAt),
    closedAt: toIso(incident.closedAt),
    signalsResolvedAt: toIso(incident.signalsResolvedAt),
    updatedAt: toIso(incident.updatedAt),
  };
}

export function presentEvent(event: IncidentEvent): IncidentEventView {
  return { ...event, at: toIso(event.at) };
}
