/**
 * `npm run bench -- <name> [flags]`: runs one benchmark. Benchmarks are loaded only when chosen, so
 * one with a heavy setup never slows down another.
 */

interface Benchmark {
  description: string;
  load(): Promise<{ run(argv: string[]): Promise<number> }>;
}

const BENCHMARKS: Record<string, Benchmark> = {
  ingest: {
    description: 'alert ingest: OPX vs a real Alertmanager on POST /api/v2/alerts',
    load: () => import('./ingest.js'),
  },
  cli: {
    description: 'CLI start-up: opx --version and incidents list (local, remote) against node -e 0',
    load: () => import('./cli.js'),
  },
  notify: {
    description:
      "notifications: an incident's first message at a local receiver, after its investigation answers",
    load: () => import('./notify.js'),
  },
  investigate: {
    description: 'investigation latency on a store with a past, and N incidents investigated at once',
    load: () => import('./investigate.js'),
  },
  petshop: {
    description: 'root-cause ranking on the PetShop dataset: top-1, top-3, specificity',
    load: () => import('./petshop.js'),
  },
  pii: {
    description:
      'guardrail recognizers: PII precision/recall (presidio), secrets corpus recall and FPs, MB/s',
    load: () => import('./pii.js'),
  },
  tokens: {
    description: 'LLM mode: tokens per investigation (o200k_base) and wall time against one call',
    load: () => import('./tokens.js'),
  },
  kb: {
    description:
      'a runbook repo as published through kb import, then recall@1/@3 of the right runbook per alert',
    load: () => import('./kb.js'),
  },
  quality: {
    description: 'root-cause quality: seeded synthetic incidents over the example topology, scored',
    load: () => import('./quality.js'),
  },
  outages: {
    description:
      'outages from public post-incident reports replayed into opx serve: pages per outage, origin and culprit top-1',
    load: () => import('./outages.js'),
  },
  load: {
    description: 'the fleet on PostgreSQL: 1/2/4 workers under load, and cost as history grows to 1M signals',
    load: () => import('./load.js'),
  },
  fuzz: {
    description: 'fast-check over every HTTP route and the CLI parsers: no 5xx, no crash, no partial write',
    load: () => import('./fuzz.js'),
  },
  trust: {
    description:
      'trust calibration (accuracy per trust bucket) and grounding: injected hallucinations caught',
    load: () => import('./trust.js'),
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(BENCHMARKS).map((name) => name.length));
  const lines = Object.entries(BENCHMARKS).map(
    ([name, benchmark]) => `  ${name.padEnd(width)}  ${benchmark.description}`,
  );
  return `usage: npm run bench -- <name> [flags]   (<name> --help lists its flags)\n\navailable benchmarks:\n${lines.join('\n')}\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const benchmark = Object.hasOwn(BENCHMARKS, name) ? BENCHMARKS[name] : undefined;
  if (!benchmark) {
    process.stderr.write(`unknown benchmark ${JSON.stringify(name)}\n\n${usage()}`);
    return 2;
  }
  return (await benchmark.load()).run(rest);
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
}
