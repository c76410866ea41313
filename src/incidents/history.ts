import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { changeKindSchema, type NormalizedChangeInput } from '../domain/change.js';
import { incidentSeveritySchema, newId, severitySchema, timestampSchema } from '../domain/common.js';
import { formatPath, OpxError } from '../domain/errors.js';
import {
  chainEvents,
  type EventDraft,
  GENESIS_HASH,
  type IncidentRow,
} from '../store/repositories/incidents.js';
import type { SignalRow } from '../store/repositories/signals.js';
import type { StoreScope } from '../store/store.js';

const historyChangeSchema = z.object({
  key: z.string().min(1).max(200),
  kind: changeKindSchema,
  service: z.string().min(1).max(200),
  environment: z.string().min(1).max(100).default('production'),
  version_from: z.string().max(200).optional(),
  version_to: z.string().max(200).optional(),
  author: z.string().max(200).optional(),
  summary: z.string().min(1).max(2000),
  started_at: timestampSchema,
  finished_at: timestampSchema.optional(),
});

const historyIncidentSchema = z.object({
  key: z.string().min(1).max(200),
  title: z.string().min(1).max(500),
  severity: incidentSeveritySchema,
  services: z.array(z.string().min(1)).min(1),
  environment: z.string().min(1).max(100).default('production'),
  started_at: timestampSchema,
  detected_at: timestampSchema,
  acknowledged_at: timestampSchema.optional(),
  resolved_at: timestampSchema,
  root_cause: z.string().min(1).max(5000),
  resolution: z.string().min(1).max(5000),
  signals: z
    .array(
      z.object({
        alertname: z.string().min(1).max(200),
        service: z.string().min(1).max(200),
        severity: severitySchema,
        offset_seconds: z.number().int(),
      }),
    )
    .min(1),
});

export interface HistoryFiles {
  incidents: z.output<typeof historyIncidentSchema>[];
  changes: z.output<typeof historyChangeSchema>[];
}

function readList<S extends z.ZodType>(file: string, schema: S): z.output<S>[] {
  let data: unknown;
  try {
    data = parseYaml(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new OpxError('invalid_request', `cannot read ${file}: ${(error as Error).message.split('\n')[0]}`);
  }
  const parsed = z.array(schema).safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new OpxError('invalid_request', `${file}: ${formatPath(issue.path)}: ${issue.message}`, {
      path: formatPath(issue.path),
    });
  }
  return parsed.data;
}

/** Reads `incidents.yaml` and `changes.yaml` from a history directory, validating every entry first. */
export function readHistoryDirectory(directory: string): HistoryFiles {
  return {
    changes: readList(path.join(directory, 'changes.yaml'), historyChangeSchema),
    incidents: readList(path.join(directory, 'incidents.yaml'), historyIncidentSchema),
  };
}

/**
 * Loads past incidents as RESOLVED incidents with their signals, root cause, resolution and a complete
 * event chain, plus the change history, so investigations have a past to compare with. Idempotent:
 * changes are keyed by (source "history", key), incidents by their correlation key `history:<key>`.
 */
export async function importHistory(
  scope: StoreScope,
  history: HistoryFiles,
  principal: string,
): Promise<{
  incidents: { created: number; existing: number };
  changes: { created: number; existing: number };
}> {
  const report = { incidents: { created: 0, existing: 0 }, changes: { created: 0, existing: 0 } };
  for (const entry of history.changes) {
    const change: NormalizedChangeInput = {
      kind: entry.kind,
      service: entry.service,
      environment: entry.environment,
      ...(entry.version_from ? { versionFrom: entry.version_from } : {}),
      ...(entry.version_to ? { versionTo: entry.version_to } : {}),
      ...(entry.author ? { author: entry.author } : {}),
      summary: entry.summary,
      startedAt: entry.started_at,
      ...(entry.finished_at !== undefined ? { finishedAt: entry.finished_at } : {}),
      links: [],
      externalId: entry.key,
      source: 'history',
    };
    const { created } = await scope.changes.insert(change, entry.started_at);
    report.changes[created ? 'created' : 'existing'] += 1;
  }

  for (const entry of history.incidents) {
    const correlationKey = `history:${entry.key}`;
    const existing = await scope.db
      .selectFrom('incidents')
      .select('id')
      .where('correlation_key', '=', correlationKey)
      .executeTakeFirst();
    if (existing) {
      report.incidents.existing += 1;
      continue;
    }
    const signals: SignalRow[] = entry.signals.map((signal) => {
      const startsAt = entry.detected_at + signal.offset_seconds * 1000;
      const fingerprint = `${entry.key}:${signal.alertname}:${signal.service}:${signal.offset_seconds}`;
      return {
        id: newId('signal', startsAt),
        source: 'generic',
        fingerprint,
        dedup_key: `gen:${fingerprint}`,
        open_key: null,
        status: 'resolved',
        severity: signal.severity,
        service: signal.service,
        environment: entry.environment,
        region: null,
        title: `${signal.alertname} on ${signal.service}`,
        description: null,
        labels: JSON.stringify({ alertname: signal.alertname, service: signal.service }),
        annotations: '{}',
        metric: null,
        links: '[]',
        starts_at: startsAt,
        ends_at: entry.resolved_at,
        received_at: startsAt,
        last_seen_at: entry.resolved_at,
        occurrences: 1,
        acknowledged_at: null,
        suppressed_by: null,
        raw: null,
      };
    });
    await scope.signals.insertMany(signals);
    const services = [
      ...new Set([...entry.services, ...entry.signals.map((signal) => signal.service)]),
    ].sort();
    const row: IncidentRow = {
      id: newId('incident', entry.detected_at),
      title: entry.title,
      severity: entry.severity,
      status: 'RESOLVED',
      services: JSON.stringify(services),
      environment: entry.environment,
      correlation_key: correlationKey,
      active_key: null,
      rule_id: null,
      started_at: Math.min(entry.started_at, ...signals.map((signal) => signal.starts_at)),
      detected_at: entry.detected_at,
      acknowledged_at: entry.acknowledged_at ?? null,
      mitigated_at: null,
      resolved_at: entry.resolved_at,
      closed_at: null,
      signals_resolved_at: entry.resolved_at,
      root_cause: entry.root_cause,
      resolution: entry.resolution,
      root_service: null,
      merged_into: null,
      last_signal_at: Math.max(entry.started_at, ...signals.map((signal) => signal.starts_at)),
      signal_count: signals.length,
      last_event_seq: 0,
      last_event_hash: GENESIS_HASH,
      created_at: entry.detected_at,
      updated_at: entry.resolved_at,
    };
    const drafts: EventDraft[] = [
      {
        type: 'created',
        principal,
        at: entry.detected_at,
        data: { title: entry.title, severity: entry.severity, imported: entry.key },
      },
      {
        type: 'signal_attached',
        principal,
        at: entry.detected_at,
        data: { signalIds: signals.map((signal) => signal.id), count: signals.length },
      },
    ];
    if (entry.acknowledged_at !== undefined) {
      drafts.push({
        type: 'status_changed',
        principal,
        at: entry.acknowledged_at,
        data: { from: 'OPEN', to: 'ACKNOWLEDGED' },
      });
    }
    drafts.push({
      type: 'status_changed',
      principal,
      at: entry.resolved_at,
      data: {
        from: entry.acknowledged_at !== undefined ? 'ACKNOWLEDGED' : 'OPEN',
        to: 'RESOLVED',
        rootCause: entry.root_cause,
        resolution: entry.resolution,
      },
    });
    const chain = chainEvents(row, drafts);
    row.last_event_seq = chain.lastSeq;
    row.last_event_hash = chain.lastHash;
    await scope.incidents.upsertRows([row]);
    await scope.incidents.insertEvents(chain.events);
    await scope.incidents.attachSignalsMany(
      signals.map((signal) => ({ incidentId: row.id, signalId: signal.id })),
      entry.detected_at,
    );
    await scope.incidents.addServicesMany(services.map((service) => ({ incidentId: row.id, service })));
    report.incidents.created += 1;
  }
  return report;
}
