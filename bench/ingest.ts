import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import Table from 'cli-table3';
import { sql } from 'kysely';
import { openStore } from '../src/store/store.js';
import { alertmanagerVersion, findAlertmanager, startAlertmanager } from './support/alertmanager.js';
import { AlertGenerator, BATCH_MIX, SERVICES, SignalModel } from './support/alerts.js';
import { integerFlag, parseFlags, UsageError } from './support/cli.js';
import { type ProfileSummary, summarizeCpuProfile } from './support/cpu-profile.js';
import { buildTime, mainThreadProfile, REPO_ROOT, staleBuildWarning, startOpx } from './support/opx.js';
import { freshDatabase } from './support/postgres.js';
import {
  type ExitStatus,
  type ManagedProcess,
  MemorySampler,
  type MemorySummary,
  readCpuSeconds,
  readMemory,
  readStealSeconds,
} from './support/processes.js';
import type { StatementTiming } from './support/sql-timing-hook.js';
import { type LatencySummary, mebibytes, round, summarizeLatencies, thousands } from './support/stats.js';

const USAGE = `usage: npm run bench -- ingest [flags]

Posts the same seeded Prometheus alert traffic to OPX and to a real Alertmanager and compares them.

  --target <opx|alertmanager|both>  what to measure (default both)
  --concurrency <n>                 concurrent clients, one request in flight each (default 8)
  --batch <n>                       alerts per request, at most 1000 (default 100)
  --duration <seconds>              measured time per target (default 20)
  --batches <n>                     measure exactly n batches per target instead of a duration
  --warmup <seconds>                unmeasured load before measuring (default 2)
  --seed <n>                        traffic seed (default 1)
  --stop <term|kill>                how OPX is stopped before its database is checked (default term);
                                    kill proves acknowledged batches survive without a clean shutdown
  --out <file>                      results file (default bench/results/ingest.json, or
                                    ingest-<target>.json for a single target)
  --opx-root <dir>                  run the build in another checkout (e.g. an unchanged copy, for a
                                    before/after comparison; default this one)
  --database <url>                  run OPX on PostgreSQL: a fresh database is created on this server
                                    for the run and dropped after it (default: SQLite in the data
                                    directory); the check after the run reads it there
  --keep                            keep OPX's data directory (and PostgreSQL database) for inspection
  --strict                          exit 1 when a target threshold is missed, not only on errors

Environment:
  OPX_BENCH_CPU_PROF=1   profile the OPX server (node --cpu-prof) and summarise where its time went
  OPX_BENCH_SQL_PROF=1   time every SQLite statement the OPX server runs (fsync included), by SQL text
  OPX_ALERTMANAGER_BIN   the Alertmanager binary (default /usr/bin/prometheus-alertmanager)`;

const THRESHOLDS = { alertsPerSecond: 20_000, p99Ms: 50, throughputRatio: 1.0 } as const;
const REQUEST_TIMEOUT_MS = 30_000;
const PROGRESS_EVERY_MS = 2000;

type TargetName = 'opx' | 'alertmanager';

interface Parameters {
  target: TargetName | 'both';
  concurrency: number;
  batchSize: number;
  durationSeconds: number;
  batches: number | null;
  warmupSeconds: number;
  seed: number;
  stop: 'term' | 'kill';
  out: string;
  opxRoot: string;
  /** A PostgreSQL server to run OPX on; null for SQLite. */
  database: string | null;
  keep: boolean;
  strict: boolean;
  cpuProfile: boolean;
  sqlProfile: boolean;
}

function readFlags(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: false,
    options: {
      target: { type: 'string' },
      concurrency: { type: 'string' },
      batch: { type: 'string' },
      duration: { type: 'string' },
      batches: { type: 'string' },
      warmup: { type: 'string' },
      seed: { type: 'string' },
      stop: { type: 'string' },
      out: { type: 'string' },
      'opx-root': { type: 'string' },
      database: { type: 'string' },
      keep: { type: 'boolean', default: false },
      strict: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}

function parseParameters(argv: string[]): Parameters | 'help' {
  let parsed: ReturnType<typeof readFlags>;
  try {
    parsed = readFlags(argv);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values } = parsed;
  if (values.help) return 'help';
  const target = values.target ?? 'both';
  if (target !== 'opx' && target !== 'alertmanager' && target !== 'both') {
    throw new UsageError(`--target must be opx, alertmanager or both (got ${JSON.stringify(target)})`);
  }
  const stop = values.stop ?? 'term';
  if (stop !== 'term' && stop !== 'kill')
    throw new UsageError(`--stop must be term or kill (got ${JSON.stringify(stop)})`);
  const cpuProfile = process.env.OPX_BENCH_CPU_PROF === '1';
  const database = values.database ?? null;
  if (database !== null && !/^postgres(ql)?:\/\//.test(database))
    throw new UsageError(`--database must be a postgres:// URL (got ${JSON.stringify(database)})`);
  if (database !== null && process.env.OPX_BENCH_SQL_PROF === '1')
    throw new UsageError('OPX_BENCH_SQL_PROF times SQLite statements; it cannot be used with --database');
  const defaultOut =
    database !== null ? 'ingest-postgres.json' : target === 'both' ? 'ingest.json' : `ingest-${target}.json`;
  return {
    target,
    concurrency: integerFlag(values.concurrency, 'concurrency', 8, 1, 256),
    // OPX refuses more than 1000 alerts per request.
    batchSize: integerFlag(values.batch, 'batch', 100, 1, 1000),
    // Firing alerts carry endsAt an hour after the start, so a run must end well before that.
    durationSeconds: integerFlag(values.duration, 'duration', 20, 1, 1200),
    batches: values.batches === undefined ? null : integerFlag(values.batches, 'batches', 0, 1, 10_000_000),
    warmupSeconds: integerFlag(values.warmup, 'warmup', 2, 0, 60),
    seed: integerFlag(values.seed, 'seed', 1, 0, 2 ** 31 - 1),
    stop,
    out: path.resolve(values.out ?? path.join(REPO_ROOT, 'bench', 'results', defaultOut)),
    opxRoot: path.resolve(values['opx-root'] ?? REPO_ROOT),
    database,
    keep: values.keep ?? false,
    strict: values.strict ?? false,
    cpuProfile,
    sqlProfile: process.env.OPX_BENCH_SQL_PROF === '1',
  };
}

function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

interface LoadResult {
  batches: number;
  alerts: number;
  seconds: number;
  latenciesMs: number[];
  non2xx: number;
  networkErrors: number;
  errorSamples: string[];
}

interface LoadOptions {
  label: string;
  url: string;
  headers: Record<string, string>;
  generators: AlertGenerator[];
  /** Gets every batch the target acknowledged, in per-client order. */
  model?: SignalModel;
  durationSeconds: number;
  /** When set, the phase sends exactly this many batches in total instead of running for a duration. */
  batches: number | null;
  abort: AbortSignal;
}

/** Clients post batches back to back, one request in flight each, until the time or batch budget is used. */
async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const result: LoadResult = {
    batches: 0,
    alerts: 0,
    seconds: 0,
    latenciesMs: [],
    non2xx: 0,
    networkErrors: 0,
    errorSamples: [],
  };
  const clients = options.generators.length;
  const started = performance.now();
  const deadline = started + options.durationSeconds * 1000;
  const noteError = (text: string) => {
    if (result.errorSamples.length < 5) result.errorSamples.push(text.slice(0, 400));
  };

  let lastBatches = 0;
  let lastAlerts = 0;
  let lastAt = started;
  const ticker = setInterval(() => {
    const now = performance.now();
    const rate = ((result.alerts - lastAlerts) / (now - lastAt)) * 1000;
    const elapsed = ((now - started) / 1000).toFixed(1);
    const budget = options.batches === null ? `${options.durationSeconds} s` : `${options.batches} batches`;
    progress(
      `  [${options.label}] ${elapsed} s of ${budget}: ${thousands(result.batches)} batches (+${result.batches - lastBatches}), ` +
        `${thousands(rate)} alerts/s now, errors ${result.non2xx + result.networkErrors}`,
    );
    lastBatches = result.batches;
    lastAlerts = result.alerts;
    lastAt = now;
  }, PROGRESS_EVERY_MS);
  ticker.unref();

  const client = async (index: number) => {
    const generator = options.generators[index]!;
    // An even split of a batch budget keeps each client's share, and so the data it sends, reproducible.
    const quota =
      options.batches === null
        ? Number.POSITIVE_INFINITY
        : Math.floor(options.batches / clients) + (index < options.batches % clients ? 1 : 0);
    for (let sent = 0; sent < quota; sent += 1) {
      if (options.abort.aborted) return;
      if (options.batches === null && performance.now() >= deadline) return;
      const batch = generator.next();
      const requestStarted = performance.now();
      try {
        const response = await fetch(options.url, {
          method: 'POST',
          headers: options.headers,
          body: batch.body,
          signal: AbortSignal.any([options.abort, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
        });
        // Reading the body to the end is what lets the connection be reused.
        const text = await response.text();
        result.latenciesMs.push(performance.now() - requestStarted);
        result.batches += 1;
        if (response.ok) {
          result.alerts += batch.deliveries.length;
          options.model?.apply(batch.deliveries);
        } else {
          result.non2xx += 1;
          noteError(`HTTP ${response.status}: ${text}`);
        }
      } catch (error) {
        if (options.abort.aborted) return;
        result.networkErrors += 1;
        noteError(`no answer: ${(error as Error).message}`);
        // The batch may or may not have been stored; the model can no longer be exact.
        options.model?.markUncertain();
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: clients }, (_, index) => client(index)));
  } finally {
    clearInterval(ticker);
  }
  result.seconds = (performance.now() - started) / 1000;
  return result;
}

interface TargetResult {
  name: TargetName;
  version: string;
  warmup: { batches: number; alerts: number; seconds: number };
  batches: number;
  alerts: number;
  seconds: number;
  alertsPerSecond: number;
  batchesPerSecond: number;
  latencyMs: LatencySummary | null;
  errors: { non2xx: number; network: number; samples: string[] };
  memory: MemorySummary & { idleRssBytes: number | null };
  /** CPU seconds the server used while measured; above `seconds` means it used more than one core. */
  serverCpuSeconds: number | null;
  /** CPU seconds of this benchmark process (the clients) in the same time, on the same machine. */
  clientCpuSeconds: number;
  /** CPU seconds stolen by the hypervisor during the measurement, all CPUs; non-zero means a noisy host. */
  stealCpuSeconds: number | null;
}

async function measureTarget(options: {
  name: TargetName;
  version: string;
  url: string;
  headers: Record<string, string>;
  server: ManagedProcess;
  parameters: Parameters;
  epochMs: number;
  model?: SignalModel;
  abort: AbortSignal;
}): Promise<TargetResult> {
  const { parameters, name } = options;
  const generators = Array.from(
    { length: parameters.concurrency },
    (_, client) =>
      new AlertGenerator({
        seed: parameters.seed,
        client,
        batchSize: parameters.batchSize,
        epochMs: options.epochMs,
      }),
  );
  const pid = options.server.pid;
  const idle = readMemory(pid);
  const sampler = new MemorySampler(pid);
  const common = {
    url: options.url,
    headers: options.headers,
    generators,
    abort: options.abort,
    ...(options.model ? { model: options.model } : {}),
  };

  progress(`[${name}] warm-up ${parameters.warmupSeconds} s (not counted)`);
  const warmup = await runLoad({
    ...common,
    label: `${name} warm-up`,
    durationSeconds: parameters.warmupSeconds,
    batches: null,
  });
  if (options.abort.aborted) throw new Error('interrupted');

  const measured =
    parameters.batches === null ? `${parameters.durationSeconds} s` : `${parameters.batches} batches`;
  progress(
    `[${name}] measuring ${measured} with ${parameters.concurrency} clients x ${parameters.batchSize} alerts`,
  );
  const cpuBefore = readCpuSeconds(pid);
  const stealBefore = readStealSeconds();
  const clientBefore = process.cpuUsage();
  const load = await runLoad({
    ...common,
    label: name,
    durationSeconds: parameters.durationSeconds,
    batches: parameters.batches,
  });
  const cpuAfter = readCpuSeconds(pid);
  const stealAfter = readStealSeconds();
  const clientUsage = process.cpuUsage(clientBefore);
  const memory = sampler.stop();
  if (options.abort.aborted) throw new Error('interrupted');

  const result: TargetResult = {
    name,
    version: options.version,
    warmup: { batches: warmup.batches, alerts: warmup.alerts, seconds: round(warmup.seconds) },
    batches: load.batches,
    alerts: load.alerts,
    seconds: round(load.seconds, 3),
    alertsPerSecond: round(load.alerts / load.seconds, 1),
    batchesPerSecond: round(load.batches / load.seconds, 1),
    latencyMs: summarizeLatencies(load.latenciesMs),
    errors: {
      non2xx: warmup.non2xx + load.non2xx,
      network: warmup.networkErrors + load.networkErrors,
      samples: [...warmup.errorSamples, ...load.errorSamples].slice(0, 5),
    },
    memory: { idleRssBytes: idle?.rssBytes ?? null, ...memory },
    serverCpuSeconds: cpuBefore === undefined || cpuAfter === undefined ? null : round(cpuAfter - cpuBefore),
    clientCpuSeconds: round((clientUsage.user + clientUsage.system) / 1e6),
    stealCpuSeconds:
      stealBefore === undefined || stealAfter === undefined ? null : round(stealAfter - stealBefore),
  };
  progress(
    `[${name}] ${thousands(result.alertsPerSecond)} alerts/s, p99 ${result.latencyMs?.p99 ?? 'n/a'} ms, ` +
      `errors ${result.errors.non2xx + result.errors.network}`,
  );
  return result;
}

interface Check {
  name: string;
  expected: number | string;
  actual: number | string;
  /** null when the expectation cannot be exact (a request got no answer, so it may or may not be stored). */
  pass: boolean | null;
}

interface Verification {
  method: string;
  stoppedWith: 'SIGTERM' | 'SIGKILL';
  exit: ExitStatus & { millis: number };
  uncertainBatches: number;
  model: {
    rows: number;
    openSignals: number;
    occurrences: number;
    distinctFingerprints: number;
    distinctFiringFingerprints: number;
    firingDeliveries: number;
    resolvedDeliveries: number;
    recordOnlyResolvedRows: number;
  };
  database: Record<string, number | string>;
  checks: Check[];
  pass: boolean;
}

const VERIFICATION_METHOD =
  'Each client owns a disjoint slice of label sets and has one request in flight, so every fingerprint ' +
  "reaches OPX in send order. Every batch answered 2xx (warm-up included) is replayed through OPX's dedup " +
  'rules (SignalModel in bench/support/alerts.ts): a firing alert without an open signal inserts a row, ' +
  'with one bumps occurrences; a resolve closes the open row, or inserts a resolved row when none is open. ' +
  'After stopping the server, the database is reopened with openStore and must hold exactly that many rows, ' +
  'open signals, total occurrences and distinct fingerprints; every service that got a new critical signal ' +
  "must be on an incident (the default critical-signal rule), incidents' signal_count must add up to " +
  'incident_signals, and on SQLite PRAGMA quick_check must say ok.';

async function verifyOpx(
  storeUrl: string,
  model: SignalModel,
  stoppedWith: 'SIGTERM' | 'SIGKILL',
  exit: ExitStatus & { millis: number },
): Promise<Verification> {
  const store = await openStore(storeUrl);
  try {
    const { db } = store;
    const signals = await db
      .selectFrom('signals')
      .select((eb) => [
        eb.fn.countAll<number>().as('rows'),
        eb.fn.sum<number>('occurrences').as('occurrences'),
        eb.fn.count<number>('fingerprint').distinct().as('fingerprints'),
      ])
      .executeTakeFirstOrThrow();
    const open = await db
      .selectFrom('signals')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('status', '=', 'firing')
      .executeTakeFirstOrThrow();
    const incidents = await db
      .selectFrom('incidents')
      .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.sum<number>('signal_count').as('signals')])
      .executeTakeFirstOrThrow();
    const attached = await db
      .selectFrom('incident_signals')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    const incidentServices = new Set(
      (await db.selectFrom('incident_services').select('service').distinct().execute()).map(
        (row) => row.service,
      ),
    );
    // SQLite checks its own file; PostgreSQL has no cheap equivalent, and its own WAL replay is not in question.
    const quickCheckText =
      store.dialect === 'sqlite'
        ? (await sql<{ quick_check: string }>`pragma quick_check`.execute(db)).rows
            .map((row) => row.quick_check)
            .join('; ')
        : null;

    const missingServices = [...model.criticalServices].filter((service) => !incidentServices.has(service));
    const exact = model.uncertainBatches === 0;
    const equal = (name: string, expected: number, actual: number): Check => ({
      name,
      expected,
      actual,
      pass: exact ? expected === actual : null,
    });
    const checks: Check[] = [
      {
        name: stoppedWith === 'SIGTERM' ? 'server exited cleanly on SIGTERM' : 'server killed with SIGKILL',
        expected: stoppedWith === 'SIGTERM' ? 'exit code 0 within 10 s' : 'killed by SIGKILL',
        actual: exit.forced ? 'did not stop within 10 s; killed' : `code ${exit.code}, signal ${exit.signal}`,
        pass: stoppedWith === 'SIGTERM' ? exit.code === 0 && !exit.forced : exit.signal === 'SIGKILL',
      },
      equal('signal rows', model.rows, Number(signals.rows)),
      equal('open (firing) signals', model.openSignals, Number(open.n)),
      equal('sum of occurrences', model.occurrences, Number(signals.occurrences ?? 0)),
      equal('distinct fingerprints', model.distinctFingerprints, Number(signals.fingerprints)),
      {
        name: 'services with a critical signal but no incident',
        expected: 0,
        actual: missingServices.length,
        pass: exact ? missingServices.length === 0 : null,
      },
      {
        name: 'sum of incidents.signal_count = incident_signals rows',
        expected: Number(attached.n),
        actual: Number(incidents.signals ?? 0),
        pass: Number(attached.n) === Number(incidents.signals ?? 0),
      },
    ];
    if (quickCheckText !== null)
      checks.push({
        name: 'PRAGMA quick_check',
        expected: 'ok',
        actual: quickCheckText,
        pass: quickCheckText === 'ok',
      });
    return {
      method: VERIFICATION_METHOD,
      stoppedWith,
      exit,
      uncertainBatches: model.uncertainBatches,
      model: {
        rows: model.rows,
        openSignals: model.openSignals,
        occurrences: model.occurrences,
        distinctFingerprints: model.distinctFingerprints,
        distinctFiringFingerprints: model.distinctFiringFingerprints,
        firingDeliveries: model.firingDeliveries,
        resolvedDeliveries: model.resolvedDeliveries,
        recordOnlyResolvedRows: model.recordOnlyResolvedRows,
      },
      database: {
        signalRows: Number(signals.rows),
        openSignals: Number(open.n),
        occurrences: Number(signals.occurrences ?? 0),
        distinctFingerprints: Number(signals.fingerprints),
        incidents: Number(incidents.n),
        incidentSignals: Number(attached.n),
        servicesOnIncidents: incidentServices.size,
        quickCheck: quickCheckText ?? 'not run (PostgreSQL)',
      },
      checks,
      pass: checks.every((check) => check.pass !== false),
    };
  } finally {
    await store.close();
  }
}

interface Threshold {
  name: string;
  target: string;
  actual: number | null;
  pass: boolean | null;
}

function thresholds(opx: TargetResult | undefined, ratio: number | null): Threshold[] {
  const p99 = opx?.latencyMs?.p99 ?? null;
  return [
    {
      name: 'OPX throughput (alerts/s)',
      target: `>= ${THRESHOLDS.alertsPerSecond}`,
      actual: opx?.alertsPerSecond ?? null,
      pass: opx ? opx.alertsPerSecond >= THRESHOLDS.alertsPerSecond : null,
    },
    {
      name: 'OPX batch latency p99 (ms)',
      target: `<= ${THRESHOLDS.p99Ms}`,
      actual: p99,
      pass: p99 === null ? null : p99 <= THRESHOLDS.p99Ms,
    },
    {
      name: 'throughput ratio OPX / Alertmanager',
      target: `>= ${THRESHOLDS.throughputRatio}`,
      actual: ratio,
      pass: ratio === null ? null : ratio >= THRESHOLDS.throughputRatio,
    },
  ];
}

function verdict(pass: boolean | null): string {
  return pass === null ? 'n/a' : pass ? 'PASS' : 'FAIL';
}

function printReport(
  targets: TargetResult[],
  ratios: { throughput: number | null; p99: number | null },
  limits: Threshold[],
  verification: Verification | undefined,
  profile: ProfileSummary | undefined,
): void {
  const plain = { style: { head: [], border: [] } };
  const table = new Table({ ...plain, head: ['', ...targets.map((target) => target.name)] });
  const row = (label: string, value: (target: TargetResult) => string | number) =>
    table.push([label, ...targets.map(value)]);
  row('version', (target) => target.version);
  row('alerts/s', (target) => thousands(target.alertsPerSecond));
  row('batches/s', (target) => target.batchesPerSecond);
  row('alerts (measured)', (target) => `${thousands(target.alerts)} in ${target.seconds} s`);
  row('latency p50 ms', (target) => target.latencyMs?.p50 ?? 'n/a');
  row('latency p90 ms', (target) => target.latencyMs?.p90 ?? 'n/a');
  row('latency p99 ms', (target) => target.latencyMs?.p99 ?? 'n/a');
  row('latency max ms', (target) => target.latencyMs?.max ?? 'n/a');
  row('errors (non-2xx / no answer)', (target) => `${target.errors.non2xx} / ${target.errors.network}`);
  row('RSS idle', (target) => mebibytes(target.memory.idleRssBytes));
  row(
    'RSS mean / max sampled',
    (target) => `${mebibytes(target.memory.meanRssBytes)} / ${mebibytes(target.memory.maxSampledRssBytes)}`,
  );
  row('RSS peak (VmHWM)', (target) => mebibytes(target.memory.peakRssBytes));
  row('server CPU s (cores)', (target) =>
    target.serverCpuSeconds === null
      ? 'n/a'
      : `${target.serverCpuSeconds} (${round(target.serverCpuSeconds / target.seconds)})`,
  );
  row('client CPU s', (target) => target.clientCpuSeconds);
  row('CPU s stolen by the host', (target) => target.stealCpuSeconds ?? 'n/a');
  process.stdout.write(`\n${table.toString()}\n`);
  for (const target of targets) {
    for (const sample of target.errors.samples) process.stdout.write(`  ${target.name} error: ${sample}\n`);
  }
  if (ratios.throughput !== null) {
    process.stdout.write(
      `\nOPX / Alertmanager: throughput x${ratios.throughput}, p99 latency x${ratios.p99 ?? 'n/a'}\n`,
    );
  }

  const limitsTable = new Table({ ...plain, head: ['target', 'threshold', 'measured', ''] });
  for (const limit of limits)
    limitsTable.push([limit.name, limit.target, limit.actual ?? 'n/a', verdict(limit.pass)]);
  process.stdout.write(`\n${limitsTable.toString()}\n`);

  if (verification) {
    const checks = new Table({
      ...plain,
      head: [`OPX database after ${verification.stoppedWith}`, 'expected', 'found', ''],
    });
    for (const check of verification.checks)
      checks.push([check.name, check.expected, check.actual, verdict(check.pass)]);
    process.stdout.write(`\n${checks.toString()}\n`);
    const { model } = verification;
    process.stdout.write(
      `  sent to OPX (2xx, warm-up included): ${thousands(model.firingDeliveries)} firing, ${thousands(model.resolvedDeliveries)} resolved; ` +
        `${thousands(model.recordOnlyResolvedRows)} resolves found nothing open and became rows of their own\n`,
    );
    if (verification.uncertainBatches > 0) {
      process.stdout.write(
        `  ${verification.uncertainBatches} batches got no answer, so exact counts are not checked (n/a)\n`,
      );
    }
  }
  if (profile) printProfile(profile);
}

function printProfile(profile: ProfileSummary): void {
  const plain = { style: { head: [], border: [] } };
  process.stdout.write(
    `\nCPU profile ${path.relative(REPO_ROOT, profile.file)}: ${thousands(profile.busyMs)} ms busy of ${thousands(profile.sampledMs)} ms sampled (percentages are of busy time)\n`,
  );
  const self = new Table({ ...plain, head: ['self %', 'self ms', 'function', 'where'] });
  for (const entry of profile.topSelf) self.push([entry.selfPercent, entry.selfMs, entry.name, entry.where]);
  process.stdout.write(`${self.toString()}\n`);
  const total = new Table({ ...plain, head: ['total %', 'total ms', 'function', 'where'] });
  for (const entry of profile.topTotal)
    total.push([entry.totalPercent, entry.totalMs, entry.name, entry.where]);
  process.stdout.write(`${total.toString()}\n`);
  const callers = new Table({ ...plain, head: ['%', 'ms', 'innermost OPX function on the stack', 'where'] });
  for (const entry of profile.byOpxCaller)
    callers.push([entry.selfPercent, entry.selfMs, entry.name, entry.where]);
  process.stdout.write(`${callers.toString()}\n`);
  const areas = new Table({ ...plain, head: ['self %', 'self ms', 'file or package'] });
  for (const area of profile.byArea) areas.push([area.selfPercent, area.selfMs, area.area]);
  process.stdout.write(`${areas.toString()}\n`);
}

interface SqlTimingSummary {
  /** Wall time from the server answering /healthz to its exit; statements block its one JavaScript thread. */
  serverLifetimeMs: number;
  statementMs: number;
  statements: (StatementTiming & { meanMs: number; percentOfLifetime: number })[];
}

function summarizeSqlTimings(file: string, serverLifetimeMs: number, limit = 25): SqlTimingSummary {
  const timings = JSON.parse(readFileSync(file, 'utf8')) as StatementTiming[];
  const statementMs = timings.reduce((sum, timing) => sum + timing.totalMs, 0);
  return {
    serverLifetimeMs: Math.round(serverLifetimeMs),
    statementMs: Math.round(statementMs),
    statements: timings
      .sort((left, right) => right.totalMs - left.totalMs)
      .slice(0, limit)
      .map((timing) => ({
        ...timing,
        totalMs: Math.round(timing.totalMs),
        meanMs: round(timing.totalMs / timing.calls, 3),
        percentOfLifetime: round((timing.totalMs / serverLifetimeMs) * 100, 1),
      })),
  };
}

function printSqlTimings(summary: SqlTimingSummary): void {
  process.stdout.write(
    `\nSQLite statements: ${thousands(summary.statementMs)} ms of the server's ${thousands(summary.serverLifetimeMs)} ms lifetime ` +
      `(${round((summary.statementMs / summary.serverLifetimeMs) * 100, 1)}%), the event loop blocked throughout\n`,
  );
  const table = new Table({
    style: { head: [], border: [] },
    head: ['% of lifetime', 'total ms', 'calls', 'mean ms', 'rows', 'statement'],
    colWidths: [15, 10, 9, 9, 9, 90],
    wordWrap: true,
  });
  for (const statement of summary.statements) {
    table.push([
      statement.percentOfLifetime,
      statement.totalMs,
      statement.calls,
      statement.meanMs,
      statement.rows,
      statement.sql.length > 400 ? `${statement.sql.slice(0, 400)}…` : statement.sql,
    ]);
  }
  process.stdout.write(`${table.toString()}\n`);
}

function opxVersion(root: string): string {
  const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    version?: string;
  };
  return manifest.version ?? 'unknown';
}

function writeResults(file: string, results: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true });
  // Written aside and renamed, so a reader never sees half a file (bench/results/*.tmp is git-ignored).
  const temporary = `${file}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(results, null, 2)}\n`);
  renameSync(temporary, file);
}

/** A fresh directory per run under bench/results/profiles, so the run's profiles are easy to find. */
function profileDirectory(): string {
  const parent = path.join(REPO_ROOT, 'bench', 'results', 'profiles');
  mkdirSync(parent, { recursive: true });
  // Profiles are tens of megabytes and machine-specific; keep them out of commits.
  const ignore = path.join(parent, '.gitignore');
  if (!existsSync(ignore)) writeFileSync(ignore, '*\n');
  const directory = path.join(parent, `ingest-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(directory);
  return directory;
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseFlags(argv, parseParameters, USAGE);
  if (!parsed.ok) return parsed.exitCode;
  const { parameters } = parsed;

  const wantOpx = parameters.target !== 'alertmanager';
  const wantAlertmanager = parameters.target !== 'opx';
  const alertmanagerBinary = wantAlertmanager ? findAlertmanager() : undefined;
  if (wantAlertmanager && !alertmanagerBinary) {
    process.stderr.write(
      'Alertmanager not found: install it (apt-get install -y prometheus-alertmanager) or set OPX_ALERTMANAGER_BIN, ' +
        'or run with --target opx\n',
    );
    return 2;
  }
  if (wantOpx) {
    const stale = staleBuildWarning(parameters.opxRoot);
    if (stale) progress(`WARNING: ${stale}`);
  }
  let stopWith = parameters.stop;
  if ((parameters.cpuProfile || parameters.sqlProfile) && stopWith === 'kill') {
    progress(
      'WARNING: profiles are written only on a clean exit; stopping OPX with SIGTERM instead of SIGKILL',
    );
    stopWith = 'term';
  }

  const interrupt = new AbortController();
  const onSignal = () => {
    progress('interrupted: stopping the servers');
    interrupt.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  // One reference time for both targets, so they receive byte-identical request bodies.
  const epochMs = Date.now();
  // Anything else busy on the machine skews both targets; the load average at the start shows it.
  const loadAverageAtStart = os.loadavg().map((value) => round(value));
  const cleanups: (() => Promise<void> | void)[] = [];
  const targets: TargetResult[] = [];
  let verification: Verification | undefined;
  let profile: ProfileSummary | undefined;
  let sqlTimings: SqlTimingSummary | undefined;
  let keepDataDir = parameters.keep;
  let exitCode = 0;
  try {
    if (wantOpx) {
      const dataDir = mkdtempSync(path.join(os.tmpdir(), 'opx-bench-ingest-'));
      cleanups.push(() => {
        if (keepDataDir) progress(`kept OPX data directory ${dataDir}`);
        else rmSync(dataDir, { recursive: true, force: true });
      });
      const adminToken = `bench-${randomBytes(16).toString('hex')}`;
      const database = parameters.database
        ? await freshDatabase(parameters.database, `opx_bench_ingest_${process.pid}`)
        : undefined;
      if (database)
        cleanups.push(async () => {
          if (keepDataDir) progress(`kept PostgreSQL database ${database.url}`);
          else await database.drop();
        });
      progress(
        `[opx] starting ${path.join(parameters.opxRoot, 'bin', 'opx.js')} serve (data dir ${dataDir}${database ? `, database ${database.url}` : ''})`,
      );
      const opx = await startOpx({
        root: parameters.opxRoot,
        dataDir,
        adminToken,
        ...(database ? { env: { OPX_DATABASE_URL: database.url } } : {}),
        ...(parameters.cpuProfile ? { cpuProfileDir: profileDirectory() } : {}),
        ...(parameters.sqlProfile ? { sqlTimingsFile: path.join(dataDir, 'sql-timings.json') } : {}),
      });
      const opxStarted = performance.now();
      cleanups.push(async () => {
        await opx.process.stop('SIGKILL');
      });
      const model = new SignalModel();
      targets.push(
        await measureTarget({
          name: 'opx',
          version: `opx ${opxVersion(parameters.opxRoot)} (node ${process.version})`,
          url: `${opx.url}/api/v2/alerts`,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
          server: opx.process,
          parameters,
          epochMs,
          model,
          abort: interrupt.signal,
        }),
      );
      const signal = stopWith === 'term' ? 'SIGTERM' : 'SIGKILL';
      progress(`[opx] stopping with ${signal}, then checking the database`);
      const stopStarted = performance.now();
      const exit = await opx.process.stop(signal, 10_000);
      const opxLifetimeMs = performance.now() - opxStarted;
      if (signal === 'SIGTERM' && (exit.code !== 0 || exit.forced))
        process.stderr.write(
          `[opx] did not exit cleanly; its last output:\n${opx.process.output().slice(-4000)}\n`,
        );
      verification = await verifyOpx(database?.url ?? `sqlite:${opx.databaseFile}`, model, signal, {
        ...exit,
        millis: Math.round(performance.now() - stopStarted),
      });
      if (!verification.pass) keepDataDir = true;
      if (opx.cpuProfileDir) {
        const file = mainThreadProfile(opx.cpuProfileDir, opx.process.pid);
        if (file) profile = summarizeCpuProfile(file, parameters.opxRoot);
        else progress(`WARNING: no CPU profile of the main thread in ${opx.cpuProfileDir}`);
      }
      if (parameters.sqlProfile) {
        const file = path.join(dataDir, 'sql-timings.json');
        if (existsSync(file)) sqlTimings = summarizeSqlTimings(file, opxLifetimeMs);
        else progress(`WARNING: no SQL timings at ${file}`);
      }
    }

    if (wantAlertmanager && alertmanagerBinary) {
      const version = alertmanagerVersion(alertmanagerBinary);
      progress(`[alertmanager] starting ${alertmanagerBinary} (${version})`);
      const alertmanager = await startAlertmanager({
        binary: alertmanagerBinary,
        // Grouping as a typical production route does; the receiver has no integrations, so nothing is sent.
        config: {
          route: {
            receiver: 'blackhole',
            group_by: ['alertname', 'service'],
            group_wait: '30s',
            group_interval: '5m',
            repeat_interval: '4h',
          },
          receivers: [{ name: 'blackhole' }],
        },
      });
      cleanups.push(() => alertmanager.stop());
      targets.push(
        await measureTarget({
          name: 'alertmanager',
          version,
          url: `${alertmanager.url}/api/v2/alerts`,
          headers: { 'content-type': 'application/json' },
          server: alertmanager.process,
          parameters,
          epochMs,
          abort: interrupt.signal,
        }),
      );
    }

    const opxResult = targets.find((target) => target.name === 'opx');
    const alertmanagerResult = targets.find((target) => target.name === 'alertmanager');
    const throughputRatio =
      opxResult && alertmanagerResult
        ? round(opxResult.alertsPerSecond / alertmanagerResult.alertsPerSecond, 3)
        : null;
    const opxP99 = opxResult?.latencyMs?.p99;
    const alertmanagerP99 = alertmanagerResult?.latencyMs?.p99;
    const p99Ratio =
      opxP99 !== undefined && alertmanagerP99 !== undefined && alertmanagerP99 > 0
        ? round(opxP99 / alertmanagerP99, 3)
        : null;
    const limits = thresholds(opxResult, throughputRatio);
    const cpus = os.cpus();
    writeResults(parameters.out, {
      bench: 'ingest',
      date: new Date().toISOString(),
      machine: {
        cpus: cpus.length,
        cpuModel: cpus[0]?.model ?? 'unknown',
        totalMemoryBytes: os.totalmem(),
        platform: `${os.platform()} ${os.release()} ${os.arch()}`,
        node: process.version,
        loadAverageAtStart,
        alertmanager: alertmanagerResult?.version ?? null,
      },
      parameters: {
        target: parameters.target,
        concurrency: parameters.concurrency,
        batchSize: parameters.batchSize,
        durationSeconds: parameters.batches === null ? parameters.durationSeconds : null,
        batches: parameters.batches,
        warmupSeconds: parameters.warmupSeconds,
        seed: parameters.seed,
        services: SERVICES.length,
        mix: BATCH_MIX,
        opxStop: stopWith,
        opxRoot: parameters.opxRoot,
        // Others may rebuild while we run; the build time says which code was measured.
        opxBuiltAt: wantOpx ? buildTime(parameters.opxRoot) : null,
        opxStaleBuild: wantOpx ? (staleBuildWarning(parameters.opxRoot) ?? null) : null,
        cpuProfile: parameters.cpuProfile,
        sqlProfile: parameters.sqlProfile,
      },
      targets: Object.fromEntries(targets.map((target) => [target.name, target])),
      ratios: { throughput: throughputRatio, p99: p99Ratio },
      thresholds: limits,
      verification: verification ?? null,
      profile: profile ?? null,
      sqlTimings: sqlTimings ?? null,
    });
    printReport(targets, { throughput: throughputRatio, p99: p99Ratio }, limits, verification, profile);
    if (sqlTimings) printSqlTimings(sqlTimings);
    process.stdout.write(`\nresults: ${path.relative(process.cwd(), parameters.out)}\n`);

    if (
      (opxResult && opxResult.errors.non2xx + opxResult.errors.network > 0) ||
      verification?.pass === false
    ) {
      exitCode = 1;
    }
    if (parameters.strict && limits.some((limit) => limit.pass === false)) exitCode = 1;
  } catch (error) {
    if (interrupt.signal.aborted) exitCode = 130;
    else throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    // Reverse order: servers stop before their directories go.
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        progress(`cleanup failed: ${(error as Error).message}`);
      }
    }
  }
  return exitCode;
}
