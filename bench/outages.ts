import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import Table from 'cli-table3';
import { stringify as toYaml } from 'yaml';
import { type IngestSummary, OpxClient } from '../src/client/index.js';
import { integerFlag, parseFlags, readArgs, UsageError } from './support/cli.js';
import { buildTime, REPO_ROOT, type RunningOpx, staleBuildWarning, startOpx } from './support/opx.js';
import {
  type Clock,
  expectedFingerprint,
  renderChange,
  renderSignal,
  sendRequest,
} from './support/outage-feed.js';
import {
  distinctiveServices,
  type FeedEvent,
  feedOf,
  loadScenarios,
  NOISE,
  type Scenario,
  timeSpan,
} from './support/outage-scenarios.js';
import { sourceProvenance } from './support/provenance.js';
import {
  type Answer,
  currentInvestigationOf,
  eventSignalIds,
  type FindingLike,
  mergedIntoOf,
  pagesFor,
  readAnswer,
  responderIncident,
  rootServiceOf,
  survivors,
} from './support/responder.js';
import { type LatencySummary, type Rate, rate, round, summarizeLatencies } from './support/stats.js';

const USAGE = `usage: npm run bench -- outages [flags]

Replays outages that follow public post-incident reports (bench/data/outages/, one file each; its
README lists them) against a real \`opx serve\` on SQLite with the shipped defaults, one server per
scenario. Each scenario's topology goes in over POST /v1/services (as a Backstage catalog), its changes
over POST /v1/changes, and its alerts over the wire formats their senders use (Alertmanager webhook,
Prometheus /api/v2/alerts, OPX generic signals, CloudWatch through SNS), in arrival order. Alert times
(startsAt, endsAt, change times) keep the scenario's real spacing, shifted so the whole scenario lies in
the recent past. Then the worker's automatic investigations run and the answer is read from the API.

  --feed <burst|live>   burst (default): every request goes out back to back, then the run waits for
                        the queued investigations; an investigation therefore sees the whole feed.
                        live: the feed is held wherever the worker would run an investigation before
                        the next request arrives (read from the job queue), so each investigation sees
                        what it would have seen live; quiet stretches are skipped.
  --only <ids>          comma-separated scenario ids (default: all)
  --concurrency <n>     scenarios (servers) at once (default 1). More finish sooner, but the servers
                        then share the machine's cores, so the signal → incident latency measures
                        their contention too (on 2 cores, 3 at once gave 3 times its p99); the scores do
                        not depend on it
  --settle-timeout <s>  longest wait for the investigations of one scenario (default 300)
  --data <dir>          scenario directory (default bench/data/outages)
  --opx-root <dir>      the checkout whose build to run (default this one; npm run build first)
  --out <file>          results file (default bench/results/outages.json)
  --keep                keep every scenario's data directory
  -h, --help            this text

Per outage: pages (incidents that held any of its alerts) and how many remain once incidents merged
into another are followed to it; the incident a responder would look at (among those left, the one
holding the origin's own alerts, else the one holding most of the outage's alerts); whether that
incident's current automatic investigation names the origin (top-1) and whether change-intelligence
ranks the culprit change first. Negative scenarios: two outages at once must stay in separate
incidents; a blip on a hub must not join or re-root an outage; noise alone must open nothing.`;

type Feed = 'burst' | 'live';

interface Parameters {
  feed: Feed;
  only: string[] | null;
  concurrency: number;
  settleTimeoutMs: number;
  data: string;
  opxRoot: string;
  out: string;
  keep: boolean;
}

function parseParameters(argv: string[]): Parameters | 'help' {
  const values = readArgs(argv, {
    feed: { type: 'string' },
    only: { type: 'string' },
    concurrency: { type: 'string' },
    'settle-timeout': { type: 'string' },
    data: { type: 'string' },
    'opx-root': { type: 'string' },
    out: { type: 'string' },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) return 'help';
  const feed = values.feed ?? 'burst';
  if (feed !== 'burst' && feed !== 'live')
    throw new UsageError(`--feed must be burst or live (got ${JSON.stringify(feed)})`);
  return {
    feed,
    only: values.only
      ? values.only
          .split(',')
          .map((id) => id.trim())
          .filter(Boolean)
      : null,
    concurrency: integerFlag(values.concurrency, 'concurrency', 1, 1, 16),
    settleTimeoutMs: integerFlag(values['settle-timeout'], 'settle-timeout', 300, 10, 3600) * 1000,
    data: path.resolve(values.data ?? path.join(REPO_ROOT, 'bench', 'data', 'outages')),
    opxRoot: path.resolve(values['opx-root'] ?? REPO_ROOT),
    out: path.resolve(values.out ?? path.join(REPO_ROOT, 'bench', 'results', 'outages.json')),
    keep: Boolean(values.keep),
  };
}

const progress = (line: string) => process.stderr.write(`[outages] ${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------------
// Topology, as a Backstage catalog

function catalogYaml(scenario: Scenario): string {
  const kindOf = new Map(scenario.services.map((service) => [service.name, service.kind]));
  return scenario.services
    .map((service) =>
      toYaml({
        apiVersion: 'backstage.io/v1alpha1',
        kind: service.kind === 'resource' ? 'Resource' : 'Component',
        metadata: {
          name: service.name,
          ...(service.description ? { description: service.description } : {}),
          annotations: {
            ...(service.tier !== undefined ? { 'opx.dev/tier': String(service.tier) } : {}),
            ...(service.customerFacing !== undefined
              ? { 'opx.dev/customer-facing': String(service.customerFacing) }
              : {}),
          },
        },
        spec: {
          type: service.type ?? (service.kind === 'resource' ? 'infrastructure' : 'service'),
          lifecycle: 'production',
          owner: service.owner ?? 'team-platform',
          ...(service.dependsOn.length > 0
            ? { dependsOn: service.dependsOn.map((name) => `${kindOf.get(name)}:default/${name}`) }
            : {}),
        },
      }),
    )
    .join('---\n');
}

// ---------------------------------------------------------------------------------------------------
// The investigation queue, read from the server's store (read-only) to pace and settle the feed

interface QueuedJob {
  id: string;
  status: 'pending' | 'running';
  runAt: number;
  /** When it was (re)scheduled: created, rescheduled, or failed and set to retry. */
  scheduledAt: number;
}

/**
 * Opens the server's job table read-only. On a loaded machine the read-only connection can open
 * before it sees the migrated schema ("no such table: jobs"); it is retried for up to 30 s.
 */
async function openQueue(file: string): Promise<Queue> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      return new Queue(file);
    } catch (error) {
      if (Date.now() > deadline || !/no such table/.test(String(error))) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

class Queue {
  readonly #db: Database.Database;
  readonly #statement: Database.Statement<
    [],
    { id: string; status: string; run_at: number; updated_at: number }
  >;

  constructor(file: string) {
    this.#db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      this.#statement = this.#db.prepare(
        "SELECT id, status, run_at, updated_at FROM jobs WHERE kind = 'investigate' AND status IN ('pending', 'running')",
      );
    } catch (error) {
      this.#db.close();
      throw error;
    }
  }

  jobs(): QueuedJob[] {
    return this.#statement.all().map((row) => ({
      id: row.id,
      status: row.status as QueuedJob['status'],
      runAt: Number(row.run_at),
      scheduledAt: Number(row.updated_at),
    }));
  }

  close(): void {
    this.#db.close();
  }
}

/**
 * Scenario time against wall time, for the live feed: scenario time runs with the wall clock, except
 * where the feed skips a quiet stretch, which moves it ahead.
 */
class ScenarioClock {
  readonly #segments: { fromWall: number; offset: number }[] = [];

  constructor(startScenario: number) {
    this.#segments.push({ fromWall: Date.now(), offset: startScenario - Date.now() });
  }

  at(wall: number): number {
    let offset = this.#segments[0]!.offset;
    for (const segment of this.#segments) if (segment.fromWall <= wall) offset = segment.offset;
    return wall + offset;
  }

  /** Jumps ahead to scenario time `to` (never back). */
  skipTo(to: number): void {
    const wall = Date.now();
    if (this.at(wall) >= to) return;
    this.#segments.push({ fromWall: wall, offset: to - wall });
  }
}

// ---------------------------------------------------------------------------------------------------
// One scenario

interface SignalView {
  id: string;
  fingerprint: string;
  service: string;
}

interface IncidentView {
  id: string;
  title: string;
  status: string;
  severity: string;
  services: string[];
  detectedAt: number;
  mergedInto: string | null;
  rootService: string | null | undefined;
  currentInvestigationId: string | null | undefined;
  signals: SignalView[];
  /** Signals its timeline says were ever attached to it (some may have moved to another incident since). */
  everAttached: string[];
  investigations: { id: string; status: string; startedAt: number; findings: FindingLike[] }[];
}

interface OutageOutcome {
  id: string;
  origin: string;
  culpritChange: string | null;
  /** The origin raised an alert of its own in the scenario. */
  originAlerts: boolean;
  /** The origin's first alert arrived after another alert of the outage. */
  originLate: boolean;
  /** Minutes between the culprit change's start and the onset. */
  culpritLeadMinutes: number | null;
  pagesOpened: number;
  pagesSurviving: number;
  responder: {
    incident: string;
    title: string;
    services: string[];
    outageSignals: number;
    holdsOrigin: boolean;
    /** Distinctive signals of other outages or of noise it holds. */
    foreignSignals: number;
    rootService: string | null | undefined;
    investigation: string | null;
    investigations: number;
    answer:
      | (Omit<Answer, 'namedChangeId' | 'topChangeId' | 'rankedChanges'> & {
          namedChange: string | null;
          topChange: string | null;
          topChanges: { change: string; score: number; minutesBeforeOnset: number }[];
        })
      | null;
  } | null;
  originTop1: boolean;
  rootServiceTop1: boolean | null;
  culpritTop1: boolean | null;
  culpritNamed: boolean | null;
  /**
   * The report records no causal change: whether the strategy named a change as the cause anyway (a
   * false culprit); null when a culprit is recorded or no investigation answered.
   */
  changeNamedWithoutCulprit: boolean | null;
  miss: string | null;
}

interface ScenarioOutcome {
  id: string;
  title: string;
  kind: Scenario['kind'];
  negative: Scenario['negative'] | null;
  report: Scenario['report'] | null;
  expectedIncidents: number;
  sent: { signals: number; resolves: number; changes: number; requests: number };
  /**
   * Milliseconds from sending a firing signal to OPX's answer, which names the incident the signal
   * opened or joined: correlation runs inside the ingest transaction, so this is signal → incident.
   * `none`: firing signals that joined no incident, the same route without a join (the baseline).
   */
  signalLatencyMs: SignalLatencies;
  incidentsOpened: number;
  incidentsSurviving: number;
  outages: OutageOutcome[];
  /** Negatives: whether the correlation held back. Outages: whether one incident is left. */
  verdict: { pass: boolean; reason: string };
  incidents: {
    id: string;
    title: string;
    status: string;
    services: string[];
    mergedInto: string | null;
    rootService: string | null | undefined;
    roles: Record<string, number>;
    investigations: number;
    answer: string | null;
  }[];
  unsettled: boolean;
  seconds: number;
}

interface SignalLatencies {
  opened: number[];
  joined: number[];
  none: number[];
}

/** Which incidents an ingest answer names for its signals; undefined for a receiver that does not say (PagerDuty). */
function incidentOutcome(answer: unknown): keyof SignalLatencies | undefined {
  const summary = answer as Partial<IngestSummary> | null;
  if (!summary || !Array.isArray(summary.signals) || !summary.incidents) return undefined;
  if (summary.incidents.created.length > 0) return 'opened';
  return summary.signals.some((signal) => signal.incidentIds.length > 0) ? 'joined' : 'none';
}

async function sendEvent(
  client: OpxClient,
  event: FeedEvent,
  clock: Clock,
  changeIds: Map<string, string>,
  latencies: SignalLatencies,
): Promise<void> {
  if (event.type === 'change') {
    const response = (await sendRequest(client, renderChange(event.change, clock))) as {
      change: { id: string };
    };
    changeIds.set(response.change.id, event.change.id);
    return;
  }
  const started = performance.now();
  const answer = await sendRequest(client, renderSignal(event.signal, event.status, clock, Date.now()));
  const elapsed = performance.now() - started;
  const outcome = event.status === 'firing' ? incidentOutcome(answer) : undefined;
  if (outcome) latencies[outcome].push(round(elapsed, 2));
}

/** Waits until no investigation is queued or running (bounded); true when it settled. */
async function settle(queue: Queue, client: OpxClient, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let quietPolls = 0;
  while (Date.now() < deadline) {
    const jobs = queue.jobs();
    if (jobs.length === 0) {
      quietPolls += 1;
      // Twice in a row, half a second apart: a job finishing can enqueue another in the same breath.
      if (quietPolls >= 2) {
        const list = await client.listIncidents({ limit: 500 });
        let running = false;
        for (const item of list.items) {
          const investigations = await client.investigations(item.id);
          if (investigations.items.some((investigation) => investigation.status === 'running'))
            running = true;
        }
        if (!running) return true;
        quietPolls = 0;
      }
      await sleep(500);
      continue;
    }
    quietPolls = 0;
    const pending = jobs.filter((job) => job.status === 'pending');
    const nextDue = Math.min(...pending.map((job) => job.runAt), Number.POSITIVE_INFINITY);
    // Sleep to the next due job, or poll while one runs.
    await sleep(Math.max(100, Math.min(1000, nextDue - Date.now())));
  }
  return false;
}

/**
 * The live feed: before each request, any investigation the worker would start before that request
 * arrives in scenario time is allowed to run and finish first; otherwise the quiet time up to the
 * request is skipped.
 */
async function liveFeed(
  events: readonly FeedEvent[],
  send: (event: FeedEvent) => Promise<void>,
  queue: Queue,
  timeoutMs: number,
): Promise<boolean> {
  if (events.length === 0) return true;
  const clock = new ScenarioClock(events[0]!.at);
  let settled = true;
  for (const event of events) {
    const started = Date.now();
    for (;;) {
      const blocking = queue
        .jobs()
        .filter(
          (job) =>
            job.status === 'running' || clock.at(job.scheduledAt) + (job.runAt - job.scheduledAt) <= event.at,
        );
      if (blocking.length === 0) {
        clock.skipTo(event.at);
        break;
      }
      if (Date.now() - started > timeoutMs) {
        settled = false;
        break;
      }
      await sleep(100);
    }
    await send(event);
  }
  return settled;
}

/** Every incident, CLOSED ones included even if a later OPX leaves them out of the default list. */
async function listIncidentIds(client: OpxClient): Promise<string[]> {
  const ids = new Set<string>();
  for (const status of [undefined, ['CLOSED' as const]]) {
    const list = await client.listIncidents({ limit: 500, ...(status ? { status } : {}) });
    for (const item of list.items) ids.add(item.id);
  }
  return [...ids];
}

async function readIncidents(client: OpxClient): Promise<IncidentView[]> {
  const views: IncidentView[] = [];
  for (const id of await listIncidentIds(client)) {
    const item = { id };
    const detail = await client.incident(item.id);
    const investigations = (await client.request('GET', `/v1/incidents/${item.id}/investigations`)) as {
      items: (Omit<IncidentView['investigations'][number], 'startedAt'> & { startedAt: string })[];
    };
    const events = await client.incidentEvents(item.id);
    const { incident } = detail;
    views.push({
      id: incident.id,
      title: incident.title,
      status: incident.status,
      severity: incident.severity,
      services: incident.services,
      detectedAt: Date.parse(incident.detectedAt),
      mergedInto: mergedIntoOf(incident),
      rootService: rootServiceOf(incident),
      currentInvestigationId: currentInvestigationOf(incident),
      signals: detail.signals.map((signal) => ({
        id: signal.id,
        fingerprint: signal.fingerprint,
        service: signal.service,
      })),
      everAttached: [...new Set(events.items.flatMap((event) => eventSignalIds(event.data)))],
      // The API answers ISO-8601; the scoring below compares times as numbers.
      investigations: investigations.items.map((investigation) => ({
        ...investigation,
        startedAt: Date.parse(investigation.startedAt),
      })),
    });
  }
  return views;
}

/** Fingerprint and service of signals that some timeline names but no incident holds any more. */
async function readLooseSignals(
  client: OpxClient,
  incidents: readonly IncidentView[],
): Promise<SignalView[]> {
  const held = new Set(incidents.flatMap((incident) => incident.signals.map((signal) => signal.id)));
  const loose = [...new Set(incidents.flatMap((incident) => incident.everAttached))].filter(
    (id) => !held.has(id),
  );
  const out: SignalView[] = [];
  for (const id of loose) {
    const { signal } = await client.signal(id);
    out.push({ id: signal.id, fingerprint: signal.fingerprint, service: signal.service });
  }
  return out;
}

/** The investigation a responder reads on an incident: the one it names as current, else the latest completed. */
function currentInvestigation(incident: IncidentView): IncidentView['investigations'][number] | undefined {
  if (incident.currentInvestigationId)
    return incident.investigations.find(
      (investigation) => investigation.id === incident.currentInvestigationId,
    );
  return [...incident.investigations]
    .filter((investigation) => investigation.status === 'completed')
    .sort((a, b) => b.startedAt - a.startedAt || b.id.localeCompare(a.id))[0];
}

function score(
  scenario: Scenario,
  incidents: readonly IncidentView[],
  looseSignals: readonly SignalView[],
  roleOf: (fingerprint: string) => { role: string; service: string } | undefined,
  changeIds: ReadonlyMap<string, string>,
): Pick<ScenarioOutcome, 'incidentsOpened' | 'incidentsSurviving' | 'outages' | 'verdict' | 'incidents'> {
  const byId = new Map(incidents.map((incident) => [incident.id, incident]));
  const signalRoles = new Map<string, { role: string; service: string }>();
  for (const signal of [...incidents.flatMap((incident) => incident.signals), ...looseSignals]) {
    const known = roleOf(signal.fingerprint);
    if (known) signalRoles.set(signal.id, known);
  }
  const withRole = (id: string) => ({ id, role: signalRoles.get(id)?.role ?? null });
  const groups = survivors(
    incidents,
    (id) => byId.get(id)!.signals.map((signal) => withRole(signal.id)),
    (id) => byId.get(id)!.everAttached.map(withRole),
  );
  const distinctive = distinctiveServices(scenario);
  const ours = (id: string | null) => (id === null ? null : (changeIds.get(id) ?? `unknown change ${id}`));

  const outages = scenario.truth.outages.map((outage): OutageOutcome => {
    const own = scenario.signals.filter((signal) => signal.outage === outage.id);
    const originSignals = own.filter((signal) => signal.service === outage.origin);
    const firstArrival = Math.min(...own.map((signal) => signal.arrives));
    const culprit = outage.culpritChange
      ? scenario.changes.find((change) => change.id === outage.culpritChange)!
      : undefined;
    const { opened, surviving } = pagesFor(groups, outage.id);
    const heldSignals = (id: string) =>
      [...(groups.holdings.get(id)?.values() ?? [])].flatMap((set) => [...set]);
    const candidates = surviving.map((id) => ({
      id,
      detectedAt: byId.get(id)!.detectedAt,
      holdsOrigin: heldSignals(id).some((signal) => signalRoles.get(signal)?.service === outage.origin),
      outageSignals: groups.holdings.get(id)?.get(outage.id)?.size ?? 0,
    }));
    const chosen = responderIncident(candidates);
    const base = {
      id: outage.id,
      origin: outage.origin,
      culpritChange: outage.culpritChange,
      originAlerts: originSignals.length > 0,
      originLate: originSignals.length > 0 && Math.min(...originSignals.map((s) => s.arrives)) > firstArrival,
      culpritLeadMinutes: culprit ? round(-culprit.startedAt / 60_000, 1) : null,
      pagesOpened: opened.length,
      pagesSurviving: surviving.length,
    };
    if (!chosen)
      return {
        ...base,
        responder: null,
        originTop1: false,
        rootServiceTop1: null,
        culpritTop1: culprit ? false : null,
        culpritNamed: culprit ? false : null,
        changeNamedWithoutCulprit: null,
        miss: 'no incident opened',
      };
    const incident = byId.get(chosen.id)!;
    const investigation = currentInvestigation(incident);
    const answer = investigation ? readAnswer(investigation.findings) : null;
    const foreign = heldSignals(chosen.id).filter((signal) => {
      const known = signalRoles.get(signal);
      return known !== undefined && known.role !== outage.id && distinctive.get(known.service) === known.role;
    }).length;
    const originTop1 = answer?.rootCause === outage.origin;
    let miss: string | null = null;
    if (!originTop1) {
      if (!answer) miss = 'no completed automatic investigation on the incident';
      else if (answer.abstained) miss = 'the investigation abstained';
      else {
        const named = answer.rootCause ?? '?';
        const relation = scenario.services
          .find((service) => service.name === named)
          ?.dependsOn.some((dependency) => dependency === outage.origin)
          ? 'a direct caller of the origin'
          : own.some((signal) => signal.service === named)
            ? 'an alerting service of the outage'
            : scenario.signals.some((signal) => signal.service === named)
              ? 'a service alerting for something else'
              : 'a service that did not alert';
        miss = `named ${named} (${relation})${chosen.holdsOrigin ? '' : '; the incident holds no alert of the origin'}`;
      }
    }
    return {
      ...base,
      responder: {
        incident: incident.id,
        title: incident.title,
        services: incident.services,
        outageSignals: chosen.outageSignals,
        holdsOrigin: chosen.holdsOrigin,
        foreignSignals: foreign,
        rootService: incident.rootService,
        investigation: investigation?.id ?? null,
        investigations: incident.investigations.length,
        answer: answer
          ? {
              abstained: answer.abstained,
              rootCause: answer.rootCause,
              confidence: answer.confidence,
              candidates: answer.candidates.slice(0, 5),
              trust: answer.trust,
              namedChange: ours(answer.namedChangeId),
              topChange: ours(answer.topChangeId),
              topChanges: answer.rankedChanges.slice(0, 3).map((entry) => ({
                change: ours(entry.changeId)!,
                score: entry.score,
                minutesBeforeOnset: entry.minutesBeforeOnset,
              })),
            }
          : null,
      },
      originTop1,
      rootServiceTop1: incident.rootService === undefined ? null : incident.rootService === outage.origin,
      culpritTop1: culprit ? ours(answer?.topChangeId ?? null) === culprit.id : null,
      culpritNamed: culprit ? ours(answer?.namedChangeId ?? null) === culprit.id : null,
      changeNamedWithoutCulprit: culprit || !answer ? null : answer.namedChangeId !== null,
      miss,
    };
  });

  const allOpened = incidents.filter(
    (incident) => incident.signals.length > 0 || incident.everAttached.length > 0,
  );
  const surviving = new Set(allOpened.map((incident) => groups.survivor.get(incident.id)!));
  // A surviving incident mixes when it holds distinctive alerts of two outages, or of an outage and noise.
  const mixing = [...surviving].filter((id) => {
    const roles = new Set<string>();
    for (const [role, set] of groups.holdings.get(id) ?? new Map<string, Set<string>>())
      for (const signal of set) {
        const known = signalRoles.get(signal);
        if (known && distinctive.get(known.service) === role) roles.add(role);
      }
    return roles.size >= 2 && [...roles].some((role) => role !== NOISE);
  });
  let verdict: ScenarioOutcome['verdict'];
  if (scenario.kind === 'outage') {
    const outage = outages[0]!;
    verdict =
      outage.pagesSurviving === 1
        ? { pass: true, reason: 'one incident' }
        : { pass: false, reason: `${outage.pagesSurviving} incidents for one outage` };
  } else if (scenario.negative === 'noise-only') {
    verdict =
      allOpened.length === 0
        ? { pass: true, reason: 'no incident' }
        : { pass: false, reason: `${allOpened.length} incident(s) opened on noise` };
  } else if (scenario.negative === 'two-outages') {
    verdict =
      mixing.length === 0
        ? { pass: true, reason: 'the outages stayed apart' }
        : { pass: false, reason: `${mixing.length} incident(s) hold both outages` };
  } else {
    const outage = outages[0]!;
    verdict =
      mixing.length > 0
        ? { pass: false, reason: 'the blip joined the outage' }
        : !outage.originTop1
          ? { pass: false, reason: `the outage lost its origin (${outage.miss})` }
          : { pass: true, reason: 'the blip stayed out; the origin held' };
  }

  return {
    incidentsOpened: allOpened.length,
    incidentsSurviving: surviving.size,
    outages,
    verdict,
    incidents: incidents.map((incident) => {
      const roles: Record<string, number> = {};
      for (const signal of incident.signals) {
        const role = signalRoles.get(signal.id)?.role ?? 'unknown';
        roles[role] = (roles[role] ?? 0) + 1;
      }
      const investigation = currentInvestigation(incident);
      const answer = investigation ? readAnswer(investigation.findings) : null;
      return {
        id: incident.id,
        title: incident.title,
        status: incident.status,
        services: incident.services,
        mergedInto: incident.mergedInto,
        rootService: incident.rootService,
        roles,
        investigations: incident.investigations.length,
        answer: answer ? (answer.abstained ? 'abstained' : answer.rootCause) : null,
      };
    }),
  };
}

async function runScenario(
  scenario: Scenario,
  parameters: Parameters,
  adminToken: string,
): Promise<ScenarioOutcome> {
  const started = performance.now();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), `opx-bench-outages-${scenario.id.slice(0, 30)}-`));
  let opx: RunningOpx | undefined;
  let queue: Queue | undefined;
  let failed = false;
  try {
    opx = await startOpx({ root: parameters.opxRoot, dataDir, adminToken });
    // Busy stores answer 503 with Retry-After: a sender retries.
    const client = new OpxClient({
      baseUrl: opx.url,
      token: adminToken,
      timeoutMs: 30_000,
      retryUnavailable: 4,
    });
    queue = await openQueue(opx.databaseFile);
    await sendRequest(client, {
      path: '/v1/services',
      contentType: 'application/yaml',
      body: catalogYaml(scenario),
    });
    // Onset lies far enough back that every time the scenario mentions is already past when it is sent.
    const span = timeSpan(scenario);
    const clock: Clock = {
      onset: Date.now() - span.last - 120_000,
      environment: scenario.environment,
      scenarioId: scenario.id,
    };
    const roles = new Map(
      scenario.signals.map((signal) => [
        expectedFingerprint(signal, clock),
        { role: signal.outage, service: signal.service },
      ]),
    );
    const changeIds = new Map<string, string>();
    const latencies: SignalLatencies = { opened: [], joined: [], none: [] };
    const events = feedOf(scenario);
    const send = (event: FeedEvent) => sendEvent(client, event, clock, changeIds, latencies);
    let unsettled = false;
    if (parameters.feed === 'live') {
      if (!(await liveFeed(events, send, queue, parameters.settleTimeoutMs))) unsettled = true;
    } else for (const event of events) await send(event);
    if (!(await settle(queue, client, parameters.settleTimeoutMs))) unsettled = true;
    const incidents = await readIncidents(client);
    const loose = await readLooseSignals(client, incidents);
    const scored = score(scenario, incidents, loose, (fingerprint) => roles.get(fingerprint), changeIds);
    return {
      id: scenario.id,
      title: scenario.title,
      kind: scenario.kind,
      negative: scenario.negative ?? null,
      report: scenario.report ?? null,
      expectedIncidents: scenario.truth.expectedIncidents,
      sent: {
        signals: events.filter((event) => event.type === 'signal' && event.status === 'firing').length,
        resolves: events.filter((event) => event.type === 'signal' && event.status === 'resolved').length,
        changes: events.filter((event) => event.type === 'change').length,
        requests: client.requests,
      },
      signalLatencyMs: latencies,
      ...scored,
      unsettled,
      seconds: round((performance.now() - started) / 1000, 1),
    };
  } catch (error) {
    failed = true;
    throw new Error(
      `${scenario.id} failed (data kept in ${dataDir}): ${(error as Error).stack ?? error}${opx ? `\n--- opx output ---\n${opx.process.output().slice(-4000)}` : ''}`,
    );
  } finally {
    queue?.close();
    await opx?.process.stop('SIGTERM');
    if (!parameters.keep && !failed) rmSync(dataDir, { recursive: true, force: true });
    else if (parameters.keep) progress(`${scenario.id}: kept ${dataDir}`);
  }
}

// ---------------------------------------------------------------------------------------------------
// Report

const mean = (values: readonly number[]) =>
  values.length === 0 ? null : round(values.reduce((sum, value) => sum + value, 0) / values.length, 2);

function latencyText(latency: LatencySummary | null, ratio: number | null): string {
  if (!latency) return 'n/a';
  return `${latency.p50} / ${latency.p99} (n=${latency.count})${ratio === null ? '' : `, p99 ${ratio}× baseline`}`;
}

function summarize(outcomes: readonly ScenarioOutcome[]) {
  const positives = outcomes.filter((outcome) => outcome.kind === 'outage');
  const outages = positives.map((outcome) => outcome.outages[0]!);
  const everyOutage = outcomes.flatMap((outcome) => outcome.outages);
  const negatives = outcomes.filter((outcome) => outcome.kind === 'negative');
  return {
    outageScenarios: positives.length,
    pagesOpenedPerOutage: mean(outages.map((outage) => outage.pagesOpened)),
    pagesSurvivingPerOutage: mean(outages.map((outage) => outage.pagesSurviving)),
    oneIncidentPerOutage: rate(outages, (outage) => outage.pagesSurviving === 1),
    originTop1: rate(outages, (outage) => outage.originTop1),
    originTop1WhenOriginAlerts: rate(outages, (outage) => (outage.originAlerts ? outage.originTop1 : null)),
    originTop1WhenOriginSilent: rate(outages, (outage) => (outage.originAlerts ? null : outage.originTop1)),
    rootServiceTop1: rate(outages, (outage) => outage.rootServiceTop1),
    culpritTop1: rate(outages, (outage) => outage.culpritTop1),
    culpritTop1WithinSixHours: rate(outages, (outage) =>
      outage.culpritLeadMinutes !== null && outage.culpritLeadMinutes <= 360 ? outage.culpritTop1 : null,
    ),
    culpritNamedByStrategy: rate(outages, (outage) => outage.culpritNamed),
    changeNamedWithoutCulprit: rate(outages, (outage) => outage.changeNamedWithoutCulprit),
    originTop1AllOutages: rate(everyOutage, (outage) => outage.originTop1),
    negatives: {
      scenarios: negatives.length,
      passed: rate(negatives, (outcome) => outcome.verdict.pass),
      twoOutagesSeparate: rate(negatives, (outcome) =>
        outcome.negative === 'two-outages' ? outcome.verdict.pass : null,
      ),
      hubBlipHeld: rate(negatives, (outcome) =>
        outcome.negative === 'hub-blip' ? outcome.verdict.pass : null,
      ),
      noiseOpenedNone: rate(negatives, (outcome) =>
        outcome.negative === 'noise-only' ? outcome.verdict.pass : null,
      ),
    },
    signalToIncident: signalToIncident(outcomes),
    unsettledScenarios: outcomes.filter((outcome) => outcome.unsettled).map((outcome) => outcome.id),
  };
}

/**
 * Signal → incident latency over every scenario, one request in flight (the live feed), as the sender
 * sees it. The baseline is the same route in the same run for signals that joined nothing; the ratio
 * compares p99s, since the machine's absolute speed varies.
 */
function signalToIncident(outcomes: readonly ScenarioOutcome[]) {
  const all = (kind: keyof SignalLatencies) => outcomes.flatMap((outcome) => outcome.signalLatencyMs[kind]);
  const opened = summarizeLatencies(all('opened'));
  const joined = summarizeLatencies(all('joined'));
  const none = summarizeLatencies(all('none'));
  const incident = summarizeLatencies([...all('opened'), ...all('joined')]);
  return {
    opened,
    joined,
    incident,
    noIncident: none,
    p99RatioToNoIncident: incident && none ? round(incident.p99 / none.p99, 2) : null,
  };
}

const show = (value: Rate) =>
  value.rate === null ? 'n/a' : `${value.rate.toFixed(2)} (${value.hits}/${value.n})`;
const mark = (value: boolean | null) => (value === null ? '-' : value ? 'yes' : 'NO');

function printReport(
  outcomes: readonly ScenarioOutcome[],
  summary: ReturnType<typeof summarize>,
  parameters: Parameters,
  seconds: number,
): void {
  const plain = {
    style: { head: [], border: [] },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  };
  const table = new Table({
    ...plain,
    head: [
      'scenario',
      'origin (alerts?)',
      'pages',
      'left',
      'investigation says',
      'top-1',
      'rootService',
      'culprit top-1',
      'verdict',
    ],
  });
  for (const outcome of outcomes) {
    const label = outcome.kind === 'negative' ? `${outcome.id} [NEGATIVE: ${outcome.negative}]` : outcome.id;
    if (outcome.outages.length === 0)
      table.push([
        label,
        '-',
        outcome.incidentsOpened,
        outcome.incidentsSurviving,
        '-',
        '-',
        '-',
        '-',
        `${outcome.verdict.pass ? 'pass' : 'FAIL'}: ${outcome.verdict.reason}`,
      ]);
    outcome.outages.forEach((outage, index) => {
      const answer = outage.responder?.answer;
      const says = !outage.responder
        ? 'no incident'
        : !answer
          ? 'no investigation'
          : answer.abstained
            ? 'abstained'
            : (answer.rootCause ?? '?');
      table.push([
        index === 0 ? label : `  … outage ${outage.id}`,
        `${outage.origin} (${outage.originAlerts ? (outage.originLate ? 'late' : 'yes') : 'never'})`,
        outage.pagesOpened,
        outage.pagesSurviving,
        says,
        outage.originTop1 ? 'yes' : 'NO',
        outage.responder?.rootService === undefined ? 'n/a' : (outage.responder.rootService ?? 'null'),
        outage.culpritChange === null
          ? '- (none)'
          : `${mark(outage.culpritTop1)}${outage.culpritLeadMinutes !== null && outage.culpritLeadMinutes > 360 ? ' (>6 h before)' : ''}`,
        index === 0 ? `${outcome.verdict.pass ? 'pass' : 'FAIL'}: ${outcome.verdict.reason}` : '',
      ]);
    });
  }
  process.stdout.write(
    `\nOutages replayed against opx serve (shipped defaults, feed ${parameters.feed}, ${round(seconds, 1)} s)\n` +
      `pages = incidents that held any alert of the outage; left = after following merges\n${table.toString()}\n`,
  );
  const totals = new Table({ ...plain, head: [`outage scenarios (${summary.outageScenarios})`, 'measured'] });
  totals.push(
    ['pages per outage (mean)', String(summary.pagesOpenedPerOutage ?? 'n/a')],
    ['incidents left per outage after merges (mean)', String(summary.pagesSurvivingPerOutage ?? 'n/a')],
    ['outages left as exactly one incident', show(summary.oneIncidentPerOutage)],
    ['origin top-1 (responder incident, current automatic investigation)', show(summary.originTop1)],
    ['  … origin raised alerts of its own', show(summary.originTop1WhenOriginAlerts)],
    ['  … origin never alerted', show(summary.originTop1WhenOriginSilent)],
    ['incident rootService is the origin (when the API has it)', show(summary.rootServiceTop1)],
    ['culprit change top-1 (change-intelligence)', show(summary.culpritTop1)],
    ['  … culprit within 6 h before onset', show(summary.culpritTop1WithinSixHours)],
    ['culprit change named by the strategy', show(summary.culpritNamedByStrategy)],
    ['no causal change recorded, the strategy names one anyway', show(summary.changeNamedWithoutCulprit)],
    [`negative scenarios passed (${summary.negatives.scenarios})`, show(summary.negatives.passed)],
    ['  two outages stayed in separate incidents', show(summary.negatives.twoOutagesSeparate)],
    ['  hub blip stayed out, outage kept its origin', show(summary.negatives.hubBlipHeld)],
    ['  noise opened no incident', show(summary.negatives.noiseOpenedNone)],
    [
      `signal → incident p50 / p99 ms (opened or joined)${parameters.concurrency > 1 ? `, ${parameters.concurrency} servers sharing the machine` : ''}`,
      latencyText(summary.signalToIncident.incident, summary.signalToIncident.p99RatioToNoIncident),
    ],
    ['  … joined an open incident', latencyText(summary.signalToIncident.joined, null)],
    ['  … same route, no incident (baseline)', latencyText(summary.signalToIncident.noIncident, null)],
  );
  process.stdout.write(`\n${totals.toString()}\n`);
  const misses = outcomes.flatMap((outcome) =>
    outcome.outages
      .filter((outage) => outage.miss)
      .map((outage) => `  ${outcome.id}${outcome.outages.length > 1 ? `/${outage.id}` : ''}: ${outage.miss}`),
  );
  if (misses.length > 0) process.stdout.write(`\nOrigin misses:\n${misses.join('\n')}\n`);
  if (summary.unsettledScenarios.length > 0)
    process.stdout.write(
      `\nNot settled within the timeout (scored as found): ${summary.unsettledScenarios.join(', ')}\n`,
    );
}

function writeResults(file: string, results: Record<string, unknown>): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(results, null, 2)}\n`);
  renameSync(temporary, file);
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseFlags(argv, parseParameters, USAGE);
  if (!parsed.ok) return parsed.exitCode;
  const { parameters } = parsed;
  const started = performance.now();
  let scenarios = loadScenarios(parameters.data);
  if (parameters.only) {
    const unknown = parameters.only.filter((id) => !scenarios.some((scenario) => scenario.id === id));
    if (unknown.length > 0) {
      process.stderr.write(`unknown scenario(s): ${unknown.join(', ')}\n\n${USAGE}\n`);
      return 2;
    }
    scenarios = scenarios.filter((scenario) => parameters.only!.includes(scenario.id));
  }
  const stale = staleBuildWarning(parameters.opxRoot);
  if (stale) progress(`warning: ${stale}`);
  progress(
    `${scenarios.length} scenarios (${scenarios.filter((s) => s.kind === 'negative').length} negative), feed ${parameters.feed}, ${parameters.concurrency} at once, opx from ${parameters.opxRoot}`,
  );
  const adminToken = `bench-${randomBytes(16).toString('hex')}`;
  const outcomes: (ScenarioOutcome | undefined)[] = new Array(scenarios.length);
  const failures: string[] = [];
  let next = 0;
  let done = 0;
  const worker = async () => {
    for (;;) {
      const index = next++;
      if (index >= scenarios.length) return;
      const scenario = scenarios[index]!;
      let outcome: ScenarioOutcome;
      try {
        outcome = await runScenario(scenario, parameters, adminToken);
      } catch (error) {
        // The others still run (and clean up after themselves); the run fails at the end.
        failures.push((error as Error).message);
        done += 1;
        progress(`${done}/${scenarios.length} ${scenario.id}: FAILED (see the end of the output)`);
        continue;
      }
      outcomes[index] = outcome;
      done += 1;
      const outages = outcome.outages
        .map(
          (outage) =>
            `${outage.pagesOpened}→${outage.pagesSurviving} page(s), origin ${outage.origin} ${outage.originTop1 ? 'found' : 'MISSED'}`,
        )
        .join('; ');
      progress(
        `${done}/${scenarios.length} ${scenario.id} (${outcome.seconds} s): ${outages || `${outcome.incidentsOpened} incident(s)`}; ${outcome.verdict.pass ? 'pass' : 'FAIL'}: ${outcome.verdict.reason}${outcome.unsettled ? ' [not settled]' : ''}`,
      );
    }
  };
  await Promise.all(Array.from({ length: Math.min(parameters.concurrency, scenarios.length) }, worker));
  const results = outcomes.filter((outcome): outcome is ScenarioOutcome => outcome !== undefined);
  const seconds = (performance.now() - started) / 1000;
  const summary = summarize(results);
  writeResults(parameters.out, {
    bench: 'outages',
    date: new Date().toISOString(),
    opx: {
      root: parameters.opxRoot,
      ...sourceProvenance(parameters.opxRoot),
      built: buildTime(parameters.opxRoot),
      staleBuild: stale ?? null,
    },
    parameters: {
      feed: parameters.feed,
      concurrency: parameters.concurrency,
      data: path.relative(REPO_ROOT, parameters.data) || parameters.data,
      only: parameters.only,
      settings: 'shipped defaults: no rule or setting changed; one opx serve on SQLite per scenario',
      time: 'alert startsAt/endsAt and change times keep the scenario offsets from an onset placed in the recent past; correlation windows read startsAt',
    },
    definitions: {
      pagesOpened: 'incidents that held at least one alert of the outage',
      pagesSurviving: 'those incidents after following mergedInto to the incident they were merged into',
      responderIncident:
        "among the surviving incidents holding the outage's alerts: the one holding an alert of the origin service, else the one holding most of the outage's alerts, then the first detected",
      originTop1:
        "the responder incident's current automatic investigation (currentInvestigationId when the API names it, else its latest completed investigation): response-strategy's probable root cause is the origin; an abstention is a miss",
      culpritTop1: 'change-intelligence ranks the culprit change first and does not abstain',
      changeNamedWithoutCulprit:
        "outages whose report records no causal change (culpritChange null): response-strategy's probable root cause names a change anyway (a false culprit; lower is better)",
      twoOutages:
        'pass when no surviving incident holds alerts distinctive of both outages (a shared caller counts for neither)',
      hubBlip:
        'pass when no surviving incident holds both the outage and the blip, and the outage origin is still top-1',
      noiseOnly: 'pass when no incident opened',
    },
    summary,
    timing: { seconds: round(seconds, 1), node: process.version, cpus: os.cpus().length },
    failedScenarios: failures.length,
    scenarios: results,
  });
  printReport(results, summary, parameters, seconds);
  process.stdout.write(`\nresults: ${path.relative(process.cwd(), parameters.out) || parameters.out}\n`);
  if (failures.length > 0) {
    process.stderr.write(`\n${failures.length} scenario(s) failed to run:\n${failures.join('\n\n')}\n`);
    return 1;
  }
  return 0;
}
