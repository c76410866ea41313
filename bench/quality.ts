import { createHash } from 'node:crypto';
import {
  appendFileSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import Table from 'cli-table3';
import { parseBackstageCatalog } from '../src/catalog/backstage.js';
import { type Config, configSchema } from '../src/config/index.js';
import { DEFAULT_RULES } from '../src/detect/rules.js';
import { changeInputSchema } from '../src/domain/change.js';
import { INCIDENT_SEVERITIES } from '../src/domain/common.js';
import type { EvidenceBundle } from '../src/domain/evidence.js';
import type { Finding } from '../src/domain/finding.js';
import type { Incident } from '../src/domain/incident.js';
import { INVESTIGATE_JOB } from '../src/domain/jobs.js';
import { importHistory, readHistoryDirectory } from '../src/incidents/history.js';
import { ADAPTERS } from '../src/ingest/adapters/index.js';
import { SUSTAINED_SWEEP_MS } from '../src/ingest/sweep.js';
import { runInvestigationJob } from '../src/investigate/jobs.js';
import { importKnowledge, readKnowledgeDirectory } from '../src/knowledge/import.js';
import { openRuntime, type Runtime } from '../src/runtime.js';
import { integerFlag, parseFlags, UsageError } from './support/cli.js';
import { REPO_ROOT } from './support/opx.js';
import { sourceProvenance } from './support/provenance.js';
import {
  asRecord,
  currentInvestigationOf,
  eventSignalIds,
  findingOf,
  mergedIntoOf,
  pagesFor,
  readAnswer,
  responderIncident,
  stringList,
  survivors,
} from './support/responder.js';
import { type Rate, rate, round } from './support/stats.js';
import {
  type AlertRole,
  generateCases,
  type SyntheticCase,
  type SyntheticChange,
} from './support/synthetic.js';

const USAGE = `usage: npm run bench -- quality [flags]

Generates seeded synthetic incidents over examples/topology (a fault in one service, often after a change
on it, spreading to its callers minutes later; noise alerts and unrelated changes around it; quiet windows
with only noise) and feeds each through OPX's real paths on a fresh SQLite store seeded like the demo
(topology, knowledge base, history), with the shipped defaults: alerts through the source adapters and
the ingest pipeline, so correlation opens the incidents; changes through the catalog repository. The
worker is played in the case's own time: whenever an investigation job falls due (its incident opened
10 s earlier, or whatever the shipped settings queue), the worker's job handler runs it before the next
alert arrives, and the queue is drained after the last one. The answer is scored against the known truth.

  --cases <n>        number of cases (default 200)
  --only <ids>       run only these of the generated cases, by id (comma-separated, e.g. case-0007),
                     to look into one; the summary then covers only them
  --seed <n>         generator seed (default 2026, the reporting seed; develop with another, e.g. 1,
                     so that what is reported was not tuned on)
  --umbrella         NOT the shipped defaults: also enable the built-in multi-service-degradation rule
                     (error signals from 3+ services within 10 minutes share one umbrella incident), as
                     this benchmark did by default before
  --out <file>       results file (default bench/results/quality.json)
  --findings <file>  also append {caseId, bundle, findings} of each scored investigation as JSON lines
  --keep             keep the stores (the seeded template and every case's)
  --strict           exit 1 when a target is missed, not only on errors
  -h, --help         this text

Pages: the incidents that held any signal of the fault, and how many are left once an incident merged
into another (mergedInto, when OPX sets it) is followed to the one it was merged into.

Scored investigation: the current automatic investigation (currentInvestigationId when OPX names one,
else the latest completed) of the incident a responder would look at: for a fault, among the incidents
left, the one holding the origin service's own alerts, else the one holding most of the fault's alerts,
then the first detected; for a quiet window, the most severe, then the one holding most signals, then
the first detected. No incident, or no completed investigation on it, counts as an abstention.

Scores (over fault cases unless said otherwise):
  root-cause top-1   the response strategy names the origin service (an abstention is a miss)
  root-cause top-3   the origin is among the first 3 of the strategy's ranked candidates, and it did
                     not abstain
  culprit top-1      cases caused by a recorded change: change-intelligence ranks that change first and
                     does not abstain; also reported: the strategy names it as the culprit
  runbook recall@3   cases whose origin service and origin alert are both listed in some runbook's front
                     matter (services, alerts): such a runbook is among the first 3 distinct documents
                     of the bundle's knowledge ranking (runbooks and postmortems alike), or is the
                     runbook knowledge-rag cites. Also reported: the origin must be the runbook's
                     first (primary) service; and the first 3 runbooks only, postmortems skipped.
  abstention         quiet windows: the strategy says "insufficient evidence" (or no incident opened);
                     false abstention: the same on fault cases

Targets (reported, not asserted): root-cause top-1 >= 0.95, culprit top-1 >= 0.90, runbook recall@3 >= 0.95.`;

const TARGETS = { rootCauseTop1: 0.95, culpritTop1: 0.9, runbookRecallAt3: 0.95 } as const;
const EXAMPLES = path.join(REPO_ROOT, 'examples');
const PRINCIPAL = 'bench:quality';
/** The cases happen on this day (UTC), after the example history ends (2026-11-20). */
const CASE_DAY = Date.UTC(2026, 10, 24);
const PROGRESS_EVERY_MS = 3000;

/** `shipped-defaults`, or `umbrella` when --umbrella also enabled multi-service-degradation. */
type Correlation = 'shipped-defaults' | 'umbrella';

interface Parameters {
  cases: number;
  seed: number;
  correlation: Correlation;
  out: string;
  keep: boolean;
  strict: boolean;
  /** JSON lines of {caseId, bundle, findings} for each scored investigation. */
  findings: string | null;
  /** Case ids to run (--only); null runs every generated case. */
  only: string[] | null;
}

function parseParameters(argv: string[]): Parameters | 'help' {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: argv,
      allowPositionals: false,
      options: {
        cases: { type: 'string' },
        only: { type: 'string' },
        seed: { type: 'string' },
        umbrella: { type: 'boolean', default: false },
        out: { type: 'string' },
        findings: { type: 'string' },
        keep: { type: 'boolean', default: false },
        strict: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return 'help';
  return {
    cases: integerFlag(values.cases as string | undefined, 'cases', 200, 1, 100_000),
    seed: integerFlag(values.seed as string | undefined, 'seed', 2026, 0, 2 ** 31 - 1),
    correlation: values.umbrella ? 'umbrella' : 'shipped-defaults',
    out: path.resolve(
      (values.out as string | undefined) ?? path.join(REPO_ROOT, 'bench', 'results', 'quality.json'),
    ),
    keep: Boolean(values.keep),
    strict: Boolean(values.strict),
    findings: typeof values.findings === 'string' ? path.resolve(values.findings) : null,
    only:
      typeof values.only === 'string'
        ? values.only
            .split(',')
            .map((id) => id.trim())
            .filter(Boolean)
        : null,
  };
}

function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

// ---------------------------------------------------------------------------------------------------
// Inputs: topology, knowledge base, history

interface RunbookMeta {
  path: string;
  services: string[];
  alerts: string[];
}

interface Inputs {
  catalog: ReturnType<typeof loadCatalog>;
  runbooks: RunbookMeta[];
}

function loadCatalog() {
  const parsed = parseBackstageCatalog(
    readFileSync(path.join(EXAMPLES, 'topology', 'catalog-info.yaml'), 'utf8'),
  );
  if (!parsed.ok) throw new Error(`examples/topology/catalog-info.yaml: ${parsed.error.message}`);
  return parsed.services;
}

function loadInputs(): Inputs {
  const catalog = loadCatalog();
  const runbooks = readKnowledgeDirectory(path.join(EXAMPLES, 'kb'))
    .prepared.filter((item) => item.document.kind === 'runbook')
    .map((item) => ({ path: item.path, services: item.document.services, alerts: item.document.alerts }));
  return { catalog, runbooks };
}

const sameAlert = (left: string, right: string) => left.toLowerCase() === right.toLowerCase();

/** A runbook written for this service and alert, by its front matter. */
function relevantRunbook(
  document: { services: readonly string[]; alerts: readonly string[] },
  service: string,
  alert: string,
  strict: boolean,
): boolean {
  const listsService = strict ? document.services[0] === service : document.services.includes(service);
  return listsService && document.alerts.some((name) => sameAlert(name, alert));
}

// ---------------------------------------------------------------------------------------------------
// Stores

function configFor(dataDir: string): Config {
  // Parsed from nothing but the data dir: no environment variable or opx.config.yaml can point the
  // bench at another database.
  return configSchema.parse({ dataDir, logLevel: 'silent' });
}

/** Seeds a store once, the way the demo does; every case starts from a copy of it. */
async function buildTemplate(directory: string, correlation: Correlation, inputs: Inputs): Promise<void> {
  const runtime = await openRuntime(configFor(directory));
  try {
    await runtime.store.services.upsertMany(inputs.catalog);
    const knowledge = readKnowledgeDirectory(path.join(EXAMPLES, 'kb'));
    await runtime.writes.run((scope) => importKnowledge(scope, knowledge.prepared));
    const history = readHistoryDirectory(path.join(EXAMPLES, 'history'));
    await runtime.writes.run((scope) => importHistory(scope, history, PRINCIPAL));
    if (correlation === 'umbrella') {
      const rule = DEFAULT_RULES.find((candidate) => candidate.name === 'multi-service-degradation');
      if (!rule) throw new Error('the built-in multi-service-degradation rule is gone; update the bench');
      await runtime.store.rules.update(rule.name, { ...rule, enabled: true });
    }
  } finally {
    await runtime.close();
  }
}

function copyStore(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const suffix of ['', '-wal']) {
    const file = path.join(from, `opx.db${suffix}`);
    if (existsSync(file)) copyFileSync(file, path.join(to, `opx.db${suffix}`));
  }
}

// ---------------------------------------------------------------------------------------------------
// One case

interface CaseOutcome {
  id: string;
  kind: SyntheticCase['kind'];
  shape: SyntheticCase['shape'];
  truth: SyntheticCase['truth'];
  /** Incidents that held a signal of the fault (pages), and how many are left after merges. */
  pages: { opened: number; surviving: number };
  /** The incident the scored investigation belongs to. */
  incident: {
    title: string;
    services: string[];
    signals: number;
    faultSignals: number;
    noiseSignals: number;
    /** Every incident the case opened, fault or noise. */
    opened: number;
    /** Investigations the worker ran on this incident. */
    investigations: number;
    /** The scored investigation saw every signal the incident holds at the end. */
    investigationSawAllSignals: boolean | null;
    /** Minutes after the onset (or window middle) that the scored investigation ran. */
    investigatedAtMinute: number | null;
  } | null;
  answer: {
    abstained: boolean;
    rootCause: string | null;
    confidence: number;
    candidates: [string, number][];
    /** The strategy's culprit change, described by its role in the case. */
    culprit: string | null;
    /** change-intelligence's top suspect (null when it abstained). */
    topChange: string | null;
    /** What the evidence agents said, compactly: for reading a miss. */
    agents: {
      origins: string[];
      leader: string | null;
      changes: { change: string; score: number; minutesBeforeOnset: number }[];
    };
    causeInBundle: boolean | null;
    knowledgeTop3: string[];
    citedRunbook: string | null;
  } | null;
  score: {
    top1: boolean | null;
    top3: boolean | null;
    culpritTop1: boolean | null;
    culpritNamed: boolean | null;
    /** A fault with no recorded causal change: the strategy named a change as the cause anyway. */
    changeNamedWithoutCulprit: boolean | null;
    runbookCovered: boolean | null;
    runbookAt3: boolean | null;
    runbookAt3Strict: boolean | null;
    runbookAt3RunbooksOnly: boolean | null;
    abstained: boolean;
  };
  /** The investigation's trust score (src/trust/trust.ts); null when no incident was investigated. */
  trust: { score: number; abstain: boolean } | null;
  /** Statements in the findings, and how many the grounding check did not support. */
  grounding: { statements: number; unsupported: number };
  /** How a root-cause miss went wrong. */
  miss: string | null;
  /** Quiet windows: whether the paging noise source was firing when the scored investigation froze its evidence. */
  pagingNoiseFiring: boolean | null;
  ms: { ingest: number; investigate: number; total: number };
}

function describeChange(change: SyntheticChange | undefined): string | null {
  return change ? `${change.role} ${change.kind} ${change.service}` : null;
}

/** Receives each scored case's evidence and findings (`--findings`: the trust benchmark's input). */
type Capture = (caseId: string, bundle: EvidenceBundle, findings: readonly Finding[]) => void;

const WORKER = 'bench:quality:worker';

/**
 * The worker, in the case's own time: claims every investigation job due by `now` and runs it with the
 * worker's own job handler, as `opx serve` would when its clock reads `now`. Returns the time spent.
 */
async function runDueJobs(
  runtime: Runtime,
  now: number,
  ranAt: Map<string, number>,
  /** The case time the worker has reached: a job runs at its due time, or here if due later (wall clock). */
  reached: number = now,
): Promise<number> {
  const started = performance.now();
  const leaseMs = runtime.config.jobLeaseSeconds * 1000;
  for (;;) {
    const job = await runtime.store.jobs.claim(WORKER, [INVESTIGATE_JOB], leaseMs, now);
    if (!job) break;
    try {
      const outcome = await runInvestigationJob(runtime, job, new AbortController().signal);
      if (outcome.kind === 'completed') ranAt.set(outcome.investigationId, Math.min(job.runAt, reached));
    } catch (error) {
      await runtime.store.jobs.fail(job.id, WORKER, (error as Error).message, now + 60_000, now);
      throw new Error(`investigation job ${job.id} failed: ${(error as Error).message}`);
    }
    await runtime.store.jobs.complete(job.id, WORKER, now);
  }
  return performance.now() - started;
}

async function runCase(
  runtime: Runtime,
  scenario: SyntheticCase,
  inputs: Inputs,
  capture?: Capture,
): Promise<Omit<CaseOutcome, 'ms'> & { ingestMs: number; investigateMs: number }> {
  const caseStarted = performance.now();
  let investigateMs = 0;
  /** Case time at which each investigation ran. */
  const ranAt = new Map<string, number>();
  const episodeRole = new Map(scenario.episodes.map((episode) => [episode.ref, episode.role]));
  const signalRole = new Map<string, AlertRole>();
  const changeRef = new Map<string, SyntheticChange>();
  const opened = new Set<string>();
  const events = [
    ...scenario.deliveries.map((delivery) => ({ at: delivery.at, delivery, change: undefined })),
    ...scenario.changes.map((change) => ({ at: change.recordedAt, delivery: undefined, change })),
  ].sort((a, b) => a.at - b.at);
  const lastAlertAt = scenario.deliveries.at(-1)?.at ?? scenario.investigateAt;
  // The worker's sweep for sustained signals, every SUSTAINED_SWEEP_MS of case time, each after the
  // investigations due by then, as `opx serve` runs it.
  let sweptAt = events[0]?.at ?? scenario.investigateAt;
  const sweepUntil = async (until: number) => {
    while (sweptAt + SUSTAINED_SWEEP_MS <= until) {
      const at = sweptAt + SUSTAINED_SWEEP_MS;
      sweptAt = at;
      investigateMs += await runDueJobs(runtime, at, ranAt);
      const swept = await runtime.writes.run((scope) => runtime.ingest.sweepSustained(scope, at));
      for (const id of swept.incidentsCreated) opened.add(id);
    }
  };
  for (const event of events) {
    await sweepUntil(event.at);
    // Investigations due before this arrives run first, on what the store holds by then.
    investigateMs += await runDueJobs(runtime, event.at, ranAt);
    if (event.delivery) {
      const { delivery } = event;
      const parsed = ADAPTERS[delivery.format](delivery.body, { now: delivery.at });
      if (!parsed.ok)
        throw new Error(
          `${scenario.id}: the ${delivery.format} adapter refused a body: ${parsed.error.message}`,
        );
      const result = await runtime.writes.run((scope) =>
        runtime.ingest.ingestInScope(scope, parsed.signals, PRINCIPAL, delivery.at),
      );
      for (const outcome of result.signals)
        if (outcome.id) signalRole.set(outcome.id, episodeRole.get(delivery.episode)!);
      for (const id of result.incidentsCreated) opened.add(id);
    } else if (event.change) {
      const { change } = event;
      const input = changeInputSchema.parse({
        kind: change.kind,
        service: change.service,
        environment: 'prod',
        ...(change.versionFrom ? { versionFrom: change.versionFrom } : {}),
        ...(change.versionTo ? { versionTo: change.versionTo } : {}),
        author: change.author,
        summary: change.summary,
        startedAt: change.startedAt,
        finishedAt: change.finishedAt,
        externalId: `${scenario.id}:${change.ref}`,
        source: 'ci',
      });
      const [recorded] = await runtime.writes.run((scope) =>
        runtime.ingest.recordChanges(scope, [input], change.recordedAt),
      );
      changeRef.set(recorded!.change.id, change);
    }
  }
  // Nothing more arrives: the worker runs whatever is still queued. An hour covers any delay the shipped
  // settings allow, in case time or, for a job scheduled on the wall clock, in real time.
  const caseEnd = Math.max(scenario.investigateAt, lastAlertAt);
  await sweepUntil(caseEnd);
  investigateMs += await runDueJobs(runtime, Math.max(caseEnd, Date.now()) + 3_600_000, ranAt, caseEnd);
  const ingestMs = performance.now() - caseStarted - investigateMs;
  const paging = scenario.shape.pagingNoise;
  const pagingEpisodes = new Set(
    scenario.episodes.filter((episode) => episode.service === paging?.service).map((episode) => episode.ref),
  );

  // Pages, merges, and the incident a responder would look at.
  const incidents = new Map<string, Incident>();
  const held = new Map<string, string[]>();
  const ever = new Map<string, string[]>();
  for (const id of opened) {
    incidents.set(id, (await runtime.store.incidents.get(id))!);
    held.set(id, await runtime.store.incidents.signalIds(id));
    ever.set(
      id,
      (await runtime.store.incidents.events(id)).flatMap((event) => eventSignalIds(event.data)),
    );
  }
  type Role = 'fault' | 'noise';
  const roleOf = (signal: string): Role | null => {
    const role = signalRole.get(signal);
    return role === undefined ? null : role === 'noise' ? 'noise' : 'fault';
  };
  const groups = survivors(
    [...incidents.values()].map((incident) => ({ id: incident.id, mergedInto: mergedIntoOf(incident) })),
    (id) => (held.get(id) ?? []).map((signal) => ({ id: signal, role: roleOf(signal) })),
    (id) => (ever.get(id) ?? []).map((signal) => ({ id: signal, role: roleOf(signal) })),
  );
  const faultPages = pagesFor(groups, 'fault');
  const survivorIds = [...new Set([...groups.survivor.values()])];
  for (const id of survivorIds)
    if (!incidents.has(id)) incidents.set(id, (await runtime.store.incidents.get(id))!);
  const serviceOf = new Map<string, string>();
  for (const signal of await runtime.store.signals.getMany([...signalRole.keys()]))
    serviceOf.set(signal.id, signal.service);
  const heldBy = (id: string, role: Role) => groups.holdings.get(id)?.get(role)?.size ?? 0;
  const heldAll = (id: string) => [...(groups.holdings.get(id)?.values() ?? [])].flatMap((set) => [...set]);

  const rootCause = scenario.truth.rootCause;
  const isFault = scenario.kind === 'fault';
  const severityRank = (incident: Incident) => INCIDENT_SEVERITIES.indexOf(incident.severity);
  const chosenId = isFault
    ? responderIncident(
        faultPages.surviving.map((id) => ({
          id,
          detectedAt: incidents.get(id)!.detectedAt,
          holdsOrigin: heldAll(id).some((signal) => serviceOf.get(signal) === rootCause),
          outageSignals: heldBy(id, 'fault'),
        })),
      )?.id
    : survivorIds
        .filter((id) => heldAll(id).length > 0)
        .sort(
          (a, b) =>
            severityRank(incidents.get(a)!) - severityRank(incidents.get(b)!) ||
            heldAll(b).length - heldAll(a).length ||
            incidents.get(a)!.detectedAt - incidents.get(b)!.detectedAt ||
            a.localeCompare(b),
        )[0];
  const chosen = chosenId ? incidents.get(chosenId)! : undefined;
  const investigations = chosen ? await runtime.store.investigations.forIncident(chosen.id) : [];
  const named = chosen ? currentInvestigationOf(chosen) : undefined;
  const investigation = named
    ? investigations.find((candidate) => candidate.id === named)
    : investigations.find((candidate) => candidate.status === 'completed');
  const bundle =
    investigation?.status === 'completed' && investigation.bundleId
      ? await runtime.store.evidence.getBundle(investigation.bundleId)
      : undefined;

  // Quiet windows: whether the paging noise was firing when the scored investigation froze its evidence.
  const frozenAt = investigation
    ? (ranAt.get(investigation.id) ?? Number.POSITIVE_INFINITY)
    : Number.POSITIVE_INFINITY;
  const pagingNoiseFiring = paging
    ? scenario.deliveries
        .filter((delivery) => pagingEpisodes.has(delivery.episode) && delivery.at <= frozenAt)
        .at(-1)?.status === 'firing'
    : null;

  const culpritChange = [...changeRef.entries()].find(([, change]) => change.role === 'cause')?.[0] ?? null;
  const truth = scenario.truth;
  const originAlert = scenario.truth.originAlert;
  const runbookCovered =
    isFault && rootCause && originAlert
      ? inputs.runbooks.some((runbook) => relevantRunbook(runbook, rootCause, originAlert, false))
      : null;
  const pages = { opened: faultPages.opened.length, surviving: faultPages.surviving.length };
  const incidentSummary = chosen
    ? {
        title: chosen.title,
        services: chosen.services,
        signals: heldAll(chosen.id).length,
        faultSignals: heldBy(chosen.id, 'fault'),
        noiseSignals: heldBy(chosen.id, 'noise'),
        opened: opened.size,
        investigations: investigations.length,
        investigationSawAllSignals: bundle ? bundle.signals.length >= heldAll(chosen.id).length : null,
        investigatedAtMinute: Number.isFinite(frozenAt)
          ? round((frozenAt - scenario.onset) / 60_000, 1)
          : null,
      }
    : null;
  if (!chosen || !investigation || !bundle) {
    // Nothing opened, or nothing investigated it: OPX stayed silent. Right for a quiet window, a miss for a fault.
    return {
      id: scenario.id,
      kind: scenario.kind,
      shape: scenario.shape,
      truth,
      pages,
      incident: incidentSummary,
      answer: null,
      score: {
        top1: isFault ? false : null,
        top3: isFault ? false : null,
        culpritTop1: culpritChange ? false : null,
        culpritNamed: culpritChange ? false : null,
        changeNamedWithoutCulprit: null,
        runbookCovered,
        runbookAt3: runbookCovered ? false : null,
        runbookAt3Strict: runbookCovered ? false : null,
        runbookAt3RunbooksOnly: runbookCovered ? false : null,
        abstained: true,
      },
      trust: null,
      grounding: { statements: 0, unsupported: 0 },
      miss: isFault ? (chosen ? 'no completed automatic investigation' : 'no incident opened') : null,
      pagingNoiseFiring,
      ingestMs,
      investigateMs,
    };
  }

  const findings = investigation.findings;
  capture?.(scenario.id, bundle, findings);
  const answer = readAnswer(findings);
  const abstained = answer.abstained;
  const answered = answer.rootCause;
  const candidateVotes = answer.candidates;
  const top3 = abstained ? [] : candidateVotes.slice(0, 3).map(([service]) => service);
  const namedChangeId = answer.namedChangeId;
  const topChangeId = answer.topChangeId;
  const ranked = answer.rankedChanges;

  const documents: {
    documentId: string;
    path: string;
    kind: string;
    services: string[];
    alerts: string[];
  }[] = [];
  for (const section of bundle.knowledge) {
    if (!documents.some((document) => document.documentId === section.documentId)) documents.push(section);
  }
  const top3Documents = documents.slice(0, 3);
  const knowledge = findingOf(findings, 'knowledge-rag');
  const citedPath = asRecord(asRecord(knowledge?.data).runbook).path;
  const cited = typeof citedPath === 'string' ? citedPath : null;
  const runbookHit = (strict: boolean): boolean | null => {
    if (!runbookCovered || !rootCause || !originAlert) return null;
    const relevant = (document: { kind: string; services: readonly string[]; alerts: readonly string[] }) =>
      document.kind === 'runbook' && relevantRunbook(document, rootCause, originAlert, strict);
    if (top3Documents.some(relevant)) return true;
    const citedRunbook = cited ? inputs.runbooks.find((runbook) => runbook.path === cited) : undefined;
    return citedRunbook ? relevant({ kind: 'runbook', ...citedRunbook }) : false;
  };

  const top1 = isFault ? answered === rootCause : null;
  let miss: string | null = null;
  if (isFault && !top1) {
    const role = (service: string) => {
      const roles = new Set(
        bundle.signals
          .filter((signal) => signal.service === service)
          .map((signal) => signalRole.get(signal.id)),
      );
      if (roles.has('cascade')) return 'a caller that alerted (cascade)';
      if (roles.has('noise')) return 'a service with noise alerts';
      if ([...changeRef.values()].some((change) => change.service === service))
        return 'a service with an unrelated change';
      return 'another service';
    };
    const where = bundle.signals.some((signal) => signal.service === rootCause)
      ? 'origin in the incident'
      : 'origin not in the incident';
    miss = abstained ? `abstained (${where})` : answered ? `named ${role(answered)}; ${where}` : 'no answer';
  }
  return {
    id: scenario.id,
    kind: scenario.kind,
    shape: scenario.shape,
    truth,
    pages,
    incident: incidentSummary,
    answer: {
      abstained,
      rootCause: answered,
      confidence: answer.confidence,
      candidates: candidateVotes.slice(0, 5),
      culprit: describeChange(namedChangeId ? changeRef.get(namedChangeId) : undefined),
      topChange: describeChange(topChangeId ? changeRef.get(topChangeId) : undefined),
      agents: {
        origins: stringList(asRecord(findingOf(findings, 'risk-blast-radius')?.data).origins),
        leader: ((): string | null => {
          const onsets = asRecord(findingOf(findings, 'signal-intelligence')?.data).onsets;
          const first = Array.isArray(onsets) ? asRecord(onsets[0]).service : undefined;
          return typeof first === 'string' ? first : null;
        })(),
        changes: ranked.slice(0, 3).map((suspect) => {
          const known = changeRef.get(suspect.changeId);
          const entry = ranked.find((candidate) => candidate.changeId === suspect.changeId);
          return {
            change: describeChange(known) ?? `history change ${suspect.changeId}`,
            score: entry?.score ?? 0,
            minutesBeforeOnset: entry?.minutesBeforeOnset ?? 0,
          };
        }),
      },
      causeInBundle: culpritChange ? bundle.changes.some((change) => change.id === culpritChange) : null,
      knowledgeTop3: top3Documents.map((document) => document.path),
      citedRunbook: cited,
    },
    score: {
      top1,
      top3: isFault ? rootCause !== null && top3.includes(rootCause) : null,
      culpritTop1: culpritChange ? topChangeId === culpritChange : null,
      culpritNamed: culpritChange ? namedChangeId === culpritChange : null,
      changeNamedWithoutCulprit: isFault && !culpritChange ? namedChangeId !== null : null,
      runbookCovered,
      runbookAt3: runbookHit(false),
      runbookAt3Strict: runbookHit(true),
      runbookAt3RunbooksOnly: runbookCovered
        ? documents
            .filter((document) => document.kind === 'runbook')
            .slice(0, 3)
            .some((document) => relevantRunbook(document, rootCause!, originAlert!, false))
        : null,
      abstained,
    },
    trust: answer.trust,
    grounding: {
      statements: findings.reduce((sum, finding) => sum + (finding.grounding?.statements ?? 0), 0),
      unsupported: findings.reduce((sum, finding) => sum + (finding.grounding?.unsupported.length ?? 0), 0),
    },
    miss,
    pagingNoiseFiring,
    ingestMs,
    investigateMs,
  };
}

// ---------------------------------------------------------------------------------------------------
// Scores

function summarize(outcomes: readonly CaseOutcome[]) {
  const faults = outcomes.filter((outcome) => outcome.kind === 'fault');
  const quiet = outcomes.filter((outcome) => outcome.kind === 'quiet');
  // Fault cases that paged at all: pages per fault are counted over these.
  const paged = faults.filter((outcome) => outcome.pages.opened > 0);
  return {
    rootCauseTop1: rate(faults, (outcome) => outcome.score.top1),
    rootCauseTop1Investigated: rate(faults, (outcome) => (outcome.incident ? outcome.score.top1 : null)),
    rootCauseTop3: rate(faults, (outcome) => outcome.score.top3),
    culpritTop1: rate(faults, (outcome) => outcome.score.culpritTop1),
    culpritNamedByStrategy: rate(faults, (outcome) => outcome.score.culpritNamed),
    changeNamedWithoutCulprit: rate(faults, (outcome) => outcome.score.changeNamedWithoutCulprit),
    runbookRecallAt3: rate(faults, (outcome) => outcome.score.runbookAt3),
    runbookRecallAt3Strict: rate(faults, (outcome) => outcome.score.runbookAt3Strict),
    runbookRecallAt3RunbooksOnly: rate(faults, (outcome) => outcome.score.runbookAt3RunbooksOnly),
    correctAbstention: rate(quiet, (outcome) => outcome.score.abstained),
    falseAbstention: rate(faults, (outcome) => outcome.score.abstained),
    faultIncidentOpened: rate(faults, (outcome) => outcome.incident !== null),
    quietIncidentOpened: rate(quiet, (outcome) => outcome.incident !== null),
    pagesPerFault: meanOf(paged.map((outcome) => outcome.pages.opened)),
    pagesLeftPerFault: meanOf(paged.map((outcome) => outcome.pages.surviving)),
    faultOneIncident: rate(paged, (outcome) => outcome.pages.surviving === 1),
    pagesDistribution: {
      opened: bucket(paged.map((outcome) => outcome.pages.opened)),
      surviving: bucket(paged.map((outcome) => outcome.pages.surviving)),
    },
  };
}

const meanOf = (values: readonly number[]) =>
  values.length === 0 ? null : round(values.reduce((sum, value) => sum + value, 0) / values.length, 2);

/** Fault cases by pages: 1, 2, 3, 4 and 5+. */
function bucket(values: readonly number[]): Record<string, number> {
  const out: Record<string, number> = { '1': 0, '2': 0, '3': 0, '4': 0, '5+': 0 };
  for (const value of values) {
    const key = value >= 5 ? '5+' : String(value);
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

/** Quiet windows grouped by the noise source that opened their incident. */
function quietBreakdown(outcomes: readonly CaseOutcome[]) {
  const quiet = outcomes.filter((outcome) => outcome.kind === 'quiet');
  const key = (outcome: CaseOutcome) =>
    `${outcome.shape.pagingNoise?.kind ?? '-'}, ${outcome.pagingNoiseFiring ? 'firing' : 'not firing'} when frozen`;
  return [...new Set(quiet.map(key))].sort().map((value) => {
    const members = quiet.filter((outcome) => key(outcome) === value);
    return {
      pagingNoise: value,
      cases: members.length,
      correctAbstention: rate(members, (outcome) => outcome.score.abstained),
    };
  });
}

/** Fault cases grouped by one property of their shape. */
function breakdown(outcomes: readonly CaseOutcome[]) {
  const faults = outcomes.filter((outcome) => outcome.kind === 'fault');
  const groups: [string, (outcome: CaseOutcome) => string][] = [
    ['origin class', (outcome) => outcome.shape.originClass ?? '-'],
    [
      'cause',
      (outcome) => (outcome.truth.cause === 'none' ? 'no change' : `change (${outcome.truth.cause})`),
    ],
    [
      'services alerting',
      (outcome) => (outcome.shape.faultServices >= 3 ? '3+' : String(outcome.shape.faultServices)),
    ],
    ['origin alerts late', (outcome) => (outcome.shape.lateOrigin ? 'yes' : 'no')],
    ['noise sources', (outcome) => (outcome.shape.noiseSources === 0 ? '0' : '1+')],
    ['unrelated change < 40 min before', (outcome) => (outcome.shape.decoysNearOnset > 0 ? 'yes' : 'no')],
    [
      'cause lead',
      (outcome) => {
        const lead = outcome.shape.causeLeadMinutes;
        return lead === null ? 'no change' : lead < 25 ? '< 25 min' : lead < 60 ? '25–60 min' : '≥ 60 min';
      },
    ],
  ];
  const rows: {
    group: string;
    value: string;
    cases: number;
    top1: Rate;
    top3: Rate;
    culprit: Rate;
    runbook: Rate;
    abstained: Rate;
  }[] = [];
  for (const [group, key] of groups) {
    const values = [...new Set(faults.map(key))].sort();
    for (const value of values) {
      const members = faults.filter((outcome) => key(outcome) === value);
      rows.push({
        group,
        value,
        cases: members.length,
        top1: rate(members, (outcome) => outcome.score.top1),
        top3: rate(members, (outcome) => outcome.score.top3),
        culprit: rate(members, (outcome) => outcome.score.culpritTop1),
        runbook: rate(members, (outcome) => outcome.score.runbookAt3),
        abstained: rate(members, (outcome) => outcome.score.abstained),
      });
    }
  }
  return rows;
}

function count<T>(items: readonly T[], key: (item: T) => string | null): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of items) {
    const value = key(item);
    if (value !== null) out[value] = (out[value] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(out).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
}

const show = (value: Rate) =>
  value.rate === null ? 'n/a' : `${value.rate.toFixed(2)} (${value.hits}/${value.n})`;
const showShort = (value: Rate) => (value.rate === null ? '-' : value.rate.toFixed(2));

function printReport(
  summary: ReturnType<typeof summarize>,
  rows: ReturnType<typeof breakdown>,
  quietRows: ReturnType<typeof quietBreakdown>,
  outcomes: readonly CaseOutcome[],
  parameters: Parameters,
  seconds: number,
): void {
  const plain = {
    style: { head: [], border: [] },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  };
  const verdict = (value: Rate, target: number) =>
    value.rate === null ? '' : value.rate >= target ? 'meets target' : 'MISSES target';
  const table = new Table({ ...plain, head: ['score', 'measured (hits/n)', 'target', ''] });
  table.push(
    [
      'root-cause service top-1',
      show(summary.rootCauseTop1),
      `≥ ${TARGETS.rootCauseTop1}`,
      verdict(summary.rootCauseTop1, TARGETS.rootCauseTop1),
    ],
    ['  … of fault cases that opened an incident', show(summary.rootCauseTop1Investigated), '', ''],
    ['root-cause service top-3', show(summary.rootCauseTop3), '', ''],
    [
      'culprit change top-1 (change-intelligence)',
      show(summary.culpritTop1),
      `≥ ${TARGETS.culpritTop1}`,
      verdict(summary.culpritTop1, TARGETS.culpritTop1),
    ],
    ['culprit change named by the strategy', show(summary.culpritNamedByStrategy), '', ''],
    [
      'fault with no causal change recorded, a change named anyway (lower is better)',
      show(summary.changeNamedWithoutCulprit),
      '',
      '',
    ],
    [
      'runbook recall@3',
      show(summary.runbookRecallAt3),
      `≥ ${TARGETS.runbookRecallAt3}`,
      verdict(summary.runbookRecallAt3, TARGETS.runbookRecallAt3),
    ],
    ['runbook recall@3, primary service only', show(summary.runbookRecallAt3Strict), '', ''],
    ['runbook recall@3, runbooks only', show(summary.runbookRecallAt3RunbooksOnly), '', ''],
    ['correct abstention (quiet windows)', show(summary.correctAbstention), '', ''],
    ['false abstention (fault cases)', show(summary.falseAbstention), '', ''],
    ['fault cases that opened an incident', show(summary.faultIncidentOpened), '', ''],
    ['  incidents per fault (pages, mean)', String(summary.pagesPerFault ?? 'n/a'), '', ''],
    ['  … left after merges (mean)', String(summary.pagesLeftPerFault ?? 'n/a'), '', ''],
    ['  faults left as exactly one incident', show(summary.faultOneIncident), '', ''],
    ['quiet windows that opened an incident', show(summary.quietIncidentOpened), '', ''],
  );
  process.stdout.write(
    `\nQuality on ${outcomes.length} synthetic cases (seed ${parameters.seed}, correlation ${parameters.correlation}, ${round(seconds, 1)} s)\n${table.toString()}\n`,
  );
  const shapes = new Table({
    ...plain,
    head: ['fault cases by', '', 'cases', 'top-1', 'top-3', 'culprit', 'runbook@3', 'abstained'],
  });
  for (const row of rows)
    shapes.push([
      row.group,
      row.value,
      row.cases,
      showShort(row.top1),
      showShort(row.top3),
      showShort(row.culprit),
      showShort(row.runbook),
      showShort(row.abstained),
    ]);
  process.stdout.write(`\n${shapes.toString()}\n`);
  const quietTable = new Table({
    ...plain,
    head: ['quiet windows by paging noise', 'cases', 'correct abstention'],
  });
  for (const row of quietRows) quietTable.push([row.pagingNoise, row.cases, show(row.correctAbstention)]);
  process.stdout.write(`\n${quietTable.toString()}\n`);
  const misses = count(outcomes, (outcome) => outcome.miss);
  if (Object.keys(misses).length > 0) {
    process.stdout.write('\nRoot-cause misses:\n');
    for (const [reason, n] of Object.entries(misses))
      process.stdout.write(`  ${String(n).padStart(4)}  ${reason}\n`);
  }
}

/** Pretty JSON, except one line per case: the file stays readable and diffable at a few hundred cases. */
function writeResults(file: string, results: Record<string, unknown> & { cases: unknown[] }): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const { cases, ...head } = results;
  const marker = '"@cases@"';
  const text = JSON.stringify({ ...head, cases: '@cases@' }, null, 2).replace(
    marker,
    cases.length === 0 ? '[]' : `[\n${cases.map((item) => `    ${JSON.stringify(item)}`).join(',\n')}\n  ]`,
  );
  const temporary = `${file}.tmp`;
  writeFileSync(temporary, `${text}\n`);
  renameSync(temporary, file);
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseFlags(argv, parseParameters, USAGE);
  if (!parsed.ok) return parsed.exitCode;
  const { parameters } = parsed;

  const started = performance.now();
  // Taken before any case runs: the code measured is the code loaded now.
  const source = sourceProvenance(REPO_ROOT);
  const inputs = loadInputs();
  // The cases' day must lie in the past: investigations read the store as of now.
  const day = Math.min(CASE_DAY, Math.floor((Date.now() - 2 * 86_400_000) / 86_400_000) * 86_400_000);
  const generated = generateCases(inputs.catalog, parameters.cases, { seed: parameters.seed, day });
  const only = parameters.only;
  const unknown = only?.filter((id) => !generated.some((item) => item.id === id)) ?? [];
  if (unknown.length > 0) {
    process.stderr.write(
      `--only: no such case among the ${generated.length} generated: ${unknown.join(', ')}\n`,
    );
    return 2;
  }
  const cases = only ? generated.filter((item) => only.includes(item.id)) : generated;
  const digest = createHash('sha256').update(JSON.stringify(cases)).digest('hex');
  const faults = cases.filter((item) => item.kind === 'fault').length;
  progress(
    `[quality] ${cases.length} cases (${faults} faults, ${cases.length - faults} quiet windows), seed ${parameters.seed}, generator digest ${digest.slice(0, 12)}`,
  );

  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'opx-bench-quality-'));
  const templateDir = path.join(dataDir, 'template');
  const outcomes: CaseOutcome[] = [];
  let keep = parameters.keep;
  try {
    const templateStarted = performance.now();
    await buildTemplate(templateDir, parameters.correlation, inputs);
    progress(
      `[quality] template store seeded in ${Math.round(performance.now() - templateStarted)} ms (topology, knowledge base, history${parameters.correlation === 'umbrella' ? ', multi-service-degradation enabled' : ''})`,
    );
    let lastProgress = performance.now();
    for (const scenario of cases) {
      const caseStarted = performance.now();
      const caseDir = path.join(dataDir, scenario.id);
      copyStore(templateDir, caseDir);
      const runtime = await openRuntime(configFor(caseDir));
      let outcome: Awaited<ReturnType<typeof runCase>>;
      try {
        outcome = await runCase(
          runtime,
          scenario,
          inputs,
          parameters.findings
            ? (caseId, bundle, findings) =>
                appendFileSync(parameters.findings!, `${JSON.stringify({ caseId, bundle, findings })}\n`)
            : undefined,
        );
      } catch (error) {
        keep = true;
        throw new Error(
          `${scenario.id} failed (its store is kept in ${caseDir}): ${(error as Error).stack ?? error}`,
        );
      } finally {
        await runtime.close();
      }
      if (!parameters.keep) rmSync(caseDir, { recursive: true, force: true });
      const { ingestMs, investigateMs, ...rest } = outcome;
      outcomes.push({
        ...rest,
        ms: {
          ingest: Math.round(ingestMs),
          investigate: Math.round(investigateMs),
          total: Math.round(performance.now() - caseStarted),
        },
      });
      if (performance.now() - lastProgress >= PROGRESS_EVERY_MS || outcomes.length === cases.length) {
        lastProgress = performance.now();
        const sofar = summarize(outcomes);
        progress(
          `[quality] ${outcomes.length}/${cases.length} cases, ${round((performance.now() - started) / 1000, 1)} s: ` +
            `top-1 ${showShort(sofar.rootCauseTop1)}, culprit ${showShort(sofar.culpritTop1)}, ` +
            `runbook@3 ${showShort(sofar.runbookRecallAt3)}, correct abstention ${showShort(sofar.correctAbstention)}`,
        );
      }
    }
  } finally {
    if (keep) progress(`[quality] kept ${dataDir}`);
    else rmSync(dataDir, { recursive: true, force: true });
  }

  const seconds = (performance.now() - started) / 1000;
  const summary = summarize(outcomes);
  const rows = breakdown(outcomes);
  const quietRows = quietBreakdown(outcomes);
  const targets = {
    rootCauseTop1: { target: TARGETS.rootCauseTop1, measured: summary.rootCauseTop1.rate },
    culpritTop1: { target: TARGETS.culpritTop1, measured: summary.culpritTop1.rate },
    runbookRecallAt3: { target: TARGETS.runbookRecallAt3, measured: summary.runbookRecallAt3.rate },
  };
  const missed = Object.values(targets).filter(
    (entry) => entry.measured === null || entry.measured < entry.target,
  );
  const perCase = outcomes.map((outcome) => outcome.ms.total);
  writeResults(parameters.out, {
    bench: 'quality',
    date: new Date().toISOString(),
    source,
    parameters: {
      cases: parameters.cases,
      ...(parameters.only ? { only: parameters.only } : {}),
      seed: parameters.seed,
      correlation: parameters.correlation,
      settings:
        parameters.correlation === 'umbrella'
          ? 'shipped defaults, plus the built-in multi-service-degradation rule enabled (--umbrella)'
          : 'shipped defaults: no rule or setting changed',
      caseDay: new Date(day).toISOString().slice(0, 10),
      generatorDigest: digest,
      topology: 'examples/topology/catalog-info.yaml',
      knowledge: 'examples/kb',
      history: 'examples/history',
    },
    definitions: {
      rootCauseTop1:
        "fault cases: response-strategy's probableRootCause.service is the origin; an abstention is a miss",
      rootCauseTop1Investigated:
        'rootCauseTop1 over the fault cases where an incident holding fault signals opened',
      rootCauseTop3:
        "fault cases: the origin is among the first 3 of response-strategy's ranked candidates, and it did not abstain",
      culpritTop1:
        'fault cases caused by a recorded change: change-intelligence ranks that change first and does not abstain',
      culpritNamedByStrategy: "the same cases: response-strategy's probableRootCause.changeId is that change",
      changeNamedWithoutCulprit:
        "fault cases not caused by a recorded change that were investigated: response-strategy's probableRootCause.changeId names a change anyway (a false culprit; lower is better)",
      runbookRecallAt3:
        "fault cases whose origin service and origin alert are both listed in some runbook's front matter " +
        '(services, alerts): such a runbook is among the first 3 distinct documents of the bundle knowledge ranking ' +
        '(runbooks and postmortems alike), or is the runbook knowledge-rag cites',
      runbookRecallAt3Strict:
        'as runbookRecallAt3, but the origin must be the runbook’s first (primary) service',
      runbookRecallAt3RunbooksOnly:
        'as runbookRecallAt3, counting only the first 3 runbooks of the ranking (postmortems skipped, citation ignored)',
      correctAbstention:
        'quiet windows: response-strategy says insufficient evidence, or no incident opened (nothing to investigate)',
      falseAbstention:
        'fault cases: response-strategy says insufficient evidence, or no incident holds the fault',
      pages:
        'incidents that held a signal of the fault (from their timelines), and how many are left after following mergedInto',
      scoredInvestigation:
        'the current automatic investigation (currentInvestigationId when OPX names one, else the latest completed) of the incident a responder would look at; ' +
        "the worker's job handler runs each investigation job when it falls due in the case's own time",
      responderIncident:
        "fault: among the incidents left after merges, the one holding an alert of the origin service, else the one holding most of the fault's alerts, then the first detected; " +
        'quiet: the most severe, then the one holding most signals, then the first detected',
    },
    targets,
    summary,
    breakdown: rows,
    quietBreakdown: quietRows,
    missReasons: count(outcomes, (outcome) => outcome.miss),
    timing: {
      seconds: round(seconds, 1),
      perCaseMs: {
        mean: round(perCase.reduce((sum, value) => sum + value, 0) / Math.max(1, perCase.length), 1),
        max: Math.max(0, ...perCase),
      },
      node: process.version,
      cpus: os.cpus().length,
    },
    // Every case's truth and scores; what OPX answered only where it missed something, to keep the file small.
    cases: outcomes.map((outcome) => {
      const missed =
        outcome.score.top1 === false ||
        outcome.score.culpritTop1 === false ||
        outcome.score.runbookAt3 === false ||
        (outcome.kind === 'quiet' && !outcome.score.abstained);
      const { answer, incident, ...rest } = outcome;
      return missed ? outcome : rest;
    }),
  });
  printReport(summary, rows, quietRows, outcomes, parameters, seconds);
  process.stdout.write(`\nresults: ${path.relative(process.cwd(), parameters.out) || parameters.out}\n`);
  return parameters.strict && missed.length > 0 ? 1 : 0;
}
