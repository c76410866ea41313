import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import Table from 'cli-table3';
import { parseBackstageCatalog } from '../src/catalog/backstage.js';
import { OpxClient } from '../src/client/index.js';
import { configSchema } from '../src/config/index.js';
import type { EvidenceBundle } from '../src/domain/evidence.js';
import type { Finding } from '../src/domain/finding.js';
import { type HistoryFiles, importHistory, readHistoryDirectory } from '../src/incidents/history.js';
import { analyzeChanges } from '../src/investigate/agents/change-intelligence.js';
import { analyzeHistory } from '../src/investigate/agents/historical-pattern.js';
import { analyzeKnowledge } from '../src/investigate/agents/knowledge-rag.js';
import { respond } from '../src/investigate/agents/response-strategy.js';
import { analyzeBlastRadius } from '../src/investigate/agents/risk-blast-radius.js';
import { analyzeSignals } from '../src/investigate/agents/signal-intelligence.js';
import { investigateIncident } from '../src/investigate/service.js';
import { importKnowledge, readKnowledgeDirectory } from '../src/knowledge/import.js';
import { openRuntime, type Runtime } from '../src/runtime.js';
import { openStore } from '../src/store/store.js';
import { seededRandom } from './support/alerts.js';
import { integerFlag, parseFlags, readArgs } from './support/cli.js';
import { REPO_ROOT, staleBuildWarning, startOpx } from './support/opx.js';
import { type LatencySummary, round, summarizeLatencies, thousands } from './support/stats.js';

const USAGE = `usage: npm run bench -- investigate [flags]

Measures the investigation engine on a store with a realistic past: the example topology, runbooks and
postmortems, plus generated history (past incidents with their resolved signals, and changes).

  1. latency: one deterministic, checkpointed investigation at a time (freeze evidence, six agents on
     LangGraph with the SQLite/PostgreSQL checkpointer, persist findings, recommendations and events);
     the baseline is the six agents called as plain functions on the same frozen bundle, in the same run.
  2. load: a real \`opx serve\` (in-process worker) receives one alert batch for each of N new incidents
     at once over HTTP; reported is the wall time until every incident has its investigation, and a
     check that none was lost or run twice.

  --samples <n>            investigations timed in phase 1 (default 200)
  --warmup <n>             untimed investigations first (default 20)
  --concurrent <n>         incidents opened at once in phase 2 (default 100; 0 skips it)
  --past-incidents <n>     generated past incidents (default 1000)
  --signals-per-incident <n>  resolved signals per generated past incident (default 100)
  --seed <n>               data seed (default 1)
  --out <file>             results file (default bench/results/investigate.json)
  --keep                   keep the data directory for inspection`;

// Targets: one investigation p50 ≤ 50 ms and p99 ≤ 150 ms; 100 incidents opened at once, all investigated within 5 s.
const THRESHOLDS = { p50Ms: 50, p99Ms: 150, concurrentWallSeconds: 5 } as const;

interface Parameters {
  samples: number;
  warmup: number;
  concurrent: number;
  pastIncidents: number;
  signalsPerIncident: number;
  seed: number;
  out: string;
  keep: boolean;
}

function parseParameters(argv: string[]): Parameters | 'help' {
  const values = readArgs(argv, {
    samples: { type: 'string', default: '200' },
    warmup: { type: 'string', default: '20' },
    concurrent: { type: 'string', default: '100' },
    'past-incidents': { type: 'string', default: '1000' },
    'signals-per-incident': { type: 'string', default: '100' },
    seed: { type: 'string', default: '1' },
    out: { type: 'string', default: path.join(REPO_ROOT, 'bench', 'results', 'investigate.json') },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) return 'help';
  return {
    samples: integerFlag(values.samples, 'samples', 0, 1),
    warmup: integerFlag(values.warmup, 'warmup', 0, 0),
    concurrent: integerFlag(values.concurrent, 'concurrent', 0, 0),
    pastIncidents: integerFlag(values['past-incidents'], 'past-incidents', 0, 0),
    signalsPerIncident: integerFlag(values['signals-per-incident'], 'signals-per-incident', 0, 1),
    seed: integerFlag(values.seed, 'seed', 0, 0),
    out: path.resolve(values.out),
    keep: values.keep,
  };
}

const progress = (line: string) => process.stderr.write(`${line}\n`);
const EXAMPLES = path.join(REPO_ROOT, 'examples');
const DAY = 86_400_000;

/**
 * Past incidents shaped like the examples (same services, alerts, root causes), spread over two years,
 * each with `signalsPerIncident` resolved signals; and two deploys per past incident.
 */
function generatedHistory(
  templates: HistoryFiles,
  params: Parameters,
  now: number,
  services: readonly string[],
): HistoryFiles {
  const random = seededRandom(params.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const incidents: HistoryFiles['incidents'] = [];
  const changes: HistoryFiles['changes'] = [];
  for (let index = 0; index < params.pastIncidents; index += 1) {
    const template = pick(templates.incidents);
    const detectedAt = now - Math.round((7 + random() * 723) * DAY);
    const duration = template.resolved_at - template.detected_at;
    const signals = Array.from({ length: params.signalsPerIncident }, (_, signal) => {
      const base = template.signals[signal % template.signals.length]!;
      return {
        ...base,
        offset_seconds: base.offset_seconds + Math.floor(signal / template.signals.length) * 30,
      };
    });
    incidents.push({
      ...template,
      key: `bench-${params.seed}-${index}`,
      started_at: detectedAt - (template.detected_at - template.started_at),
      detected_at: detectedAt,
      acknowledged_at: undefined,
      resolved_at: detectedAt + duration,
      signals,
    });
    for (let change = 0; change < 2; change += 1) {
      const startedAt = detectedAt - Math.round(random() * 3 * DAY);
      changes.push({
        key: `bench-${params.seed}-${index}-${change}`,
        kind: 'deploy',
        service: pick(services),
        environment: 'production',
        version_from: `v1.${index}.${change}`,
        version_to: `v1.${index}.${change + 1}`,
        author: 'ci-bot',
        summary: 'routine deploy',
        started_at: startedAt,
        finished_at: startedAt + 120_000,
      });
    }
  }
  return { incidents, changes };
}

interface Seeded {
  services: { name: string; dependsOn: string[] }[];
  signals: number;
  pastIncidents: number;
  changes: number;
  seconds: number;
}

async function seed(runtime: Runtime, params: Parameters): Promise<Seeded> {
  const started = performance.now();
  const catalog = parseBackstageCatalog(
    readFileSync(path.join(EXAMPLES, 'topology', 'catalog-info.yaml'), 'utf8'),
  );
  if (!catalog.ok) throw new Error(catalog.error.message);
  await runtime.store.services.upsertMany(catalog.services);
  const knowledge = readKnowledgeDirectory(path.join(EXAMPLES, 'kb'));
  await runtime.writes.run((scope) => importKnowledge(scope, knowledge.prepared));
  const examples = readHistoryDirectory(path.join(EXAMPLES, 'history'));
  await runtime.writes.run((scope) => importHistory(scope, examples, 'bench'));
  const generated = generatedHistory(
    examples,
    params,
    Date.now(),
    catalog.services.map((service) => service.name),
  );
  const chunk = 50;
  for (let offset = 0; offset < generated.incidents.length; offset += chunk) {
    await runtime.writes.run((scope) =>
      importHistory(
        scope,
        {
          incidents: generated.incidents.slice(offset, offset + chunk),
          changes: generated.changes.slice(offset * 2, (offset + chunk) * 2),
        },
        'bench',
      ),
    );
    progress(
      `  seeded ${Math.min(offset + chunk, generated.incidents.length)}/${generated.incidents.length} past incidents`,
    );
  }
  const count = async (table: 'signals' | 'incidents' | 'changes') =>
    Number(
      (
        await runtime.store.db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  return {
    services: catalog.services,
    signals: await count('signals'),
    pastIncidents: await count('incidents'),
    changes: await count('changes'),
    seconds: round((performance.now() - started) / 1000, 1),
  };
}

/** Three alerts on one service plus a deploy on its first dependency: an incident in its own environment. */
function incidentSignals(service: { name: string; dependsOn: string[] }, environment: string, now: number) {
  const at = (minutesAgo: number) => new Date(now - minutesAgo * 60_000).toISOString();
  return {
    change: {
      kind: 'deploy' as const,
      service: service.dependsOn[0] ?? service.name,
      environment,
      versionFrom: 'v2.0.0',
      versionTo: 'v2.1.0',
      summary: 'connection pool rework',
      startedAt: at(15),
      links: [],
    },
    signals: [
      ['HighErrorRate', 'critical', 9],
      ['HighLatencyP99', 'warning', 8],
      ['UpstreamTimeouts', 'error', 7],
    ].map(([alertname, severity, minutesAgo]) => ({
      source: 'generic' as const,
      service: service.name,
      environment,
      severity: severity as 'critical',
      title: `${alertname} on ${service.name}`,
      labels: { alertname: String(alertname) },
      startsAt: at(Number(minutesAgo)),
    })),
  };
}

function agentsDirectly(bundle: EvidenceBundle): Finding[] {
  const findings = {
    'signal-intelligence': analyzeSignals(bundle),
    'historical-pattern': analyzeHistory(bundle),
    'change-intelligence': analyzeChanges(bundle),
    'risk-blast-radius': analyzeBlastRadius(bundle),
    'knowledge-rag': analyzeKnowledge(bundle),
  };
  return [...Object.values(findings), respond(bundle, findings)];
}

interface LatencyPhase {
  investigation: LatencySummary;
  baseline: LatencySummary;
  ratioP50: number;
  bundle: { signals: number; pastIncidents: number; changes: number; knowledge: number };
}

async function latencyPhase(runtime: Runtime, seeded: Seeded, params: Parameters): Promise<LatencyPhase> {
  const random = seededRandom(params.seed + 1);
  const timed: number[] = [];
  const baseline: number[] = [];
  let lastBundle: LatencyPhase['bundle'] = { signals: 0, pastIncidents: 0, changes: 0, knowledge: 0 };
  const total = params.warmup + params.samples;
  let reported = performance.now();
  for (let index = 0; index < total; index += 1) {
    const service = seeded.services[Math.floor(random() * seeded.services.length)]!;
    const { change, signals } = incidentSignals(service, `latency-${index}`, Date.now());
    const drafts = signals.map((signal) => ({
      ...signal,
      fingerprint: `latency-${index}-${signal.labels.alertname}`,
      status: 'firing' as const,
      startsAt: Date.parse(signal.startsAt),
      annotations: {},
      links: [],
    }));
    const incidentId = await runtime.writes.run(async (scope) => {
      await scope.changes.insert({ ...change, startedAt: Date.parse(change.startedAt), source: 'bench' });
      const result = await runtime.ingest.ingestInScope(scope, drafts, 'bench');
      return result.incidentsCreated[0];
    });
    if (!incidentId) throw new Error(`sample ${index} did not open an incident; check the default rules`);
    const started = performance.now();
    const result = await investigateIncident(runtime, incidentId, { principal: 'bench' });
    const elapsed = performance.now() - started;
    const direct = performance.now();
    agentsDirectly(result.bundle);
    const directElapsed = performance.now() - direct;
    if (index >= params.warmup) {
      timed.push(elapsed);
      baseline.push(directElapsed);
    }
    lastBundle = {
      signals: result.bundle.signals.length,
      pastIncidents: result.bundle.history.length,
      changes: result.bundle.changes.length,
      knowledge: result.bundle.knowledge.length,
    };
    if (performance.now() - reported > 2000 || index === total - 1) {
      reported = performance.now();
      progress(`  ${index + 1}/${total} investigations (${params.warmup} warm-up)`);
    }
  }
  const investigation = summarizeLatencies(timed)!;
  const base = summarizeLatencies(baseline)!;
  return {
    investigation,
    baseline: base,
    ratioP50: round(investigation.p50 / Math.max(base.p50, 0.01), 1),
    bundle: lastBundle,
  };
}

interface LoadPhase {
  incidents: number;
  wallSeconds: number;
  completed: number;
  lost: number;
  duplicated: number;
  failedAttempts: number;
  deadJobs: number;
  perIncidentSeconds: LatencySummary | null;
  /**
   * After the burst, incidents opened one at a time on the idle server: from the job falling due to
   * the investigation's row (`started_at`, written once the claim has committed and the evidence is
   * frozen): the worker's wait for work, plus the claim and the freeze.
   */
  startAfterDueMs: LatencySummary | null;
}

/** Incidents opened one at a time after the burst, for startAfterDueMs. */
const ONE_AT_A_TIME = 15;

async function loadPhase(
  dataDir: string,
  seeded: Seeded,
  params: Parameters,
  adminToken: string,
): Promise<LoadPhase> {
  const opx = await startOpx({
    root: REPO_ROOT,
    dataDir,
    adminToken,
    env: { OPX_INVESTIGATE_DELAY_SECONDS: '0' },
  });
  const reader = await openStore(`sqlite:${opx.databaseFile}`, { readOnly: true });
  const client = new OpxClient({ baseUrl: opx.url, token: adminToken });
  try {
    const random = seededRandom(params.seed + 2);
    const started = Date.now();
    const posted = await Promise.all(
      Array.from({ length: params.concurrent }, async (_, index) => {
        const service = seeded.services[Math.floor(random() * seeded.services.length)]!;
        const { change, signals } = incidentSignals(service, `load-${index}`, Date.now());
        await client.recordChange(change);
        const result = await client.sendSignals(signals);
        return result.signals[0]!.incidentIds[0]!;
      }),
    );
    const incidentIds = [...new Set(posted)];
    progress(`  ${incidentIds.length} incidents opened over HTTP; waiting for their investigations`);
    const deadline = Date.now() + 300_000;
    let rows: { incident_id: string; status: string; started_at: number; finished_at: number | null }[] = [];
    let reported = Date.now();
    for (;;) {
      rows = await reader.db
        .selectFrom('investigations')
        .select(['incident_id', 'status', 'started_at', 'finished_at'])
        .where('incident_id', 'in', incidentIds)
        .execute();
      const done = new Set(rows.filter((row) => row.status === 'completed').map((row) => row.incident_id));
      const dead = await reader.jobs.list({ status: 'dead', limit: 1000 });
      if (done.size === incidentIds.length || dead.length > 0 || Date.now() > deadline) break;
      if (Date.now() - reported > 2000) {
        reported = Date.now();
        progress(`  ${done.size}/${incidentIds.length} investigated`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const completed = rows.filter((row) => row.status === 'completed');
    const lastFinish = Math.max(...completed.map((row) => row.finished_at ?? 0));
    const perIncident = new Map<string, number>();
    for (const row of completed)
      perIncident.set(row.incident_id, (perIncident.get(row.incident_id) ?? 0) + 1);
    const jobs = await reader.jobs.list({ kind: 'investigate', limit: 10_000 });
    const ours = jobs.filter((job) => incidentIds.includes(String(job.payload.incidentId)));
    progress(`  ${ONE_AT_A_TIME} more incidents, one at a time: how soon each investigation starts`);
    const startAfterDue: number[] = [];
    for (let index = 0; index < ONE_AT_A_TIME && Date.now() < deadline; index += 1) {
      const service = seeded.services[Math.floor(random() * seeded.services.length)]!;
      const { signals } = incidentSignals(service, `single-${index}`, Date.now());
      const incidentId = (await client.sendSignals(signals)).signals[0]!.incidentIds[0]!;
      for (;;) {
        const started = await reader.db
          .selectFrom('investigations')
          .select('started_at')
          .where('incident_id', '=', incidentId)
          .executeTakeFirst();
        if (started) {
          // The job is read once, when its investigation has started (it was queued with the incident).
          const job = (await reader.jobs.list({ kind: 'investigate', limit: 1_000 })).find(
            (candidate) => candidate.payload.incidentId === incidentId,
          );
          if (job) startAfterDue.push(started.started_at - job.runAt);
          break;
        }
        if (Date.now() > deadline) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      // Let the investigation finish and the worker go idle, as between real incidents.
      await new Promise((resolve) => setTimeout(resolve, 300 + random() * 200));
    }
    return {
      incidents: incidentIds.length,
      wallSeconds: round((lastFinish - started) / 1000, 2),
      completed: perIncident.size,
      lost: incidentIds.length - perIncident.size,
      duplicated: [...perIncident.values()].filter((count) => count > 1).length,
      failedAttempts: rows.filter((row) => row.status === 'failed').length,
      deadJobs: ours.filter((job) => job.status === 'dead').length,
      perIncidentSeconds: summarizeLatencies(
        completed.map((row) => ((row.finished_at ?? 0) - started) / 1000),
      ),
      startAfterDueMs: summarizeLatencies(startAfterDue),
    };
  } finally {
    await reader.close();
    await opx.process.stop('SIGTERM');
  }
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseFlags(argv, parseParameters, USAGE);
  if (!parsed.ok) return parsed.exitCode;
  const params = parsed.parameters;
  const stale = staleBuildWarning(REPO_ROOT);
  if (stale) progress(stale);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'opx-bench-investigate-'));
  const adminToken = `opx_bench_${randomBytes(16).toString('hex')}`;
  try {
    progress(
      `seeding ${thousands(params.pastIncidents)} past incidents × ${params.signalsPerIncident} signals into ${dataDir}`,
    );
    const runtime = await openRuntime(
      configSchema.parse({ dataDir, logLevel: 'silent', autoInvestigate: false }),
    );
    let seeded: Seeded;
    let latency: LatencyPhase;
    try {
      seeded = await seed(runtime, params);
      progress(
        `seeded ${thousands(seeded.signals)} signals, ${thousands(seeded.pastIncidents)} incidents, ${thousands(seeded.changes)} changes in ${seeded.seconds} s`,
      );
      progress(`phase 1: ${params.samples} investigations, one at a time`);
      latency = await latencyPhase(runtime, seeded, params);
    } finally {
      await runtime.close();
    }
    let load: LoadPhase | null = null;
    if (params.concurrent > 0) {
      progress(`phase 2: ${params.concurrent} incidents at once through opx serve`);
      load = await loadPhase(dataDir, seeded, params, adminToken);
    }

    const checks = {
      p50: latency.investigation.p50 <= THRESHOLDS.p50Ms,
      p99: latency.investigation.p99 <= THRESHOLDS.p99Ms,
      concurrent: load ? load.wallSeconds <= THRESHOLDS.concurrentWallSeconds : null,
      noneLostOrDuplicated: load ? load.lost === 0 && load.duplicated === 0 : null,
    };
    const results = {
      benchmark: 'investigate',
      at: new Date().toISOString(),
      machine: {
        cpus: os.cpus().length,
        memoryGiB: Math.round(os.totalmem() / 2 ** 30),
        node: process.version,
      },
      parameters: { ...params, out: undefined },
      store: { backend: 'sqlite', ...seeded, services: seeded.services.length },
      latency,
      load,
      thresholds: THRESHOLDS,
      checks,
    };
    mkdirSync(path.dirname(params.out), { recursive: true });
    writeFileSync(params.out, `${JSON.stringify(results, null, 2)}\n`);

    const table = new Table({ head: ['measure', 'value', 'target', 'met'] });
    const mark = (ok: boolean | null) => (ok === null ? '-' : ok ? 'yes' : 'NO');
    table.push(
      ['investigation p50 (ms)', latency.investigation.p50, `≤ ${THRESHOLDS.p50Ms}`, mark(checks.p50)],
      ['investigation p99 (ms)', latency.investigation.p99, `≤ ${THRESHOLDS.p99Ms}`, mark(checks.p99)],
      ['six agents as plain calls, p50 (ms)', latency.baseline.p50, 'baseline', ''],
      ['investigation ÷ baseline at p50', `${latency.ratioP50}×`, '', ''],
    );
    if (load) {
      table.push(
        [
          `${load.incidents} incidents at once, wall (s)`,
          load.wallSeconds,
          `≤ ${THRESHOLDS.concurrentWallSeconds}`,
          mark(checks.concurrent),
        ],
        [
          'lost / duplicated',
          `${load.lost} / ${load.duplicated}`,
          '0 / 0',
          mark(checks.noneLostOrDuplicated),
        ],
        ['failed attempts / dead jobs', `${load.failedAttempts} / ${load.deadJobs}`, '', ''],
        [
          'one incident at a time: job due → investigation started (evidence frozen), p50 / max (ms)',
          load.startAfterDueMs ? `${load.startAfterDueMs.p50} / ${load.startAfterDueMs.max}` : 'n/a',
          '',
          '',
        ],
      );
    }
    process.stdout.write(
      `\nstore: ${thousands(seeded.signals)} signals, ${thousands(seeded.pastIncidents)} incidents, ${thousands(seeded.changes)} changes; ` +
        `a bundle holds ${latency.bundle.pastIncidents} past incidents, ${latency.bundle.changes} changes, ${latency.bundle.knowledge} runbook sections\n`,
    );
    process.stdout.write(`${table.toString()}\nresults: ${path.relative(process.cwd(), params.out)}\n`);
    return load && !checks.noneLostOrDuplicated ? 1 : 0;
  } finally {
    if (params.keep) progress(`kept ${dataDir}`);
    else rmSync(dataDir, { recursive: true, force: true });
  }
}
