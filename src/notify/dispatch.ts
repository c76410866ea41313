/**
 * From incident events to messages. The store's outbox (src/store/repositories/notifications.ts) queues a
 * dispatch job with every event a receiver may hear of, in the transaction that writes the event. The
 * dispatcher matches the routes against the incident as it is now and records one delivery per channel
 * that should hear of it, with the message fixed; the deliverer sends it, in order per incident and
 * channel, retried with backoff and dead-lettered after the configured attempts.
 *
 * Re-notification follows material change only: a channel is told that the severity rose when the
 * incident is now more severe than the last message it got said, and that the origin moved when it is
 * not the origin that message named. An incident that resolves before its first message is due is never
 * announced (like Alertmanager's group_wait).
 */

import type { Config } from '../config/index.js';
import { INCIDENT_SEVERITIES } from '../domain/common.js';
import { ACTIVE_STATUSES, type Incident } from '../domain/incident.js';
import { JobAttemptError } from '../domain/jobs.js';
import {
  type Channel,
  type Notice,
  type NoticeEvent,
  type NotifyEvent,
  type Route,
  routeMatches,
} from '../domain/notification.js';
import { incidentFromRow } from '../store/repositories/incidents.js';
import type { Job } from '../store/repositories/jobs.js';
import type { Delivery } from '../store/repositories/notifications.js';
import { openedDispatchKey } from '../store/repositories/notifications.js';
import type { Store, StoreScope } from '../store/store.js';
import { sendNotice } from './channels.js';

/** What the dispatcher and the deliverer need: the store, its write path, and the settings. */
export interface NotifyContext {
  store: Store;
  /** Runs a write (group-committed with the rest of the process's writes). */
  write<T>(work: (scope: StoreScope) => Promise<T>): Promise<T>;
  config: Pick<Config, 'publicUrl' | 'host' | 'port' | 'notifyFirstWaitSeconds' | 'notifyMaxAttempts'>;
}

const rank = (severity: string) => INCIDENT_SEVERITIES.indexOf(severity as Incident['severity']);

/** The incident's page in the console. */
export function consoleLink(config: NotifyContext['config'], incidentId: string): string {
  const base = config.publicUrl ?? `http://${config.host}:${config.port}`;
  return `${base.replace(/\/+$/, '')}/incidents/${encodeURIComponent(incidentId)}`;
}

/** The incident as a message shows it, with the investigation's answer when there is one. */
export async function noticeFor(
  scope: StoreScope,
  context: NotifyContext,
  incident: Incident,
  event: NoticeEvent,
  previous: Notice['previous'],
  at: number,
): Promise<Omit<Notice, 'deliveryId'>> {
  let cause: Notice['cause'] = null;
  let recommendation: Notice['recommendation'] = null;
  const investigationId = await scope.investigations.currentId(incident.id);
  if (investigationId) {
    const investigation = await scope.investigations.get(investigationId);
    const strategy = investigation?.findings.find((finding) => finding.agent === 'response-strategy');
    if (strategy && strategy.agent === 'response-strategy' && !strategy.insufficientEvidence) {
      cause = {
        summary: strategy.data.channelSummary || strategy.summary,
        confidence: strategy.data.probableRootCause?.confidence ?? strategy.confidence,
      };
    }
    const [first] = (await scope.investigations.recommendations(incident.id, investigationId))
      .filter((item) => item.status !== 'rejected')
      .sort((a, b) => a.rank - b.rank);
    if (first) recommendation = { id: first.id, title: first.title };
  }
  return {
    event,
    at,
    incident: {
      id: incident.id,
      title: incident.title,
      severity: incident.severity,
      status: incident.status,
      environment: incident.environment,
      services: incident.services,
      rootService: incident.rootService,
      startedAt: incident.startedAt,
      resolvedAt: incident.resolvedAt,
      mergedInto: incident.mergedInto,
    },
    ...(previous ? { previous } : {}),
    cause,
    recommendation,
    url: consoleLink(context.config, incident.id),
  };
}

/** The labels of an incident's signals, read only when a route matches on labels. */
async function signalLabels(scope: StoreScope, incidentId: string): Promise<Record<string, string>[]> {
  const ids = await scope.incidents.signalIds(incidentId);
  const signals = await scope.signals.getMany(ids.slice(0, 1000));
  return signals.map((signal) => signal.labels);
}

/** The routes that select this incident for this event, each channel once (the first route naming it). */
export async function matchingChannels(
  scope: StoreScope,
  incident: Incident,
  routes: readonly Route[],
  event: NotifyEvent | 'any',
): Promise<Map<string, Route>> {
  const candidates = routes.filter(
    (route) => route.enabled && (event === 'any' || route.events.includes(event)),
  );
  const labels = candidates.some((route) => Object.keys(route.match.labels ?? {}).length > 0)
    ? await signalLabels(scope, incident.id)
    : [];
  const subject = {
    services: incident.services,
    severity: incident.severity,
    environment: incident.environment,
    signalLabels: labels,
  };
  const out = new Map<string, Route>();
  for (const route of candidates)
    if (routeMatches(route.match, subject))
      for (const name of route.channels) if (!out.has(name)) out.set(name, route);
  return out;
}

type Decision = { event: NoticeEvent; previous?: Notice['previous'] } | { skip: string };

/** What one channel should be told, given what it has been told about this incident so far. */
export function decide(
  event: NotifyEvent,
  incident: Incident,
  history: readonly Delivery[],
  firstMessagePending: boolean,
): Decision {
  const told = history.filter((delivery) => delivery.status !== 'skipped');
  const phase = told
    .filter((delivery) => delivery.event === 'opened' || delivery.event === 'resolved')
    .at(-1);
  const announced = phase?.event === 'opened';
  const active = ACTIVE_STATUSES.includes(incident.status);
  const last = told.at(-1)?.notice.incident;
  switch (event) {
    case 'opened':
      if (!active) return { skip: 'the incident is no longer active' };
      return announced ? { skip: 'already announced' } : { event: 'opened' };
    case 'resolved':
      return announced ? { event: 'resolved' } : { skip: 'never announced' };
    case 'severity_raised':
    case 'origin_moved': {
      if (!active) return { skip: 'the incident is no longer active' };
      // A first message still waiting will say the current state.
      if (!announced)
        return firstMessagePending ? { skip: 'the first message is still due' } : { event: 'opened' };
      if (event === 'severity_raised')
        return last && rank(incident.severity) < rank(last.severity)
          ? { event, previous: { severity: last.severity } }
          : { skip: `the channel was last told ${last?.severity ?? 'nothing'}` };
      return last && incident.rootService !== last.rootService
        ? { event, previous: { rootService: last.rootService } }
        : { skip: 'the channel was last told this origin' };
    }
  }
}

/**
 * Runs one dispatch job: records the deliveries the event calls for. The first message of an incident
 * waits (deferred, not failed) until its investigation has answered or the configured wait has passed.
 */
export async function dispatch(context: NotifyContext, job: Job, now: number = Date.now()): Promise<string> {
  const { incidentId, event, seq } = job.payload as { incidentId: string; event: NotifyEvent; seq: number };
  const { store } = context;
  const current = await store.incidents.get(incidentId);
  if (!current) return `incident ${incidentId} is gone`;
  if (event === 'opened' && ACTIVE_STATUSES.includes(current.status)) {
    const due = current.detectedAt + context.config.notifyFirstWaitSeconds * 1000;
    if (now < due && !(await store.investigations.currentId(incidentId)))
      throw new JobAttemptError('waiting for the investigation’s first answer', {
        deferred: true,
        retryAfterMs: due - now,
      });
  }
  return context.write(async (scope) => {
    // The row lock orders dispatchers of one incident on PostgreSQL; SQLite has one writer anyway.
    const row = await scope.incidents.getRow(incidentId, { forUpdate: true });
    if (!row) return `incident ${incidentId} is gone`;
    const incident = incidentFromRow(row);
    const routes = await scope.notifications.listRoutes();
    const channels = await matchingChannels(scope, incident, routes, event);
    const firstPending =
      event !== 'opened' && (await scope.jobs.pendingByDedupKey(openedDispatchKey(incidentId)));
    const made: string[] = [];
    for (const [name, route] of channels) {
      const channel = await scope.notifications.channelView(name);
      if (!channel) continue;
      const history = await scope.notifications.deliveries({
        incidentId,
        channelId: channel.id,
        ascending: true,
        limit: 10_000,
      });
      const decision = decide(event, incident, history, firstPending);
      if ('skip' in decision) continue;
      const notice = await noticeFor(scope, context, incident, decision.event, decision.previous, now);
      const id = await scope.notifications.createDelivery(
        {
          key: `${incidentId}:${channel.id}:${decision.event}:${seq}`,
          incidentId,
          channelId: channel.id,
          routeId: route.id,
          event: decision.event,
          notice,
          maxAttempts: context.config.notifyMaxAttempts,
        },
        now,
      );
      if (id) made.push(`${name}:${decision.event}`);
    }
    return made.length > 0 ? `queued ${made.join(', ')}` : `nothing to send for ${event}`;
  });
}

/**
 * Runs one deliver job: sends the delivery's message and records the receiver's answer. Messages to one
 * channel about one incident go in the order they were created: a later one waits (deferred) while an
 * earlier one is still being tried. A crash after sending and before recording sends the same message
 * again, with the same idempotency key (the delivery id; PagerDuty's and Opsgenie's per-incident key).
 */
export async function deliver(
  context: NotifyContext,
  job: Job,
  signal?: AbortSignal,
  now: number = Date.now(),
): Promise<string> {
  const { store } = context;
  const delivery = await store.notifications.delivery(String(job.payload.deliveryId));
  if (!delivery) return `delivery ${String(job.payload.deliveryId)} is gone`;
  if (delivery.status === 'sent' || delivery.status === 'skipped') return `already ${delivery.status}`;
  if (delivery.incidentId) {
    const waiting = await store.notifications.deliveries({
      incidentId: delivery.incidentId,
      channelId: delivery.channelId,
      status: 'pending',
      ascending: true,
      limit: 1,
    });
    const first = waiting[0];
    if (first && first.id !== delivery.id)
      throw new JobAttemptError(`waiting for the earlier delivery ${first.id} to the same channel`, {
        deferred: true,
        retryAfterMs: Math.max(500, Math.min(30_000, (first.nextAttemptAt ?? now) - now + 250)),
      });
  }
  const channel: Channel | undefined = await store.notifications.channel(delivery.channelId);
  if (!channel) throw new JobAttemptError('the channel was deleted', { final: true });
  const receipt = await sendNotice(channel, delivery.notice, signal ? { signal } : {});
  await context.write((scope) =>
    scope.notifications.finishDelivery(delivery.id, 'sent', `${receipt.status} ${receipt.detail}`.trim()),
  );
  return `sent ${delivery.event} to ${channel.name} (${receipt.status})`;
}
