import type { IncidentSeverity } from '../domain/common.js';
import { OpxError } from '../domain/errors.js';
import type { Incident, IncidentEvent, IncidentStatus } from '../domain/incident.js';
import {
  type EventDraft,
  eventHash,
  GENESIS_HASH,
  incidentFromRow,
} from '../store/repositories/incidents.js';
import type { StoreScope } from '../store/store.js';
import { planTransition, type TransitionDetails } from './lifecycle.js';

export async function requireIncident(scope: StoreScope, id: string): Promise<Incident> {
  const incident = await scope.incidents.get(id);
  if (!incident) throw new OpxError('not_found', `no incident ${id}`, { path: 'id' });
  return incident;
}

/**
 * Appends events to an incident's hash chain under its row lock and records the new chain head.
 * Every writer of incident events outside the ingest pipeline goes through here.
 */
export async function appendIncidentEvents(
  scope: StoreScope,
  incidentId: string,
  drafts: readonly EventDraft[],
  at: number = Date.now(),
): Promise<IncidentEvent[]> {
  const row = await scope.incidents.getRow(incidentId, { forUpdate: true });
  if (!row) throw new OpxError('not_found', `no incident ${incidentId}`, { path: 'id' });
  const chain = await scope.incidents.appendEvents(row, drafts);
  await scope.incidents.update(incidentId, {
    last_event_seq: chain.lastSeq,
    last_event_hash: chain.lastHash,
    updated_at: at,
  });
  return chain.events;
}

/** Moves an incident through its lifecycle and records the move in its event chain. */
export async function transitionIncident(
  scope: StoreScope,
  id: string,
  to: IncidentStatus,
  details: TransitionDetails,
): Promise<{ incident: Incident; event: IncidentEvent }> {
  const row = await scope.incidents.getRow(id, { forUpdate: true });
  if (!row) throw new OpxError('not_found', `no incident ${id}`, { path: 'id' });
  const plan = planTransition(row, to, details);
  if (plan.values.active_key) {
    const [clash] = await scope.incidents.findActive([plan.values.active_key]);
    if (clash && clash.id !== id) {
      throw new OpxError(
        'conflict',
        `incident ${clash.id} is already active for ${row.correlation_key}; work on that one`,
        {
          details: { activeIncidentId: clash.id },
        },
      );
    }
  }
  const chain = await scope.incidents.appendEvents(row, [plan.event]);
  await scope.incidents.update(id, {
    ...plan.values,
    last_event_seq: chain.lastSeq,
    last_event_hash: chain.lastHash,
  });
  if (plan.values.active_key === null) await scope.detections.closeCandidatesOfIncident(id);
  return {
    incident: incidentFromRow({
      ...row,
      ...plan.values,
      last_event_seq: chain.lastSeq,
      last_event_hash: chain.lastHash,
    }),
    event: chain.events[0]!,
  };
}

export async function addNote(
  scope: StoreScope,
  id: string,
  text: string,
  principal: string,
  at: number = Date.now(),
): Promise<IncidentEvent> {
  const [event] = await appendIncidentEvents(
    scope,
    id,
    [{ type: 'note_added', principal, at, data: { text } }],
    at,
  );
  return event!;
}

export interface ChainVerification {
  incidentId: string;
  valid: boolean;
  events: number;
  /** The first event whose link does not hold, and why. */
  brokenAt?: { seq: number; reason: string };
}

/** Recomputes every link of an incident's event chain; any edited, removed or inserted event shows. */
export async function verifyChain(scope: StoreScope, id: string): Promise<ChainVerification> {
  const row = await scope.incidents.getRow(id);
  if (!row) throw new OpxError('not_found', `no incident ${id}`, { path: 'id' });
  // Every event, page by page: one read stops at the repository's default limit (10,000), and a
  // longer chain would then look cut short ("events were removed") when nothing was.
  const events = await scope.incidents.events(id);
  for (let page = events; page.length > 0 && row.last_event_seq > events.length; ) {
    page = await scope.incidents.events(id, { afterSeq: page[page.length - 1]!.seq });
    events.push(...page);
  }
  let previous = GENESIS_HASH;
  let expectedSeq = 1;
  for (const event of events) {
    const broken = (reason: string): ChainVerification => ({
      incidentId: id,
      valid: false,
      events: events.length,
      brokenAt: { seq: event.seq, reason },
    });
    if (event.seq !== expectedSeq)
      return broken(`expected event #${expectedSeq}, found #${event.seq}: an event is missing`);
    if (event.prevHash !== previous)
      return broken('prev_hash does not match the previous event: the chain was altered');
    const { hash, ...rest } = event;
    if (eventHash(rest) !== hash) return broken('content does not match its hash: the event was edited');
    previous = hash;
    expectedSeq += 1;
  }
  if (row.last_event_seq !== events.length || row.last_event_hash !== previous) {
    return {
      incidentId: id,
      valid: false,
      events: events.length,
      brokenAt: {
        seq: events.length,
        reason: `the incident records ${row.last_event_seq} events ending in a different hash: events were removed`,
      },
    };
  }
  return { incidentId: id, valid: true, events: events.length };
}

/** A responder re-rates an incident; the change and its reason go into the event chain. */
export async function changeSeverity(
  scope: StoreScope,
  id: string,
  severity: IncidentSeverity,
  details: { principal: string; at: number; reason?: string | undefined },
): Promise<Incident> {
  const row = await scope.incidents.getRow(id, { forUpdate: true });
  if (!row) throw new OpxError('not_found', `no incident ${id}`, { path: 'id' });
  if (row.severity === severity) return incidentFromRow(row);
  if (row.status === 'CLOSED')
    throw new OpxError('illegal_transition', `incident ${id} is CLOSED; its severity is final`, {
      path: 'severity',
    });
  const data: Record<string, unknown> = { from: row.severity, to: severity };
  if (details.reason) data.reason = details.reason;
  const chain = await scope.incidents.appendEvents(row, [
    { type: 'severity_changed', principal: details.principal, at: details.at, data },
  ]);
  const values = {
    severity,
    updated_at: details.at,
    last_event_seq: chain.lastSeq,
    last_event_hash: chain.lastHash,
  };
  await scope.incidents.update(id, values);
  return incidentFromRow({ ...row, ...values });
}
