import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import Table from 'cli-table3';
import fc from 'fast-check';
import { POSTGRES_URL } from '../test/support.js';
import { integerFlag, parseFlags, readArgs, UsageError } from './support/cli.js';
import { otherMethodsByUrl, requestArbitrary } from './support/fuzz/generators.js';
import { type CaseFailure, checkIncidentChains, runCase } from './support/fuzz/properties.js';
import { type FuzzRequest, type RouteSpec, routeSpecs } from './support/fuzz/routes.js';
import { startFuzzTarget } from './support/fuzz/target.js';
import { writesBetween } from './support/fuzz/writes.js';
import { runCliFuzz } from './support/fuzz-cli.js';
import { REPO_ROOT } from './support/opx.js';
import { round } from './support/stats.js';

const USAGE = `usage: npm run bench -- fuzz [flags]

Fuzzes every HTTP route buildServer registers (bench/support/fuzz.ts holds one valid request per
route and the generators) on a real server on a loopback port, then the CLI parsers in-process.
Per case: an answer arrives, it is not a 5xx, a 4xx has OPX's error shape. Routes that may write run
one case at a time and count committed row writes (a trigger per table) around each case: a 4xx or
an idempotent replay must write nothing, a 2xx must read back. Read routes run --concurrency cases
at a time and must write nothing at all. After each writing route, every incident's event chain
must still verify. The per-token rate limit is off for the run.

  --cases <n>         cases per route (default 10000)
  --costly-cases <n>  cases for routes whose 2xx is slow work, not a request (POST
                      /v1/incidents/:id/investigations runs an investigation, ~0.4 s each);
                      default: --cases
  --cli-cases <n>     cases for the CLI parsers (default 2000)
  --concurrency <n>   requests in flight for read routes (default 4)
  --backend <name>    sqlite, postgres or both (default: sqlite, and postgres when
                      OPX_TEST_POSTGRES_URL is set)
  --route <text>      only routes whose "METHOD /url" contains this text
  --seed <n>          fast-check seed (default 2026)
  --out <file>        results file (default bench/results/fuzz.json)
  --help              this text`;

interface Parameters {
  cases: number;
  cliCases: number;
  costlyCases: number;
  concurrency: number;
  backends: ('sqlite' | 'postgres')[];
  route?: string;
  seed: number;
  out: string;
}

function parseParameters(argv: string[]): Parameters | 'help' {
  const values = readArgs(argv, {
    cases: { type: 'string' },
    'cli-cases': { type: 'string' },
    'costly-cases': { type: 'string' },
    concurrency: { type: 'string' },
    backend: { type: 'string' },
    route: { type: 'string' },
    seed: { type: 'string' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return 'help';
  const backend = values.backend ?? (POSTGRES_URL ? 'both' : 'sqlite');
  if (!['sqlite', 'postgres', 'both'].includes(backend))
    throw new UsageError(`--backend must be sqlite, postgres or both (got ${JSON.stringify(backend)})`);
  if (backend !== 'sqlite' && !POSTGRES_URL)
    throw new UsageError('--backend postgres needs OPX_TEST_POSTGRES_URL (postgres://…)');
  const cases = integerFlag(values.cases, 'cases', 10_000, 1);
  return {
    cases,
    costlyCases: integerFlag(values['costly-cases'], 'costly-cases', cases, 1),
    cliCases: integerFlag(values['cli-cases'], 'cli-cases', 2000, 0),
    concurrency: integerFlag(values.concurrency, 'concurrency', 4, 1, 64),
    backends: backend === 'both' ? ['sqlite', 'postgres'] : [backend as 'sqlite' | 'postgres'],
    ...(values.route ? { route: values.route } : {}),
    seed: integerFlag(values.seed, 'seed', 2026, 0),
    out: path.resolve(values.out ?? path.join(REPO_ROOT, 'bench', 'results', 'fuzz.json')),
  };
}

interface RouteResult {
  route: string;
  mode: 'one at a time, writes counted per case' | 'concurrent, no writes allowed';
  cases: number;
  failures: number;
  statuses: Record<string, number>;
  seconds: number;
  examples: CaseFailure[];
}

/** Requests in chunks, so 10,000 cases with bodies up to 300 kB never sit in memory at once. */
function* samples(arbitrary: fc.Arbitrary<FuzzRequest>, cases: number, seed: number): Generator<FuzzRequest> {
  const chunk = 250;
  for (let start = 0; start < cases; start += chunk)
    yield* fc.sample(arbitrary, { numRuns: Math.min(chunk, cases - start), seed: seed + start });
}

const isRead = (spec: RouteSpec) => spec.route.startsWith('GET ');

async function fuzzBackend(
  backend: 'sqlite' | 'postgres',
  parameters: Parameters,
  crashes: string[],
): Promise<{ routes: RouteResult[]; coverage: { missing: string[]; stale: string[] } }> {
  const target = await startFuzzTarget(backend, parameters.concurrency);
  try {
    const specs = routeSpecs();
    const known = new Set(specs.map((spec) => spec.route));
    const missing = target.routes.filter((route) => !known.has(route));
    const stale = [...known].filter((route) => !target.routes.includes(route));
    const others = otherMethodsByUrl(target.routes);
    const results: RouteResult[] = [];
    for (const spec of specs) {
      if (parameters.route && !spec.route.includes(parameters.route)) continue;
      const url = spec.route.split(' ')[1]!;
      const arbitrary = requestArbitrary(spec, target.context, others.get(url) ?? []);
      const result: RouteResult = {
        route: spec.route,
        mode: isRead(spec) ? 'concurrent, no writes allowed' : 'one at a time, writes counted per case',
        cases: 0,
        failures: 0,
        statuses: {},
        seconds: 0,
        examples: [],
      };
      const fail = (failure: CaseFailure) => {
        result.failures += 1;
        if (result.examples.length < 5) result.examples.push(failure);
      };
      const count = (status: number | undefined) => {
        const key = status === undefined ? 'none' : `${Math.floor(status / 100)}xx`;
        result.statuses[key] = (result.statuses[key] ?? 0) + 1;
      };
      // Status classes are counted from what runCase saw; a wrapper client records them.
      const client = {
        ...target.client,
        send: async (request: FuzzRequest) => {
          const response = await target.client.send(request);
          if (request.route === spec.route) count(response.status);
          return response;
        },
      };
      const started = performance.now();
      const writesBefore = await target.writes();
      const requests = samples(
        arbitrary,
        spec.costly ? parameters.costlyCases : parameters.cases,
        parameters.seed,
      );
      if (isRead(spec)) {
        const worker = async () => {
          for (const request of requests) {
            result.cases += 1;
            const failure = await runCase(client, spec, request, target.context);
            if (failure) fail(failure);
          }
        };
        await Promise.all(Array.from({ length: parameters.concurrency }, worker));
        const written = writesBetween(writesBefore, await target.writes());
        if (written.length > 0)
          fail({
            route: spec.route,
            variant: 'all',
            problem: `a read route wrote over the run: ${written.join(', ')}`,
            request: { method: spec.route.split(' ')[0]!, path: url, headers: {} },
          });
      } else {
        for (const request of requests) {
          result.cases += 1;
          const failure = await runCase(client, spec, request, target.context, target.writes);
          if (failure) fail(failure);
        }
        const broken = await checkIncidentChains(target.client);
        if (broken)
          fail({
            route: spec.route,
            variant: 'all',
            problem: broken,
            request: { method: spec.route.split(' ')[0]!, path: url, headers: {} },
          });
      }
      result.seconds = round((performance.now() - started) / 1000, 1);
      results.push(result);
      process.stdout.write(
        `${backend} ${spec.route}: ${result.cases} cases, ${result.failures} failures, ${result.seconds} s ${JSON.stringify(result.statuses)}\n`,
      );
      for (const crash of crashes.splice(0))
        fail({
          route: spec.route,
          variant: 'process',
          problem: crash,
          request: { method: '', path: '', headers: {} },
        });
    }
    return { routes: results, coverage: { missing, stale } };
  } finally {
    await target.close();
  }
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseFlags(argv, parseParameters, USAGE);
  if (!parsed.ok) return parsed.exitCode;
  const { parameters } = parsed;
  // The server runs in this process: anything it throws outside a request is a crash to report.
  const crashes: string[] = [];
  const onCrash = (error: unknown) => crashes.push(`process: ${(error as Error)?.stack ?? String(error)}`);
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
  const started = performance.now();
  const backends: Record<string, Awaited<ReturnType<typeof fuzzBackend>>> = {};
  try {
    for (const backend of parameters.backends)
      backends[backend] = await fuzzBackend(backend, parameters, crashes);
  } finally {
    process.off('uncaughtException', onCrash);
    process.off('unhandledRejection', onCrash);
  }
  const cli =
    parameters.cliCases > 0 && !parameters.route
      ? await runCliFuzz(parameters.cliCases, parameters.seed)
      : undefined;

  const table = new Table({
    head: ['backend', 'route', 'mode', 'cases', 'failures', '2xx', '4xx', 's'],
    style: { head: [], border: [] },
  });
  let failures = 0;
  for (const [backend, result] of Object.entries(backends)) {
    for (const route of result.routes) {
      failures += route.failures;
      table.push([
        backend,
        route.route,
        route.mode.startsWith('one') ? 'serial' : 'concurrent',
        route.cases,
        route.failures,
        route.statuses['2xx'] ?? 0,
        route.statuses['4xx'] ?? 0,
        route.seconds,
      ]);
    }
    failures += result.coverage.missing.length + result.coverage.stale.length;
  }
  process.stdout.write(`${table.toString()}\n`);
  for (const [backend, result] of Object.entries(backends)) {
    if (result.coverage.missing.length)
      process.stdout.write(`${backend}: routes without a generator: ${result.coverage.missing.join(', ')}\n`);
    if (result.coverage.stale.length)
      process.stdout.write(`${backend}: generators without a route: ${result.coverage.stale.join(', ')}\n`);
    for (const route of result.routes)
      for (const example of route.examples)
        process.stdout.write(`${backend} FAIL ${JSON.stringify(example)}\n`);
  }
  if (cli) {
    failures += cli.failures;
    process.stdout.write(`CLI parsers: ${cli.cases} cases, ${cli.failures} failures, ${cli.seconds} s\n`);
    for (const example of cli.examples) process.stdout.write(`CLI FAIL ${JSON.stringify(example)}\n`);
  }
  const seconds = round((performance.now() - started) / 1000, 1);
  process.stdout.write(`total: ${failures} failures in ${seconds} s\n`);

  const output = {
    benchmark: 'fuzz',
    at: new Date().toISOString(),
    machine: { cpus: os.cpus().length, node: process.version },
    parameters: { ...parameters, out: path.relative(REPO_ROOT, parameters.out) },
    seconds,
    failures,
    backends: Object.fromEntries(
      Object.entries(backends).map(([backend, result]) => [
        backend,
        {
          routes: result.routes.length,
          cases: result.routes.reduce((sum, route) => sum + route.cases, 0),
          failures: result.routes.reduce((sum, route) => sum + route.failures, 0),
          coverage: result.coverage,
          perRoute: result.routes,
        },
      ]),
    ),
    ...(cli ? { cli } : {}),
  };
  mkdirSync(path.dirname(parameters.out), { recursive: true });
  writeFileSync(parameters.out, `${JSON.stringify(output, null, 2)}\n`);
  process.stdout.write(`wrote ${path.relative(REPO_ROOT, parameters.out)}\n`);
  return failures === 0 ? 0 : 1;
}
