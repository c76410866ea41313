import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import Table from 'cli-table3';
import { parseBackstageCatalog } from '../src/catalog/backstage.js';
import { configSchema } from '../src/config/index.js';
import { importHistory, readHistoryDirectory } from '../src/incidents/history.js';
import { investigateIncident } from '../src/investigate/service.js';
import { importKnowledge, readKnowledgeDirectory } from '../src/knowledge/import.js';
import { costOf, DEFAULT_PRICES } from '../src/llm/pricing.js';
import { startStandInModel } from '../src/llm/stand-in.js';
import { openRuntime, type Runtime } from '../src/runtime.js';
import { seededRandom } from './support/alerts.js';
import { integerFlag, parseFlags, readArgs } from './support/cli.js';
import { REPO_ROOT } from './support/opx.js';
import { round, summarizeLatencies } from './support/stats.js';

const USAGE = `usage: npm run bench -- tokens [flags]

Runs investigations in LLM mode against the stand-in model (src/llm/stand-in.ts, the one \`opx fake-llm\`
serves: it answers each agent with the engine finding from its prompt) after a fixed delay, and measures what the six agents send and receive, counted with
the o200k_base BPE tokenizer (js-tiktoken; other vendors' tokenizers count somewhat differently):

  demo        the demo's incident (three alerts on api-gateway, a deploy on its dependency)
  generated   incidents of three alerts on a random service of the example topology, with a deploy
              on its first dependency, over a store seeded like the demo (topology, runbooks,
              postmortems, past incidents and changes)

Wall time: one investigation with the server's delay on every call, against one call alone.

  --cases <n>      generated incidents (default 20)
  --delay-ms <n>   the fake server's delay per call (default 500)
  --seed <n>       which services the generated incidents hit (default 1)
  --out <file>     results file (default bench/results/tokens.json)`;

const TARGETS = { tokensPerInvestigation: 12_000, wallToOneCall: 2.5 } as const;
const EXAMPLES = path.join(REPO_ROOT, 'examples');

interface Parameters {
  cases: number;
  delayMs: number;
  seed: number;
  out: string;
}

function parseParameters(argv: string[]): Parameters | 'help' {
  const values = readArgs(argv, {
    cases: { type: 'string', default: '20' },
    'delay-ms': { type: 'string', default: '500' },
    seed: { type: 'string', default: '1' },
    out: { type: 'string', default: path.join(REPO_ROOT, 'bench', 'results', 'tokens.json') },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) return 'help';
  return {
    cases: integerFlag(values.cases, 'cases', 0, 1),
    delayMs: integerFlag(values['delay-ms'], 'delay-ms', 0, 0),
    seed: integerFlag(values.seed, 'seed', 0, 0),
    out: path.resolve(values.out),
  };
}

async function seed(runtime: Runtime) {
  const catalog = parseBackstageCatalog(
    readFileSync(path.join(EXAMPLES, 'topology', 'catalog-info.yaml'), 'utf8'),
  );
  if (!catalog.ok) throw new Error(catalog.error.message);
  await runtime.store.services.upsertMany(catalog.services);
  const knowledge = readKnowledgeDirectory(path.join(EXAMPLES, 'kb'));
  await runtime.writes.run((scope) => importKnowledge(scope, knowledge.prepared));
  await runtime.writes.run((scope) =>
    importHistory(scope, readHistoryDirectory(path.join(EXAMPLES, 'history')), 'bench'),
  );
  return catalog.services;
}

/** Opens an incident of three alerts on `service` (with a deploy on its first dependency). */
async function openIncident(
  runtime: Runtime,
  service: { name: string; dependsOn: string[] },
  environment: string,
): Promise<string> {
  const now = Date.now();
  return runtime.writes.run(async (scope) => {
    await scope.changes.insert({
      kind: 'deploy',
      service: service.dependsOn[0] ?? service.name,
      environment,
      versionFrom: 'v2.14.0',
      versionTo: 'v2.15.0',
      summary: 'connection pool settings reworked',
      startedAt: now - 14 * 60_000,
      links: [],
      source: 'bench',
    });
    const alerts: [string, 'critical' | 'warning' | 'error', string, number][] = [
      ['HighErrorRate', 'critical', `5xx ratio above 5% on ${service.name}`, 9],
      ['HighLatencyP99', 'warning', `p99 latency 2.4s on ${service.name} (SLO 800ms)`, 8],
      ['UpstreamTimeouts', 'error', `Upstream timeouts from ${service.name}`, 7],
    ];
    const result = await runtime.ingest.ingestInScope(
      scope,
      alerts.map(([alertname, severity, title, minutesAgo]) => ({
        source: 'generic' as const,
        fingerprint: `${environment}-${alertname}`,
        status: 'firing' as const,
        severity,
        service: service.name,
        environment,
        title,
        labels: { alertname },
        annotations: {},
        links: [],
        startsAt: now - minutesAgo * 60_000,
      })),
      'bench',
    );
    const id = result.incidentsCreated[0];
    if (!id) throw new Error(`no incident opened for ${service.name}`);
    return id;
  });
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseFlags(argv, parseParameters, USAGE);
  if (!parsed.ok) return parsed.exitCode;
  const params = parsed.parameters;
  const fake = await startStandInModel({ delayMs: params.delayMs });
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'opx-bench-tokens-'));
  const runtime = await openRuntime(
    configSchema.parse({
      dataDir,
      logLevel: 'silent',
      autoInvestigate: false,
      llmProvider: 'openai-compatible',
      llmModel: 'bench-model',
      llmBaseUrl: fake.url,
    }),
  );
  try {
    const services = await seed(runtime);
    const measure = async (service: { name: string; dependsOn: string[] }, environment: string) => {
      const incidentId = await openIncident(runtime, service, environment);
      const before = fake.exchanges.length;
      const started = performance.now();
      const result = await investigateIncident(runtime, incidentId, { principal: 'bench' });
      const wallMs = performance.now() - started;
      const exchanges = fake.exchanges.slice(before);
      const degraded = result.findings.filter((finding) => finding.degraded).length;
      return {
        calls: exchanges.length,
        promptTokens: exchanges.reduce((sum, exchange) => sum + exchange.promptTokens, 0),
        answerTokens: exchanges.reduce((sum, exchange) => sum + exchange.answerTokens, 0),
        maxPromptTokens: Math.max(...exchanges.map((exchange) => exchange.promptTokens)),
        wallMs,
        degraded,
      };
    };
    const gateway = services.find((service) => service.name === 'api-gateway') ?? services[0]!;
    process.stderr.write('demo incident…\n');
    const demo = await measure(gateway, 'demo');
    const random = seededRandom(params.seed);
    const generated = [];
    for (let index = 0; index < params.cases; index += 1) {
      const service = services[Math.floor(random() * services.length)]!;
      generated.push(await measure(service, `generated-${index}`));
      if ((index + 1) % 5 === 0 || index + 1 === params.cases)
        process.stderr.write(`generated incidents: ${index + 1}/${params.cases}\n`);
    }
    // One call alone, the same way the agents make it, for the wall-time ratio.
    const single = performance.now();
    await fetch(`${fake.url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'bench-model',
        messages: [
          {
            role: 'user',
            content:
              'ENGINE FINDING (deterministic analysis; confidence 0.5)\nsummary: x\n\nEVIDENCE\ninc_x: x',
          },
        ],
      }),
    });
    const oneCallMs = performance.now() - single;

    const totals = generated.map((item) => item.promptTokens + item.answerTokens);
    // What these counts would cost at Claude Sonnet 4.5 list prices (no prompt caching).
    const sonnet = (item: { promptTokens: number; answerTokens: number }) =>
      costOf(
        {
          inputTokens: item.promptTokens,
          outputTokens: item.answerTokens,
          cacheReadTokens: null,
          cacheWriteTokens: null,
        },
        'claude-sonnet-4-5',
        DEFAULT_PRICES,
      )!;
    const sonnetCosts = generated.map(sonnet).sort((a, b) => a - b);
    const walls = generated.map((item) => item.wallMs);
    const totalSummary = summarizeLatencies(totals)!;
    const wallSummary = summarizeLatencies(walls)!;
    const results = {
      benchmark: 'tokens',
      at: new Date().toISOString(),
      tokenizer: 'o200k_base (js-tiktoken)',
      parameters: { ...params, out: undefined },
      demo: { ...demo, total: demo.promptTokens + demo.answerTokens },
      generated: {
        cases: generated.length,
        tokensPerInvestigation: totalSummary,
        promptTokensMean: round(
          generated.reduce((sum, item) => sum + item.promptTokens, 0) / generated.length,
          0,
        ),
        answerTokensMean: round(
          generated.reduce((sum, item) => sum + item.answerTokens, 0) / generated.length,
          0,
        ),
        largestPrompt: Math.max(...generated.map((item) => item.maxPromptTokens)),
        degradedFindings: generated.reduce((sum, item) => sum + item.degraded, 0),
        wallMs: wallSummary,
      },
      usdPerInvestigationAtSonnet45: {
        demo: sonnet(demo),
        generatedMedian: sonnetCosts[Math.floor((sonnetCosts.length - 1) / 2)]!,
      },
      oneCallMs: round(oneCallMs),
      wallToOneCall: round(wallSummary.p50 / oneCallMs),
      targets: TARGETS,
    };
    mkdirSync(path.dirname(params.out), { recursive: true });
    writeFileSync(params.out, `${JSON.stringify(results, null, 2)}\n`);
    const table = new Table({ head: ['measure', 'value', 'target'] });
    table.push(
      [
        'demo investigation: tokens in + out (calls)',
        `${demo.promptTokens} + ${demo.answerTokens} (${demo.calls})`,
        `≤ ${TARGETS.tokensPerInvestigation}`,
      ],
      [
        `generated (${generated.length}): tokens per investigation p50 / max`,
        `${totalSummary.p50} / ${totalSummary.max}`,
        `≤ ${TARGETS.tokensPerInvestigation}`,
      ],
      ['largest single prompt (tokens)', results.generated.largestPrompt, ''],
      [
        'USD per investigation at Claude Sonnet 4.5 list prices (demo / generated median)',
        `$${results.usdPerInvestigationAtSonnet45.demo.toFixed(4)} / $${results.usdPerInvestigationAtSonnet45.generatedMedian.toFixed(4)}`,
        '',
      ],
      ['findings degraded (invalid answers)', results.generated.degradedFindings, '0'],
      [
        `wall p50 with ${params.delayMs} ms per call ÷ one call`,
        `${wallSummary.p50} ms ÷ ${round(oneCallMs)} ms = ${results.wallToOneCall}×`,
        `≤ ${TARGETS.wallToOneCall}×`,
      ],
    );
    process.stdout.write(`${table.toString()}\nresults: ${path.relative(process.cwd(), params.out)}\n`);
    return 0;
  } finally {
    await runtime.close();
    await fake.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
