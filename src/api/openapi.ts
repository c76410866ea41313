/**
 * The OpenAPI 3.1 document of the HTTP API, served at `GET /openapi.json` and committed as
 * docs/openapi.json (`npm run openapi` writes it; test/openapi.test.ts checks the two match).
 *
 * zod-openapi renders it from the zod schemas themselves: the request schemas are the ones the routes
 * parse with (exported from src/api/routes and src/domain), the response schemas the ones the route
 * mappers are typed by (src/api/schemas.ts). The table below only says which route takes and answers
 * which; test/openapi.test.ts checks it against the routes the server registers, scopes included.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ZodType, z } from 'zod';
import {
  createDocument,
  type oas31,
  type ZodOpenApiOperationObject,
  type ZodOpenApiPathsObject,
} from 'zod-openapi';
import { changeInputSchema } from '../domain/change.js';
import {
  mergeInputSchema,
  noteInputSchema,
  resolveInputSchema,
  splitInputSchema,
  transitionInputSchema,
} from '../domain/incident.js';
import { channelInputSchema, routeInputSchema } from '../domain/notification.js';
import { ruleInputSchema, silenceInputSchema } from '../domain/rule.js';
import { signalInputSchema } from '../domain/signal.js';
import type { Scope } from '../store/repositories/access.js';
import { packageRoot } from '../util/package-root.js';
import { idParams, nameParams } from './http.js';
import { auditQuery, dryRunBody, tokenBody } from './routes/admin.js';
import { alarmsQuery, tokensQuery } from './routes/analytics.js';
import { changesQuery } from './routes/catalog.js';
import { checkBody } from './routes/guardrails.js';
import { listQuery, severityBody } from './routes/incidents.js';
import { servicesBody } from './routes/ingest.js';
import { decisionBody, replayBody, tracesQuery } from './routes/investigations.js';
import { searchQuery } from './routes/knowledge.js';
import { deliveriesQuery } from './routes/notifications.js';
import { signalsQuery } from './routes/signals.js';
import {
  chainVerificationSchema,
  changeListSchema,
  changeRecordedSchema,
  cloudWatchIngestSchema,
  decisionResponseSchema,
  errorBodySchema,
  evidenceFrozenSchema,
  evidenceSchema,
  healthSchema,
  incidentDetailSchema,
  incidentEventListSchema,
  incidentListSchema,
  ingestSummarySchema,
  investigationListSchema,
  investigationRunSchema,
  knowledgeDocumentSchema,
  knowledgeSearchSchema,
  mergeResponseSchema,
  noteResponseSchema,
  pagerDutyAcceptedSchema,
  recommendationListSchema,
  replayResultSchema,
  serviceListSchema,
  serviceSchema,
  servicesImportedSchema,
  severityResponseSchema,
  signalDetailSchema,
  signalListSchema,
  splitResponseSchema,
  tokenCreatedSchema,
  tokenListSchema,
  traceListSchema,
  traceSchema,
  transitionResponseSchema,
  unhealthySchema,
  whoAmISchema,
} from './schemas.js';

export type HttpMethod = 'get' | 'post' | 'put' | 'delete';

interface ApiResponse {
  description: string;
  /** The body's media type and schema; none for an empty answer. */
  content?: { type: string; schema: ZodType };
}

/** One route of the API: what it needs, takes and answers. */
export interface ApiRoute {
  method: HttpMethod;
  /** As registered with Fastify: `/v1/incidents/:id`. */
  path: string;
  /** The token scope it needs (docs/security.md); `public` routes need none. */
  scope: Scope | 'public';
  tag: string;
  summary: string;
  description?: string;
  params?: z.ZodObject;
  query?: z.ZodObject;
  /** The request body by media type. */
  body?: Record<string, ZodType>;
  responses: Record<number, ApiResponse>;
}

const json = (schema: ZodType, description: string): ApiResponse => ({
  description,
  content: { type: 'application/json', schema },
});

/** An answer whose fields docs/api.md describes; the document says only that it is a JSON object. */
const described = (description: string): ApiResponse =>
  json(
    z.looseObject({}).meta({ description: 'a JSON object; docs/api.md describes its fields' }),
    description,
  );

/** A payload in its sender's own format (Alertmanager, SNS, PagerDuty, …), which the adapter reads. */
const foreign = (description: string) => z.looseObject({}).meta({ description });

/** `POST /v1/signals`: one signal, an array of them, or `{ signals: [...] }` (src/ingest/adapters/generic.ts). */
const signalInput = signalInputSchema.meta({ id: 'SignalInput' });
const genericSignals = z.union([
  signalInput,
  z.array(signalInput),
  z.object({ signals: z.array(signalInput) }),
]);

/** Named once in the document: the create and replace routes take them. */
const channelInput = channelInputSchema.meta({ id: 'NotificationChannelInput' });
const routeInput = routeInputSchema.meta({ id: 'NotificationRouteInput' });

/** Named once in the document: both rule routes take it. */
const ruleInput = ruleInputSchema.meta({ id: 'RuleInput' });

const TRANSITIONS = ['acknowledge', 'mitigate', 'resolve', 'close', 'reopen'] as const;

/** Every route the server registers except the console's own pages (`GET /` and `GET /*`). */
export const API_ROUTES: readonly ApiRoute[] = [
  // Probes and this document.
  {
    method: 'get',
    path: '/healthz',
    scope: 'public',
    tag: 'probes',
    summary: 'Liveness and store reachability',
    responses: {
      200: json(healthSchema, 'the server and its store answer'),
      503: json(unhealthySchema, 'the store does not answer'),
    },
  },
  {
    method: 'get',
    path: '/openapi.json',
    scope: 'public',
    tag: 'probes',
    summary: 'This OpenAPI document',
    responses: { 200: json(z.looseObject({}), 'the OpenAPI 3.1 document of this server') },
  },
  {
    method: 'get',
    path: '/metrics',
    scope: 'read',
    tag: 'probes',
    summary: 'Prometheus metrics',
    responses: {
      200: {
        description: 'the Prometheus text exposition format',
        content: { type: 'text/plain', schema: z.string() },
      },
    },
  },

  {
    method: 'get',
    path: '/v1/whoami',
    scope: 'read',
    tag: 'tokens',
    summary: "The calling token's name and scopes",
    responses: { 200: json(whoAmISchema, 'who the token is and what it may do') },
  },

  // Ingest.
  {
    method: 'post',
    path: '/v1/signals',
    scope: 'ingest',
    tag: 'ingest',
    summary: "Signals in OPX's own format",
    body: { 'application/json': genericSignals },
    responses: { 200: json(ingestSummarySchema, 'what became of each signal, and the incidents it touched') },
  },
  {
    method: 'post',
    path: '/v1/ingest/alertmanager',
    scope: 'ingest',
    tag: 'ingest',
    summary: 'An Alertmanager webhook notification (version 4)',
    body: { 'application/json': foreign('the webhook body Alertmanager posts') },
    responses: { 200: json(ingestSummarySchema, 'what became of each alert') },
  },
  {
    method: 'post',
    path: '/api/v2/alerts',
    scope: 'ingest',
    tag: 'ingest',
    summary: 'Alerts from Prometheus, which treats OPX as an Alertmanager',
    body: { 'application/json': z.array(foreign('an alert as Prometheus posts it to an Alertmanager')) },
    responses: { 200: { description: 'accepted; an empty body, as Alertmanager answers' } },
  },
  {
    method: 'post',
    path: '/v1/ingest/cloudwatch',
    scope: 'ingest',
    tag: 'ingest',
    summary: 'A CloudWatch alarm through an Amazon SNS HTTPS subscription',
    description: 'SNS posts JSON as text/plain; both media types are read as JSON.',
    body: {
      'application/json': foreign('the SNS message'),
      'text/plain': foreign('the SNS message'),
    },
    responses: { 200: json(cloudWatchIngestSchema, 'what became of each alarm, and subscription requests') },
  },
  {
    method: 'post',
    path: '/v1/ingest/eventbridge',
    scope: 'ingest',
    tag: 'ingest',
    summary: 'A CloudWatch Alarm State Change event from EventBridge',
    body: { 'application/json': foreign('the EventBridge event') },
    responses: { 200: json(ingestSummarySchema, 'what became of the alarm') },
  },
  {
    method: 'post',
    path: '/v2/enqueue',
    scope: 'ingest',
    tag: 'ingest',
    summary: 'A PagerDuty Events API v2 event',
    description: "The token may be sent as the body's `routing_key` instead of an Authorization header.",
    body: { 'application/json': foreign('a PagerDuty Events API v2 event') },
    responses: { 202: json(pagerDutyAcceptedSchema, "accepted, in PagerDuty's own answer shape") },
  },
  {
    method: 'post',
    path: '/v2/change/enqueue',
    scope: 'ingest',
    tag: 'ingest',
    summary: 'A PagerDuty change event',
    description: "The token may be sent as the body's `routing_key` instead of an Authorization header.",
    body: { 'application/json': foreign('a PagerDuty change event') },
    responses: { 202: json(pagerDutyAcceptedSchema, "accepted, in PagerDuty's own answer shape") },
  },
  {
    method: 'post',
    path: '/v1/changes',
    scope: 'ingest',
    tag: 'ingest',
    summary: 'Record a deploy, config change, flag flip, …',
    body: { 'application/json': changeInputSchema },
    responses: {
      200: json(changeRecordedSchema, 'already recorded under the same externalId'),
      201: json(changeRecordedSchema, 'recorded'),
    },
  },
  {
    method: 'post',
    path: '/v1/services',
    scope: 'admin',
    tag: 'catalog',
    summary: 'Create or replace services and their dependencies',
    body: {
      'application/json': servicesBody,
      'application/yaml': z.string().meta({ description: 'a Backstage catalog (catalog-info.yaml)' }),
    },
    responses: { 200: json(servicesImportedSchema, 'the services created and updated') },
  },

  // Incidents.
  {
    method: 'get',
    path: '/v1/incidents',
    scope: 'read',
    tag: 'incidents',
    summary: 'Incidents, newest detected first, a page at a time',
    query: listQuery,
    responses: { 200: json(incidentListSchema, 'a page of incidents') },
  },
  {
    method: 'get',
    path: '/v1/incidents/:id',
    scope: 'read',
    tag: 'incidents',
    summary: 'One incident and its signals',
    params: idParams,
    responses: { 200: json(incidentDetailSchema, 'the incident and its signals') },
  },
  {
    method: 'get',
    path: '/v1/incidents/:id/events',
    scope: 'read',
    tag: 'incidents',
    summary: "The incident's hash-chained timeline",
    params: idParams,
    responses: { 200: json(incidentEventListSchema, 'its events, oldest first') },
  },
  {
    method: 'get',
    path: '/v1/incidents/:id/verify',
    scope: 'read',
    tag: 'incidents',
    summary: "Recompute the timeline's hash chain",
    params: idParams,
    responses: { 200: json(chainVerificationSchema, 'whether every link holds') },
  },
  ...TRANSITIONS.map(
    (verb): ApiRoute => ({
      method: 'post',
      path: `/v1/incidents/:id/${verb}`,
      scope: 'respond',
      tag: 'incidents',
      summary: `${verb[0]!.toUpperCase()}${verb.slice(1)} the incident`,
      params: idParams,
      body: { 'application/json': verb === 'resolve' ? resolveInputSchema : transitionInputSchema },
      responses: { 200: json(transitionResponseSchema, 'the incident and the event recorded') },
    }),
  ),
  {
    method: 'post',
    path: '/v1/incidents/:id/severity',
    scope: 'respond',
    tag: 'incidents',
    summary: 'Change the severity',
    params: idParams,
    body: { 'application/json': severityBody },
    responses: { 200: json(severityResponseSchema, 'the incident') },
  },
  {
    method: 'post',
    path: '/v1/incidents/:id/merge',
    scope: 'respond',
    tag: 'incidents',
    summary: 'Merge this incident into another',
    params: idParams,
    body: { 'application/json': mergeInputSchema },
    responses: { 200: json(mergeResponseSchema, 'the surviving incident and the merged one') },
  },
  {
    method: 'post',
    path: '/v1/incidents/:id/split',
    scope: 'respond',
    tag: 'incidents',
    summary: 'Move signals to a new incident',
    params: idParams,
    body: { 'application/json': splitInputSchema },
    responses: { 201: json(splitResponseSchema, 'this incident and the new one') },
  },
  {
    method: 'post',
    path: '/v1/incidents/:id/notes',
    scope: 'respond',
    tag: 'incidents',
    summary: 'Add a note to the timeline',
    params: idParams,
    body: { 'application/json': noteInputSchema },
    responses: { 201: json(noteResponseSchema, 'the event recorded') },
  },
  {
    method: 'post',
    path: '/v1/incidents/:id/evidence',
    scope: 'respond',
    tag: 'investigations',
    summary: 'Freeze an evidence bundle now',
    params: idParams,
    responses: { 201: json(evidenceFrozenSchema, 'the bundle and its evidence graph') },
  },
  {
    method: 'get',
    path: '/v1/incidents/:id/evidence',
    scope: 'read',
    tag: 'investigations',
    summary: 'The latest frozen evidence bundle',
    params: idParams,
    responses: { 200: json(evidenceSchema, 'the bundle and its evidence graph') },
  },
  {
    method: 'get',
    path: '/v1/incidents/:id/safety',
    scope: 'read',
    tag: 'safety',
    summary: "The incident's guardrail violations and failed output validations",
    params: idParams,
    responses: { 200: described('violations (hashes, never values) and validation failures') },
  },
  {
    method: 'get',
    path: '/v1/stream/incidents',
    scope: 'read',
    tag: 'incidents',
    summary: 'Server-sent events: `incident` whenever an incident is new or changed',
    responses: {
      200: {
        description: 'an endless event stream; each `incident` event carries {incident, lastEventSeq}',
        content: { type: 'text/event-stream', schema: z.string() },
      },
    },
  },

  // Investigations.
  {
    method: 'post',
    path: '/v1/incidents/:id/investigations',
    scope: 'respond',
    tag: 'investigations',
    summary: 'Investigate now: freeze evidence and run the six agents',
    params: idParams,
    responses: { 201: json(investigationRunSchema, 'the completed investigation') },
  },
  {
    method: 'get',
    path: '/v1/incidents/:id/investigations',
    scope: 'read',
    tag: 'investigations',
    summary: "The incident's investigations, newest first",
    params: idParams,
    responses: { 200: json(investigationListSchema, 'its investigations with their findings') },
  },
  {
    method: 'post',
    path: '/v1/incidents/:id/replay',
    scope: 'respond',
    tag: 'investigations',
    summary: 'Re-run a completed investigation on its frozen bundle and compare',
    params: idParams,
    body: { 'application/json': replayBody },
    responses: { 200: json(replayResultSchema, 'whether the output is identical, and where not') },
  },
  {
    method: 'get',
    path: '/v1/incidents/:id/recommendations',
    scope: 'read',
    tag: 'investigations',
    summary: "The incident's recommendations",
    params: idParams,
    responses: { 200: json(recommendationListSchema, 'newest investigation first, by rank') },
  },
  ...(['approve', 'reject'] as const).map(
    (verb): ApiRoute => ({
      method: 'post',
      path: `/v1/recommendations/:id/${verb}`,
      scope: 'respond',
      tag: 'investigations',
      summary: `${verb === 'approve' ? 'Approve' : 'Reject'} a recommendation (OPX executes nothing)`,
      params: idParams,
      body: { 'application/json': decisionBody },
      responses: { 200: json(decisionResponseSchema, 'the recommendation with its decision') },
    }),
  ),
  {
    method: 'get',
    path: '/v1/traces',
    scope: 'read',
    tag: 'safety',
    summary: 'Language-model calls, newest first (prompts redacted)',
    query: tracesQuery,
    responses: { 200: json(traceListSchema, 'the calls') },
  },
  {
    method: 'get',
    path: '/v1/traces/:id',
    scope: 'read',
    tag: 'safety',
    summary: 'One language-model call',
    params: idParams,
    responses: { 200: json(traceSchema, 'the call') },
  },
  {
    method: 'get',
    path: '/v1/safety/summary',
    scope: 'read',
    tag: 'safety',
    summary: 'What the guardrails and output validation caught',
    responses: { 200: described('counts of violations, validation failures and calls') },
  },
  {
    method: 'post',
    path: '/v1/guardrails/check',
    scope: 'read',
    tag: 'safety',
    summary: 'What the guardrails would find in a text (stores nothing)',
    body: { 'application/json': checkBody },
    responses: { 200: described('the findings and the redacted text') },
  },

  // Knowledge.
  {
    method: 'get',
    path: '/v1/kb/search',
    scope: 'read',
    tag: 'knowledge',
    summary: 'Search runbooks and postmortems (BM25)',
    query: searchQuery,
    responses: { 200: json(knowledgeSearchSchema, 'the best sections, best first') },
  },
  {
    method: 'get',
    path: '/v1/kb/documents',
    scope: 'read',
    tag: 'knowledge',
    summary: 'The imported runbooks and postmortems',
    responses: { 200: described('the documents, without their text') },
  },
  {
    method: 'get',
    path: '/v1/kb/documents/:id',
    scope: 'read',
    tag: 'knowledge',
    summary: 'One runbook or postmortem whole, with its sections',
    params: idParams,
    responses: { 200: json(knowledgeDocumentSchema, 'the document, its Markdown and its sections') },
  },

  // Catalog, changes and signals.
  {
    method: 'get',
    path: '/v1/services',
    scope: 'read',
    tag: 'catalog',
    summary: 'The service catalog',
    responses: { 200: json(serviceListSchema, 'the services') },
  },
  {
    method: 'get',
    path: '/v1/services/:id',
    scope: 'read',
    tag: 'catalog',
    summary: 'One service',
    params: nameParams,
    responses: { 200: json(serviceSchema, 'the service') },
  },
  {
    method: 'get',
    path: '/v1/changes',
    scope: 'read',
    tag: 'catalog',
    summary: 'Recorded changes, newest first',
    query: changesQuery,
    responses: { 200: json(changeListSchema, 'the changes') },
  },
  {
    method: 'get',
    path: '/v1/signals',
    scope: 'read',
    tag: 'signals',
    summary: 'Stored signals, newest first',
    query: signalsQuery,
    responses: { 200: json(signalListSchema, 'the signals') },
  },
  {
    method: 'get',
    path: '/v1/signals/:id',
    scope: 'read',
    tag: 'signals',
    summary: 'One signal and the detections it caused',
    params: nameParams,
    responses: { 200: json(signalDetailSchema, 'the signal and its detections') },
  },

  // Administration.
  {
    method: 'get',
    path: '/v1/audit',
    scope: 'admin',
    tag: 'admin',
    summary: 'Every authenticated write, newest first',
    query: auditQuery,
    responses: { 200: described('the audit entries') },
  },
  {
    method: 'get',
    path: '/v1/rules',
    scope: 'read',
    tag: 'rules',
    summary: 'Correlation rules, disabled ones included',
    responses: { 200: described('the rules') },
  },
  {
    method: 'get',
    path: '/v1/rules/:id',
    scope: 'read',
    tag: 'rules',
    summary: 'One rule',
    params: nameParams,
    responses: { 200: described('the rule') },
  },
  {
    method: 'post',
    path: '/v1/rules/dry-run',
    scope: 'admin',
    tag: 'rules',
    summary: 'Rehearse a candidate rule set on stored signals (writes nothing)',
    body: { 'application/json': dryRunBody },
    responses: { 200: described('what the candidate rules would have opened, against the current ones') },
  },
  {
    method: 'post',
    path: '/v1/rules',
    scope: 'admin',
    tag: 'rules',
    summary: 'Create a rule',
    body: { 'application/json': ruleInput },
    responses: { 201: described('the rule') },
  },
  {
    method: 'put',
    path: '/v1/rules/:id',
    scope: 'admin',
    tag: 'rules',
    summary: 'Replace a rule (a new version)',
    params: nameParams,
    body: { 'application/json': ruleInput },
    responses: { 200: described('the rule') },
  },
  {
    method: 'delete',
    path: '/v1/rules/:id',
    scope: 'admin',
    tag: 'rules',
    summary: 'Delete a rule',
    params: nameParams,
    responses: { 200: described('{ deleted: id }') },
  },
  {
    method: 'get',
    path: '/v1/silences',
    scope: 'read',
    tag: 'rules',
    summary: 'Silences and maintenance windows',
    responses: { 200: described('the silences') },
  },
  {
    method: 'post',
    path: '/v1/silences',
    scope: 'admin',
    tag: 'rules',
    summary: 'Create a silence or maintenance window',
    body: { 'application/json': silenceInputSchema },
    responses: { 201: described('the silence') },
  },
  {
    method: 'delete',
    path: '/v1/silences/:id',
    scope: 'admin',
    tag: 'rules',
    summary: 'Expire a silence now',
    params: nameParams,
    responses: { 200: described('{ expired: id }') },
  },
  {
    method: 'get',
    path: '/v1/notifications/channels',
    scope: 'read',
    tag: 'notifications',
    summary: 'Notification channels (never their secrets)',
    responses: { 200: described('{ items: channels }') },
  },
  {
    method: 'post',
    path: '/v1/notifications/channels',
    scope: 'admin',
    tag: 'notifications',
    summary: 'Create a notification channel',
    body: { 'application/json': channelInput },
    responses: {
      201: described('the channel, without its secret'),
      409: json(errorBodySchema, 'the name is taken'),
    },
  },
  {
    method: 'get',
    path: '/v1/notifications/channels/:id',
    scope: 'read',
    tag: 'notifications',
    summary: 'One notification channel, by id or name',
    params: nameParams,
    responses: { 200: described('the channel, without its secret') },
  },
  {
    method: 'put',
    path: '/v1/notifications/channels/:id',
    scope: 'admin',
    tag: 'notifications',
    summary: 'Replace a notification channel',
    params: nameParams,
    body: { 'application/json': channelInput },
    responses: { 200: described('the channel, without its secret') },
  },
  {
    method: 'delete',
    path: '/v1/notifications/channels/:id',
    scope: 'admin',
    tag: 'notifications',
    summary: 'Delete a notification channel no route uses',
    params: nameParams,
    responses: { 200: described('{ deleted: id }'), 409: json(errorBodySchema, 'a route uses the channel') },
  },
  {
    method: 'get',
    path: '/v1/notifications/routes',
    scope: 'read',
    tag: 'notifications',
    summary: 'Notification routes',
    responses: { 200: described('{ items: routes }') },
  },
  {
    method: 'post',
    path: '/v1/notifications/routes',
    scope: 'admin',
    tag: 'notifications',
    summary: 'Create a notification route',
    body: { 'application/json': routeInput },
    responses: { 201: described('the route') },
  },
  {
    method: 'get',
    path: '/v1/notifications/routes/:id',
    scope: 'read',
    tag: 'notifications',
    summary: 'One notification route, by id or name',
    params: nameParams,
    responses: { 200: described('the route') },
  },
  {
    method: 'put',
    path: '/v1/notifications/routes/:id',
    scope: 'admin',
    tag: 'notifications',
    summary: 'Replace a notification route',
    params: nameParams,
    body: { 'application/json': routeInput },
    responses: { 200: described('the route') },
  },
  {
    method: 'delete',
    path: '/v1/notifications/routes/:id',
    scope: 'admin',
    tag: 'notifications',
    summary: 'Delete a notification route',
    params: nameParams,
    responses: { 200: described('{ deleted: id }') },
  },
  {
    method: 'post',
    path: '/v1/notifications/routes/:id/test',
    scope: 'admin',
    tag: 'notifications',
    summary: 'Send a sample message through each channel of a route',
    params: nameParams,
    responses: { 200: described('{ route, recentIncidents, matched, warning, results }') },
  },
  {
    method: 'get',
    path: '/v1/notifications/deliveries',
    scope: 'read',
    tag: 'notifications',
    summary: 'Notification deliveries, newest first',
    query: deliveriesQuery,
    responses: { 200: described('{ items: deliveries }') },
  },
  {
    method: 'get',
    path: '/v1/notifications/deliveries/:id',
    scope: 'read',
    tag: 'notifications',
    summary: 'One delivery, with the message it sends',
    params: nameParams,
    responses: { 200: described('the delivery') },
  },
  {
    method: 'post',
    path: '/v1/notifications/deliveries/:id/redrive',
    scope: 'admin',
    tag: 'notifications',
    summary: 'Send a dead delivery again',
    params: nameParams,
    responses: { 200: described('{ redriven: id }'), 409: json(errorBodySchema, 'the delivery is not dead') },
  },
  {
    method: 'get',
    path: '/v1/tokens',
    scope: 'admin',
    tag: 'admin',
    summary: 'API tokens (never their secrets)',
    responses: { 200: json(tokenListSchema, 'the tokens, revoked ones included') },
  },
  {
    method: 'post',
    path: '/v1/tokens',
    scope: 'admin',
    tag: 'admin',
    summary: 'Create a token; the secret is shown once',
    body: { 'application/json': tokenBody },
    responses: { 201: json(tokenCreatedSchema, 'the token with its secret') },
  },
  {
    method: 'delete',
    path: '/v1/tokens/:id',
    scope: 'admin',
    tag: 'admin',
    summary: 'Revoke a token',
    params: nameParams,
    responses: { 200: described('{ revoked: count }') },
  },
  {
    method: 'get',
    path: '/v1/ingest/cloudwatch/subscriptions',
    scope: 'admin',
    tag: 'admin',
    summary: 'SNS subscription requests waiting for an admin',
    responses: { 200: described('the subscriptions') },
  },

  // Analytics.
  {
    method: 'get',
    path: '/v1/analytics/tokens',
    scope: 'read',
    tag: 'analytics',
    summary: 'Language-model tokens and cost',
    query: tokensQuery,
    responses: { 200: described('usage by day, agent and model, and the budget') },
  },
  {
    method: 'get',
    path: '/v1/alarms',
    scope: 'read',
    tag: 'analytics',
    summary: "OPX's own alarms and their history",
    query: alarmsQuery,
    responses: { 200: described('the alarms and their transitions') },
  },
  {
    method: 'post',
    path: '/v1/alarms/evaluate',
    scope: 'admin',
    tag: 'analytics',
    summary: 'Evaluate the alarms now',
    responses: { 200: described('the readings and what changed') },
  },
];

/** `/v1/incidents/:id` as OpenAPI writes it: `/v1/incidents/{id}`. */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/** `get /v1/incidents/:id/events` → `getV1IncidentsIdEvents`: stable, unique, and usable as a name. */
function operationId(route: ApiRoute): string {
  const words = route.path.split(/[^A-Za-z0-9]+/).filter(Boolean);
  return route.method + words.map((word) => word[0]!.toUpperCase() + word.slice(1)).join('');
}

function operation(route: ApiRoute): ZodOpenApiOperationObject {
  const responses: ZodOpenApiOperationObject['responses'] = {};
  for (const [status, response] of Object.entries(route.responses)) {
    responses[status as `${1 | 2 | 3 | 4 | 5}${string}`] = {
      description: response.description,
      ...(response.content
        ? { content: { [response.content.type]: { schema: response.content.schema } } }
        : {}),
    };
  }
  responses.default = {
    description: 'an error: 4xx for the request, 5xx for the server (`retryable` 503s carry Retry-After)',
    content: { 'application/json': { schema: errorBodySchema } },
  };
  return {
    operationId: operationId(route),
    tags: [route.tag],
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    ...(route.params || route.query
      ? {
          requestParams: {
            ...(route.params ? { path: route.params } : {}),
            ...(route.query ? { query: route.query } : {}),
          },
        }
      : {}),
    ...(route.body
      ? {
          requestBody: {
            required: true,
            content: Object.fromEntries(
              Object.entries(route.body).map(([type, schema]) => [type, { schema }]),
            ),
          },
        }
      : {}),
    responses,
    security: route.scope === 'public' ? [] : [{ bearer: [] }],
    'x-opx-scope': route.scope,
  };
}

function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8'));
  return (manifest as { version: string }).version;
}

/** Builds the document from the zod schemas; `openApiDocument()` keeps one. */
export function buildOpenApiDocument(): oas31.OpenAPIObject {
  const paths: ZodOpenApiPathsObject = {};
  for (const route of API_ROUTES) {
    const path = openApiPath(route.path);
    paths[path] = { ...paths[path], [route.method]: operation(route) };
  }
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'OPX API',
      version: packageVersion(),
      description:
        'Incident control plane: signals in, incidents out, advisory investigations. ' +
        'Send `Authorization: Bearer <token>`; each operation names the scope it needs in `x-opx-scope` ' +
        '(docs/api.md, docs/security.md). Errors are `{ error: { code, message, path? } }`.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'an OPX API token (`opx tokens create`); Basic with the token as password also works',
        },
      },
    },
    paths,
  });
}

let cached: oas31.OpenAPIObject | undefined;

/** The document, built on first use (it takes a few milliseconds; no request needs it before then). */
export function openApiDocument(): oas31.OpenAPIObject {
  cached ??= buildOpenApiDocument();
  return cached;
}

/** The document as docs/openapi.json holds it. */
export function openApiText(): string {
  return `${JSON.stringify(openApiDocument(), null, 2)}\n`;
}
