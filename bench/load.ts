import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Table from 'cli-table3';
import pg from 'pg';
import { integerFlag, parseFlags, readArgs } from './support/cli.js';
import { REPO_ROOT, shippedNodeFlags } from './support/opx.js';
import { freshDatabase } from './support/postgres.js';
import { freePort, ManagedProcess, readMemory, waitForHttp } from './support/processes.js';
import { round, summarizeLatencies } from './support/stats.js';

const USAGE = `usage: npm run bench -- load [flags]

The fleet on PostgreSQL under load: one API process (opx serve --role api) and N worker processes
(opx serve --role worker), each run on a fresh database.

1. For each worker count: 100 incidents open at once (100 investigations queued together) while
   repeat alerts arrive at a fixed rate. Reported: ingest throughput and request latency (detection
   is synchronous: an incident exists when its alert's 2xx returns), investigation latency from
   detection to completion, investigations per second, and each process's peak RSS.
2. History growth, with one worker: resolved signals are added to the store (10k, 100k, 1M in all)
   and, at each size, a batch of repeat alerts and one fresh investigation are timed, and the plans
   of the hot queries are checked with EXPLAIN (an index, not a sequential scan, on signals).

  --workers <list>   worker counts (default 1,2,4)
  --rate <n>         repeat alerts per second during phase 1 (default 400)
  --incidents <n>    incidents opened at once in phase 1 (default 100)
  --history <list>   signal counts for phase 2 (default 10000,100000,1000000; "" skips)
  --database <url>   PostgreSQL server (default OPX_TEST_POSTGRES_URL or postgres://postgres@127.0.0.1:5432/test);
                     a database is created and dropped per run
  --out <file>       results (default bench/results/load.json)`;

interface Parameters {
  workers: number[];
  rate: number;
  incidents: number;
  history: number[];
  database: string;
  out: string;
}

function list(value: string | undefined, fallback: number[], name: string): number[] {
  if (value === undefined) return fallback;
  if (value.trim() === '') return [];
  return value.split(',').map((part) => integerFlag(part.trim(), name, 0, 1, 10_000_000));
}

function parseParameters(argv: string[]): Parameters | 'help' {
  const values = readArgs(argv, {
    workers: { type: 'string' },
    rate: { type: 'string' },
    incidents: { type: 'string' },
    history: { type: 'string' },
    database: { type: 'string' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) return 'help';
  return {
    workers: list(values.workers as string | undefined, [1, 2, 4], 'workers'),
    rate: integerFlag(values.rate as string | undefined, 'rate', 400, 1, 100_000),
    incidents: integerFlag(values.incidents as string | undefined, 'incidents', 100, 1, 10_000),
    history: list(values.history as string | undefined, [10_000, 100_000, 1_000_000], 'history'),
    database:
      (values.database as string | undefined) ??
      process.env.OPX_TEST_POSTGRES_URL ??
      'postgres://postgres@127.0.0.1:5432/test',
    out: path.resolve(
      (values.out as string | undefined) ?? path.join(REPO_ROOT, 'bench', 'results', 'load.json'),
    ),
  };
}

const ADMIN = 'opx-load-bench-admin-token-0123456789';
const BIN = path.join(REPO_ROOT, 'bin', 'opx.js');
/** The bin and the node flags it gives itself when run as `opx` (bench/support/opx.ts). */
const OPX = [...shippedNodeFlags(REPO_ROOT), BIN];
const progress = (line: string) => process.stderr.write(`[load] ${line}\n`);

/** A fresh database on the server, dropped by `drop()`. */
function environment(url: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('OPX_')) env[name] = value;
  return {
    ...env,
    OPX_DATABASE_URL: url,
    OPX_ADMIN_TOKEN: ADMIN,
    OPX_LOG_LEVEL: 'warn',
    OPX_INVESTIGATE_DELAY_SECONDS: '0',
    OPX_GUARDRAIL_HASH_KEY: 'opx-load-bench-shared-hash-key',
  };
}

async function startFleet(url: string, workers: number) {
  const env = environment(url);
  const migrated = spawnSync(process.execPath, [...OPX, 'migrate'], { env, encoding: 'utf8' });
  if (migrated.status !== 0) throw new Error(`opx migrate failed: ${migrated.stderr}`);
  const port = await freePort();
  const api = new ManagedProcess(
    'opx api',
    process.execPath,
    [...OPX, 'serve', '--role', 'api', '--port', String(port)],
    { env },
  );
  const base = `http://127.0.0.1:${port}`;
  await waitForHttp(`${base}/healthz`, api);
  const fleet = Array.from(
    { length: workers },
    (_, index) =>
      new ManagedProcess(`opx worker ${index + 1}`, process.execPath, [...OPX, 'serve', '--role', 'worker'], {
        env,
      }),
  );
  return {
    base,
    api,
    workers: fleet,
    memory: () => ({
      apiPeakRssBytes: readMemory(api.child.pid!)?.peakRssBytes ?? null,
      workerPeakRssBytes: fleet.map((worker) => readMemory(worker.child.pid!)?.peakRssBytes ?? null),
    }),
    async stop() {
      await Promise.all([api, ...fleet].map((child) => child.stop('SIGTERM')));
    },
  };
}

async function post(
  base: string,
  signals: unknown[],
): Promise<{ ms: number; status: number; created: number }> {
  const started = performance.now();
  const response = await fetch(`${base}/v1/signals`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ signals }),
  });
  const body = (await response.json()) as { incidents?: { created: string[] } };
  return {
    ms: performance.now() - started,
    status: response.status,
    created: body.incidents?.created.length ?? 0,
  };
}

const signal = (service: string, fingerprint: string, severity = 'critical') => ({
  service,
  environment: 'production',
  severity,
  title: `HighErrorRate on ${service}`,
  fingerprint,
});

/** Phase 1 for one worker count. */
async function underLoad(parameters: Parameters, workers: number) {
  const database = await freshDatabase(parameters.database, `opx_load_${process.pid}_${workers}`);
  const fleet = await startFleet(database.url, workers);
  const db = new pg.Client({ connectionString: database.url });
  await db.connect();
  try {
    // Background traffic: warnings on a fixed set of services (deduplicated repeats, no incidents).
    const repeats = Array.from({ length: 200 }, (_, index) =>
      signal(`steady-${index}`, `steady-${index}`, 'warning'),
    );
    const latencies: number[] = [];
    let accepted = 0;
    let failed = 0;
    let running = true;
    const perTick = Math.max(1, Math.round(parameters.rate / 10));
    const traffic = (async () => {
      let offset = 0;
      while (running) {
        const tick = performance.now();
        const batch = Array.from(
          { length: perTick },
          (_, index) => repeats[(offset + index) % repeats.length],
        );
        offset += perTick;
        const result = await post(fleet.base, batch).catch(() => ({ ms: 0, status: 0, created: 0 }));
        if (result.status === 200) {
          accepted += batch.length;
          latencies.push(result.ms);
        } else failed += 1;
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, 100 - (performance.now() - tick))));
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 2000));
    // The burst: every incident opens in one request, so all investigations are queued together.
    const started = performance.now();
    const burst = await post(
      fleet.base,
      Array.from({ length: parameters.incidents }, (_, index) => signal(`burst-${index}`, `burst-${index}`)),
    );
    if (burst.created !== parameters.incidents)
      throw new Error(`the burst opened ${burst.created} incidents`);
    const trafficFrom = performance.now();
    const acceptedBefore = accepted;
    for (;;) {
      const { rows } = await db.query(
        `SELECT count(*)::int AS n FROM investigations WHERE status = 'completed'`,
      );
      if (rows[0].n >= parameters.incidents) break;
      if (performance.now() - started > 300_000)
        throw new Error('the investigations did not finish within 5 minutes');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const drainSeconds = (performance.now() - started) / 1000;
    running = false;
    await traffic;
    const trafficSeconds = (performance.now() - trafficFrom) / 1000;
    const { rows } = await db.query(
      `SELECT (inv.finished_at - i.detected_at)::float8 AS ms FROM investigations inv JOIN incidents i ON i.id = inv.incident_id WHERE inv.status = 'completed'`,
    );
    const investigation = summarizeLatencies(rows.map((row) => Number(row.ms)))!;
    const memory = fleet.memory();
    progress(
      `${workers} worker(s): ${parameters.incidents} investigations in ${round(drainSeconds, 1)} s, p99 ${round(investigation.p99)} ms from detection; ingest ${Math.round((accepted - acceptedBefore) / trafficSeconds)} alerts/s`,
    );
    return {
      workers,
      investigations: parameters.incidents,
      investigationsPerSecond: round(parameters.incidents / drainSeconds, 2),
      investigationLatencyMs: investigation,
      burstRequestMs: round(burst.ms),
      ingest: {
        targetAlertsPerSecond: parameters.rate,
        acceptedAlertsPerSecond: Math.round((accepted - acceptedBefore) / trafficSeconds),
        requestLatencyMs: summarizeLatencies(latencies),
        failedRequests: failed,
      },
      memory,
    };
  } finally {
    await db.end();
    await fleet.stop();
    await database.drop();
  }
}

const EXPLAINED = {
  'firing signals by open key (every ingest batch)': `SELECT id FROM signals WHERE open_key IN ('prom:hist-1', 'prom:hist-2') ORDER BY id FOR UPDATE`,
  'signals of a service in a window (evidence)': `SELECT id FROM signals WHERE service = 'hist-svc-7' AND received_at >= $NOW - 3600000 ORDER BY received_at`,
  'resolves re-sent for an activation': `SELECT id FROM signals WHERE dedup_key = 'gen:hist-42' AND starts_at = 1`,
};

/** Phase 2: how ingest and investigation cost grow with stored signals. */
async function withHistory(parameters: Parameters) {
  const database = await freshDatabase(parameters.database, `opx_load_${process.pid}_history`);
  const fleet = await startFleet(database.url, 1);
  const db = new pg.Client({ connectionString: database.url });
  await db.connect();
  const out = [];
  try {
    let stored = 0;
    let round_ = 0;
    for (const target of parameters.history) {
      const add = target - stored;
      if (add > 0) {
        const now = Date.now();
        // Resolved signals over the last 90 days on 500 services, as a long-lived store holds them.
        await db.query(
          `INSERT INTO signals (id, source, fingerprint, dedup_key, open_key, status, severity, service, environment,
             region, title, description, labels, annotations, metric, links, starts_at, ends_at, received_at,
             last_seen_at, occurrences, acknowledged_at, suppressed_by, raw)
           SELECT 'sig_hist_' || g, 'generic', 'hist-' || g, 'gen:hist-' || g, NULL, 'resolved', 'warning',
             'hist-svc-' || (g % 500), 'production', NULL, 'HighLatency on hist-svc-' || (g % 500), NULL, '{}', '{}',
             NULL, '[]', t, t + 600000, t, t + 600000, 1, NULL, NULL, NULL
           FROM (SELECT g, ($1::bigint - (g * 7777) % 7776000000) AS t FROM generate_series($2::bigint, $3::bigint) AS g) AS s`,
          [now, stored + 1, target],
        );
        await db.query('ANALYZE signals');
        stored = target;
      }
      // A batch of repeat alerts, 20 times.
      const batchMs: number[] = [];
      const repeat = Array.from({ length: 100 }, (_, index) =>
        signal(`steady-${index}`, `steady-${index}`, 'warning'),
      );
      for (let i = 0; i < 20; i += 1) batchMs.push((await post(fleet.base, repeat)).ms);
      // One fresh incident, investigated by the worker.
      round_ += 1;
      const opened = await post(fleet.base, [signal(`hist-svc-${round_}`, `fresh-${round_}`)]);
      if (opened.created !== 1) throw new Error('the fresh alert opened no incident');
      const deadline = Date.now() + 120_000;
      let investigationMs: number | null = null;
      while (Date.now() < deadline) {
        const { rows } = await db.query(
          `SELECT (inv.finished_at - inv.started_at)::float8 AS ms FROM investigations inv JOIN incidents i ON i.id = inv.incident_id
             WHERE i.services LIKE $1 AND inv.status = 'completed'`,
          [`%hist-svc-${round_}"%`],
        );
        if (rows.length > 0) {
          investigationMs = Number(rows[0].ms);
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const plans: Record<string, { usesIndex: boolean; plan: string }> = {};
      for (const [name, sql] of Object.entries(EXPLAINED)) {
        const { rows } = await db.query(`EXPLAIN ${sql.replace('$NOW', String(Date.now()))}`);
        const plan = rows.map((row) => row['QUERY PLAN']).join('\n');
        plans[name] = { usesIndex: !/Seq Scan on signals/.test(plan), plan };
      }
      const summary = summarizeLatencies(batchMs)!;
      progress(
        `${target.toLocaleString('en-US')} signals: batch p50 ${round(summary.p50)} ms, investigation ${investigationMs === null ? '?' : round(investigationMs)} ms, indexes ${Object.values(plans).every((plan) => plan.usesIndex) ? 'used' : 'NOT used'}`,
      );
      out.push({ signals: target, batchLatencyMs: summary, investigationMs, plans });
    }
    return { results: out, memory: fleet.memory() };
  } finally {
    await db.end();
    await fleet.stop();
    await database.drop();
  }
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseFlags(argv, parseParameters, USAGE);
  if (!parsed.ok) return parsed.exitCode;
  const parameters = parsed.parameters;
  const fleets = [];
  for (const workers of parameters.workers) fleets.push(await underLoad(parameters, workers));
  const history = parameters.history.length > 0 ? await withHistory(parameters) : null;
  const results = {
    benchmark: 'load',
    at: new Date().toISOString(),
    parameters: { ...parameters, database: parameters.database.replace(/\/\/[^@]*@/, '//') },
    machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
    fleets,
    history,
  };
  mkdirSync(path.dirname(parameters.out), { recursive: true });
  writeFileSync(parameters.out, `${JSON.stringify(results, null, 2)}\n`);
  const mib = (bytes: number | null) => (bytes === null ? '?' : `${Math.round(bytes / 1048576)}`);
  const table = new Table({
    head: [
      'workers',
      'investigations/s',
      'investigation p50 / p99 ms',
      'ingest alerts/s',
      'ingest p99 ms',
      'peak RSS MiB (api; workers)',
    ],
  });
  for (const fleet of fleets)
    table.push([
      fleet.workers,
      fleet.investigationsPerSecond,
      `${round(fleet.investigationLatencyMs.p50)} / ${round(fleet.investigationLatencyMs.p99)}`,
      `${fleet.ingest.acceptedAlertsPerSecond} of ${fleet.ingest.targetAlertsPerSecond}`,
      round(fleet.ingest.requestLatencyMs?.p99 ?? 0),
      `${mib(fleet.memory.apiPeakRssBytes)}; ${fleet.memory.workerPeakRssBytes.map(mib).join(', ')}`,
    ]);
  process.stdout.write(`\n${table.toString()}\n`);
  if (history) {
    const growth = new Table({
      head: [
        'stored signals',
        'batch of 100 p50 / p99 ms',
        'one investigation ms',
        'hot queries use indexes',
      ],
    });
    for (const row of history.results)
      growth.push([
        row.signals.toLocaleString('en-US'),
        `${round(row.batchLatencyMs.p50)} / ${round(row.batchLatencyMs.p99)}`,
        row.investigationMs === null ? '?' : round(row.investigationMs),
        Object.values(row.plans).every((plan) => plan.usesIndex) ? 'yes' : 'NO',
      ]);
    process.stdout.write(`${growth.toString()}\n`);
  }
  process.stdout.write(`results: ${path.relative(process.cwd(), parameters.out)}\n`);
  return 0;
}
