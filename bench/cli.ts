import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Table from 'cli-table3';
import { parseFlags, readArgs, UsageError } from './support/cli.js';
import { REPO_ROOT, shippedNodeFlags, startOpx } from './support/opx.js';
import { sourceProvenance } from './support/provenance.js';
import { round, summarizeLatencies } from './support/stats.js';

const USAGE = `usage: npm run bench -- cli [flags]

How long a CLI command takes from start to exit, as a user runs it (node bin/opx.js …, the build in
dist/), against \`node -e 0\` measured in the same run, interleaved, so a busy machine slows both:
  opx --version
  opx incidents list                  local: a SQLite store with 200 incidents
  opx --server … incidents list       remote: the same store behind opx serve, a read token
Reports each command's median and p90 over --runs runs, and the median as a multiple of node -e 0's.

  --runs <n>       runs per command (default 15)
  --opx-root <dir> the checkout whose build to run (default this one; npm run build first)
  --out <file>     results file (default bench/results/cli.json)
  --help           this text`;

const TARGETS = { version: 3, localList: 5 } as const;

function timeOnce(args: readonly string[], env: NodeJS.ProcessEnv): number {
  const started = performance.now();
  const result = spawnSync(process.execPath, args, { env, encoding: 'utf8' });
  const elapsed = performance.now() - started;
  if (result.status !== 0)
    throw new Error(`${args.join(' ')} exited ${result.status}: ${result.stderr.slice(0, 500)}`);
  return elapsed;
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseFlags(
    argv,
    (args) => {
      const values = readArgs(args, {
        runs: { type: 'string' },
        'opx-root': { type: 'string' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      });
      if (values.help) return 'help';
      const runs = Number(values.runs ?? 15);
      if (!Number.isInteger(runs) || runs < 3 || runs > 1000) throw new UsageError('--runs must be 3-1000');
      return {
        runs,
        opxRoot: path.resolve(values['opx-root'] ?? REPO_ROOT),
        out: path.resolve(values.out ?? path.join(REPO_ROOT, 'bench', 'results', 'cli.json')),
      };
    },
    USAGE,
  );
  if (!parsed.ok) return parsed.exitCode;
  const { runs, opxRoot, out } = parsed.parameters;
  const bin = path.join(opxRoot, 'bin', 'opx.js');
  // The node flags the bin gives itself when run as `opx`.
  const shipped = shippedNodeFlags(opxRoot);
  const work = mkdtempSync(path.join(os.tmpdir(), 'opx-bench-cli-'));
  const dataDir = path.join(work, 'data');
  mkdirSync(dataDir);
  const adminToken = 'bench-cli-admin-token-0123456789';
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('OPX_')) env[name] = value;
  const opx = await startOpx({ root: opxRoot, dataDir, adminToken });
  try {
    // 200 incidents, one critical alert each, through the API as a sender would put them.
    const signals = Array.from({ length: 200 }, (_, index) => ({
      source: 'generic',
      service: `service-${index}`,
      severity: 'critical',
      title: `service-${index} 5xx above 5%`,
      labels: { alertname: 'HighErrorRate' },
    }));
    const response = await fetch(`${opx.url}/v1/signals`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(signals),
    });
    if (!response.ok) throw new Error(`seeding answered ${response.status}: ${await response.text()}`);

    const commands = {
      baseline: ['-e', '0'],
      version: [...shipped, bin, '--version'],
      localList: [...shipped, bin, '--data-dir', dataDir, 'incidents', 'list', '--limit', '50'],
      remoteList: [...shipped, bin, '--server', opx.url, 'incidents', 'list', '--limit', '50'],
    } as const;
    const remoteEnv = { ...env, OPX_TOKEN: adminToken };
    const samples: Record<keyof typeof commands, number[]> = {
      baseline: [],
      version: [],
      localList: [],
      remoteList: [],
    };
    for (let index = 0; index < runs; index += 1) {
      for (const name of Object.keys(commands) as (keyof typeof commands)[])
        samples[name].push(timeOnce(commands[name], name === 'remoteList' ? remoteEnv : env));
      process.stderr.write(`\r[cli] run ${index + 1}/${runs}`);
    }
    process.stderr.write('\n');
    const summary = Object.fromEntries(
      (Object.keys(samples) as (keyof typeof commands)[]).map((name) => [
        name,
        summarizeLatencies(samples[name])!,
      ]),
    ) as Record<keyof typeof commands, NonNullable<ReturnType<typeof summarizeLatencies>>>;
    const ratio = (name: keyof typeof commands) => round(summary[name].p50 / summary.baseline.p50, 1);

    const table = new Table({ head: ['command', 'p50 ms', 'p90 ms', '× node -e 0 (p50)', 'target'] });
    const rows: [keyof typeof commands, string, string][] = [
      ['baseline', 'node -e 0', ''],
      ['version', 'opx --version', `≤ ${TARGETS.version}×`],
      ['localList', 'opx incidents list (local SQLite)', `≤ ${TARGETS.localList}×`],
      ['remoteList', 'opx --server … incidents list', ''],
    ];
    for (const [name, label, target] of rows)
      table.push([
        label,
        summary[name].p50,
        summary[name].p90,
        name === 'baseline' ? '1' : ratio(name),
        target,
      ]);
    process.stdout.write(`CLI start-up to exit, ${runs} runs each, interleaved\n${table.toString()}\n`);

    const result = {
      bench: 'cli',
      date: new Date().toISOString(),
      opx: sourceProvenance(opxRoot),
      parameters: { runs, incidents: 200, listLimit: 50 },
      definitions: {
        time: 'wall time from spawning node to its exit, as spawnSync sees it',
        ratio: "the command's p50 over node -e 0's p50 in the same run",
      },
      targets: TARGETS,
      summary,
      ratios: { version: ratio('version'), localList: ratio('localList'), remoteList: ratio('remoteList') },
    };
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`results: ${path.relative(process.cwd(), out)}\n`);
    return 0;
  } finally {
    await opx.process.stop('SIGTERM', 5000);
    rmSync(work, { recursive: true, force: true });
  }
}
