import { maxSeverity } from '../detect/rules.js';
import { type IncidentSeverity, newId } from '../domain/common.js';
import { OpxError } from '../domain/errors.js';
import type { Incident, JoinReason } from '../domain/incident.js';
import type { Signal } from '../domain/signal.js';
import type { EventDraft } from '../store/repositories/incidents.js';
import {
  chainEvents,
  type IncidentRow,
  incidentFromRow,
  openIncidentRow,
} from '../store/repositories/incidents.js';
import type { StoreScope } from '../store/store.js';

export interface HandMove {
  principal: string;
  reason?: string | undefined;
  at?: number;
}

async function lockedRow(scope: StoreScope, id: string, path: string): Promise<IncidentRow> {
  const row = await scope.incidents.getRow(id, { forUpdate: true });
  if (!row) throw new OpxError('not_found', `no incident ${id}`, { path });
  return row;
}

/** Writes an incident row with events appended to its chain. */
async function save(scope: StoreScope, row: IncidentRow, drafts: readonly EventDraft[], at: number) {
  const chain = chainEvents(row, drafts);
  row.last_event_seq = chain.lastSeq;
  row.last_event_hash = chain.lastHash;
  row.updated_at = at;
  await scope.incidents.upsertRows([row]);
  await scope.incidents.insertEvents(chain.events);
}

/** Services and start of the signals an incident now holds. */
function summarize(signals: readonly Signal[]): { services: string[]; startedAt: number; lastAt: number } {
  return {
    services: [...new Set(signals.map((signal) => signal.service))].sort(),
    startedAt: Math.min(...signals.map((signal) => signal.startsAt)),
    lastAt: Math.max(...signals.map((signal) => signal.startsAt)),
  };
}

async function relink(
  scope: StoreScope,
  from: string,
  to: string,
  signalIds: readonly string[],
  reason: JoinReason,
  at: number,
): Promise<void> {
  await scope.incidents.detachSignals(from, signalIds);
  await scope.incidents.attachSignalsMany(
    signalIds.map((signalId) => ({ incidentId: to, signalId, reason, pinned: true })),
    at,
  );
}

async function setServices(scope: StoreScope, row: IncidentRow, services: readonly string[]) {
  row.services = JSON.stringify(services);
  await scope.incidents.replaceServices(row.id, services);
}

/**
 * A responder merges incident `id` into `into`: every signal moves, pinned where the human put it,
 * `id` is closed with a pointer to `into`, and both timelines record who did it and why.
 */
export async function mergeIncidents(
  scope: StoreScope,
  id: string,
  into: string,
  move: HandMove,
): Promise<{ incident: Incident; merged: Incident }> {
  const at = move.at ?? Date.now();
  if (id === into)
    throw new OpxError('invalid_request', 'an incident cannot be merged into itself', { path: 'into' });
  // Locks in id order, as every writer takes them.
  const [first, second] = [id, into].sort();
  const rows = new Map<string, IncidentRow>();
  rows.set(first!, await lockedRow(scope, first!, first === id ? 'id' : 'into'));
  rows.set(second!, await lockedRow(scope, second!, second === id ? 'id' : 'into'));
  const source = rows.get(id)!;
  const target = rows.get(into)!;
  for (const [row, path] of [
    [source, 'id'],
    [target, 'into'],
  ] as const) {
    if (row.status === 'CLOSED')
      throw new OpxError(
        'illegal_transition',
        `incident ${row.id} is CLOSED and cannot take part in a merge`,
        {
          path,
        },
      );
  }
  const moving = await scope.incidents.signalIds(id);
  await relink(
    scope,
    id,
    into,
    moving,
    { kind: 'manual', principal: move.principal, action: 'merge', from: id },
    at,
  );
  const signals = await scope.signals.getMany(await scope.incidents.signalIds(into));
  const summary = summarize(signals);
  await setServices(scope, target, summary.services);
  const severity = maxSeverity(target.severity as IncidentSeverity, source.severity as IncidentSeverity);
  const reason = move.reason ? { reason: move.reason } : {};
  const targetEvents: EventDraft[] = [
    {
      type: 'merged_from',
      principal: move.principal,
      at,
      data: { incidentId: id, signals: moving.length, ...reason },
    },
  ];
  if (severity !== target.severity)
    targetEvents.push({
      type: 'severity_changed',
      principal: move.principal,
      at,
      data: { from: target.severity, to: severity, reason: `merge of ${id}` },
    });
  Object.assign(target, {
    severity,
    signal_count: signals.length,
    started_at: signals.length > 0 ? Math.min(target.started_at, summary.startedAt) : target.started_at,
    last_signal_at: signals.length > 0 ? summary.lastAt : target.last_signal_at,
    root_service: target.root_service ?? source.root_service,
    signals_resolved_at: signals.some((signal) => signal.status === 'firing')
      ? null
      : target.signals_resolved_at,
  });
  await save(scope, target, targetEvents, at);
  Object.assign(source, {
    status: 'CLOSED',
    closed_at: at,
    active_key: null,
    merged_into: into,
    signal_count: 0,
  });
  await save(
    scope,
    source,
    [
      {
        type: 'merged_into',
        principal: move.principal,
        at,
        data: { incidentId: into, signals: moving.length, ...reason },
      },
    ],
    at,
  );
  await scope.detections.closeCandidatesOfIncident(id);
  return { incident: incidentFromRow(target), merged: incidentFromRow(source) };
}

/**
 * A responder splits signals off incident `id` into a new incident: they move pinned, the new
 * incident opens with the same severity and environment, and both timelines record it.
 */
export async function splitIncident(
  scope: StoreScope,
  id: string,
  signalIds: readonly string[],
  move: HandMove & { title?: string | undefined },
): Promise<{ incident: Incident; split: Incident }> {
  const at = move.at ?? Date.now();
  const source = await lockedRow(scope, id, 'id');
  if (source.status === 'CLOSED')
    throw new OpxError('illegal_transition', `incident ${id} is CLOSED; re-open it before splitting it`, {
      path: 'id',
    });
  const held = new Set(await scope.incidents.signalIds(id));
  const wanted = [...new Set(signalIds)];
  const foreign = wanted.filter((signalId) => !held.has(signalId));
  if (foreign.length > 0)
    throw new OpxError('invalid_request', `incident ${id} does not hold ${foreign.join(', ')}`, {
      path: 'signalIds',
      details: { notHeld: foreign },
    });
  if (wanted.length === held.size)
    throw new OpxError(
      'invalid_request',
      `splitting every signal off ${id} would leave it empty; leave at least one, or merge instead`,
      { path: 'signalIds' },
    );
  const moving = await scope.signals.getMany(wanted);
  const staying = await scope.signals.getMany([...held].filter((signalId) => !wanted.includes(signalId)));
  const split = summarize(moving);
  const stay = summarize(staying);
  const newIdValue = newId('incident', at);
  const first = moving[0]!;
  const origin = split.services.includes(source.root_service ?? '') ? source.root_service! : first.service;
  const row: IncidentRow = {
    ...openIncidentRow({
      id: newIdValue,
      title:
        move.title ??
        `${origin}: ${moving.find((signal) => signal.service === origin)?.title ?? first.title}`,
      severity: source.severity as IncidentSeverity,
      environment: source.environment,
      correlationKey: `split:${newIdValue}`,
      ruleId: null,
      startedAt: split.startedAt,
      at,
    }),
    signals_resolved_at: moving.some((signal) => signal.status === 'firing') ? null : at,
    root_service: origin,
    last_signal_at: split.lastAt,
    signal_count: moving.length,
  };

  const reason = move.reason ? { reason: move.reason } : {};
  await setServices(scope, row, split.services);
  await save(
    scope,
    row,
    [
      {
        type: 'created',
        principal: move.principal,
        at,
        data: { title: row.title, severity: row.severity, splitFrom: id },
      },
      {
        type: 'split_from',
        principal: move.principal,
        at,
        data: { incidentId: id, signalIds: wanted, ...reason },
      },
    ],
    at,
  );
  await relink(
    scope,
    id,
    newIdValue,
    wanted,
    { kind: 'manual', principal: move.principal, action: 'split', from: id },
    at,
  );
  // The source keeps its other services; services only the moved signals had leave it.
  await setServices(scope, source, stay.services);
  Object.assign(source, {
    signal_count: staying.length,
    root_service: stay.services.includes(source.root_service ?? '') ? source.root_service : stay.services[0]!,
    last_signal_at: stay.lastAt,
  });
  await save(
    scope,
    source,
    [
      {
        type: 'signals_split',
        principal: move.principal,
        at,
        data: { incidentId: newIdValue, signalIds: wanted, ...reason },
      },
    ],
    at,
  );
  return { incident: incidentFromRow(source), split: incidentFromRow(row) };
}
