import { z } from 'zod';
import { compileRules } from '../detect/rules.js';
import { dependencyGraph, SIBLING_CHANGE_WINDOW_MS } from '../detect/topology.js';
import type { IncidentSeverity } from '../domain/common.js';
import { OpxError } from '../domain/errors.js';
import type { Incident } from '../domain/incident.js';
import { type NormalizedRuleInput, ruleInputSchema } from '../domain/rule.js';
import type { Signal, SignalDraft } from '../domain/signal.js';
import { openStore, type Store } from '../store/store.js';
import { correlateSustained, ingestSignals } from './pipeline.js';

/** A candidate rule set, as a file or a request body holds it: a list, or `{rules: [...]}`. */
export const ruleSetSchema = z.union([
  z.array(ruleInputSchema).min(1).max(200),
  z.strictObject({ rules: z.array(ruleInputSchema).min(1).max(200) }).transform((value) => value.rules),
]);

/** Severities that page someone. */
const PAGING: readonly IncidentSeverity[] = ['SEV1', 'SEV2'];

/** The most signals one rehearsal replays; past it the oldest are left out and the report says so. */
export const DRY_RUN_SIGNAL_LIMIT = 50_000;

export interface IncidentTally {
  /** Incidents opened in the window. */
  opened: number;
  /** Of those, closed because they were merged into another. */
  merged: number;
  /** Opened at a paging severity (SEV1 or SEV2), merged ones included: each was a page. */
  pages: number;
}

export interface DryRunIncident {
  title: string;
  severity: IncidentSeverity;
  services: string[];
  rootService: string | null;
  signals: number;
  mergedInto: string | null;
  id: string;
}

export interface DryRunReport {
  since: number;
  until: number;
  /** Stored signals replayed, and whether older ones were left out at the limit. */
  signals: number;
  truncated: boolean;
  candidate: IncidentTally & { incidents: DryRunIncident[] };
  actual: IncidentTally;
}

function tally(incidents: readonly Incident[]): IncidentTally {
  return {
    opened: incidents.length,
    merged: incidents.filter((incident) => incident.mergedInto !== null).length,
    pages: incidents.filter((incident) => PAGING.includes(incident.severity)).length,
  };
}

/** A stored signal as the receiver produced it: the draft it was stored from. */
function draftOf(signal: Signal, status: 'firing' | 'resolved'): SignalDraft {
  return {
    source: signal.source,
    fingerprint: signal.fingerprint,
    status,
    severity: signal.severity,
    service: signal.service,
    environment: signal.environment,
    ...(signal.region ? { region: signal.region } : {}),
    title: signal.title,
    ...(signal.description ? { description: signal.description } : {}),
    labels: signal.labels,
    annotations: signal.annotations,
    ...(signal.metric ? { metric: signal.metric } : {}),
    links: signal.links,
    startsAt: signal.startsAt,
    ...(status === 'resolved' && signal.endsAt !== null ? { endsAt: signal.endsAt } : {}),
    acknowledged: false,
  } as SignalDraft;
}

/**
 * Rehearses a rule set: replays the stored signals received in [since, until) through `rules` in a
 * scratch in-memory store holding the same topology, each at the time it was received (and its
 * resolve at the time it ended, and the worker's sweep when it falls due for a sustained rule), and reports what the rules would have opened, merged and paged
 * against what the live rules did. Nothing is written to `store`.
 */
export async function dryRunRules(
  store: Store,
  rules: readonly NormalizedRuleInput[],
  options: { since: number; until: number; reopenGraceMs: number; autoResolve: boolean },
): Promise<DryRunReport> {
  if (options.until <= options.since)
    throw new OpxError('invalid_request', 'the window is empty: until must be after since', {
      path: 'until',
    });
  const names = rules.map((rule) => rule.name);
  const clash = names.find((name, index) => names.indexOf(name) !== index);
  if (clash) throw new OpxError('invalid_request', `the rule set names ${clash} twice`, { path: 'rules' });

  const stored = await store.signals.list({
    since: options.since,
    until: options.until,
    limit: DRY_RUN_SIGNAL_LIMIT + 1,
  });
  const truncated = stored.length > DRY_RUN_SIGNAL_LIMIT;
  const signals = stored.slice(0, DRY_RUN_SIGNAL_LIMIT).reverse();
  const events: { at: number; draft: SignalDraft }[] = [];
  for (const signal of signals) {
    events.push({ at: signal.receivedAt, draft: draftOf(signal, 'firing') });
    if (signal.endsAt !== null && signal.endsAt < options.until)
      events.push({ at: Math.max(signal.endsAt, signal.receivedAt), draft: draftOf(signal, 'resolved') });
  }
  events.sort((a, b) => a.at - b.at);

  const scratch = await openStore(':memory:');
  try {
    await scratch.migrate();
    const services = await store.services.list();
    // Changes too: a change on a shared dependency lets its callers join one incident (siblingPath).
    const changes = await store.changes.list({
      since: options.since - SIBLING_CHANGE_WINDOW_MS,
      until: options.until,
      limit: DRY_RUN_SIGNAL_LIMIT,
    });
    await scratch.transaction(async (scope) => {
      await scope.services.upsertMany(services);
      for (const rule of rules) await scope.rules.create(rule, { now: options.since });
      for (const change of changes)
        await scope.changes.insert(
          {
            kind: change.kind,
            service: change.service,
            environment: change.environment,
            summary: change.summary,
            startedAt: change.startedAt,
            links: [],
            source: change.source,
          },
          change.createdAt,
        );
    });
    const compiled = compileRules(await scratch.rules.list());
    const graph = compiled.topology ? dependencyGraph(await scratch.services.edges()) : undefined;
    const settings = { autoResolve: options.autoResolve, reopenGraceMs: options.reopenGraceMs };
    // A rule with sustainedSeconds counts a signal only once it has fired that long: the worker's sweep
    // runs when each signal falls due (and finds nothing when it resolved sooner).
    const sustained = [...new Set(compiled.threshold.flatMap((entry) => entry.rule.sustainedSeconds ?? []))];
    const sweeps: { at: number; draft?: SignalDraft }[] = signals.flatMap((signal) =>
      sustained
        .map((seconds) => ({ at: signal.receivedAt + seconds * 1000 }))
        .filter((sweep) => sweep.at < options.until),
    );
    const replay = [...events, ...sweeps].sort(
      (a, b) => a.at - b.at || Number(a.draft === undefined) - Number(b.draft === undefined),
    );
    for (let start = 0; start < replay.length; ) {
      let end = start + 1;
      while (end < replay.length && replay[end]!.at === replay[start]!.at) end += 1;
      const batch = replay.slice(start, end);
      const drafts = batch.flatMap((event) => event.draft ?? []);
      const context = {
        principal: 'dry-run',
        now: batch[0]!.at,
        settings,
        rules: compiled,
        graph,
        silences: [],
      };
      await scratch.transaction(async (scope) => {
        if (drafts.length > 0) await ingestSignals(scope, drafts, context);
        if (drafts.length < batch.length) await correlateSustained(scope, context);
      });
      start = end;
    }
    const opened = await scratch.incidents.list({ limit: 100_000 });
    const actual = await store.incidents.list({ since: options.since, until: options.until, limit: 100_000 });
    return {
      since: options.since,
      until: options.until,
      signals: signals.length,
      truncated,
      candidate: {
        ...tally(opened),
        incidents: opened
          .sort((a, b) => a.detectedAt - b.detectedAt)
          .map((incident) => ({
            id: incident.id,
            title: incident.title,
            severity: incident.severity,
            services: incident.services,
            rootService: incident.rootService,
            signals: incident.signalCount,
            mergedInto: incident.mergedInto,
          })),
      },
      actual: tally(actual),
    };
  } finally {
    await scratch.close();
  }
}
