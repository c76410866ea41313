import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Table from 'cli-table3';
import { readKnowledgeDirectory } from '../src/knowledge/import.js';
import { KnowledgeIndex } from '../src/knowledge/search.js';
import { parseFlags, readArgs } from './support/cli.js';
import { REPO_ROOT } from './support/opx.js';

const USAGE = `usage: npm run bench -- kb [flags]

A runbook repository as published (bench/data/runbooks-realworld: 24 runbooks for common Prometheus
alerts in three shapes: static-site front matter, none, OPX's own; plus a README, a section page, an
empty file and a Latin-1 file) goes through the importer \`opx kb import\` uses, then the product's
knowledge search answers one query per runbook from queries.json, two ways:
  alert     the alert name alone (what an alert carries)
  symptoms  a one-sentence summary without the alert name
A query is a hit at k when the expected runbook is among the first k distinct documents. Reports what
was imported, ignored and skipped, recall@1 and recall@3 per way, and every miss.

  --dir <dir>    the repository (default bench/data/runbooks-realworld)
  --out <file>   results file (default bench/results/kb.json)
  --help         this text`;

interface Query {
  alert: string;
  symptoms: string;
  expected: string;
}

/** Distinct documents in rank order. */
function documents(hits: readonly { path: string }[]): string[] {
  return [...new Set(hits.map((hit) => hit.path))];
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseFlags(
    argv,
    (args) => {
      const values = readArgs(args, {
        dir: { type: 'string' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      });
      if (values.help) return 'help';
      return {
        dir: path.resolve(values.dir ?? path.join(REPO_ROOT, 'bench', 'data', 'runbooks-realworld')),
        out: path.resolve(values.out ?? path.join(REPO_ROOT, 'bench', 'results', 'kb.json')),
      };
    },
    USAGE,
  );
  if (!parsed.ok) return parsed.exitCode;
  const { dir, out } = parsed.parameters;

  let queries: Query[];
  try {
    queries = JSON.parse(readFileSync(path.join(dir, 'queries.json'), 'utf8')) as Query[];
  } catch (error) {
    process.stderr.write(`${path.join(dir, 'queries.json')}: ${(error as Error).message}\n`);
    return 2;
  }
  const { prepared, skipped, ignored } = readKnowledgeDirectory(dir);
  const index = new KnowledgeIndex(
    prepared.map((item) => item.document),
    prepared.flatMap((item) => item.chunks),
  );
  const ways = {
    alert: (query: Query) => index.search({ alert: query.alert, limit: 10, perDocument: 1 }),
    symptoms: (query: Query) => index.search({ text: query.symptoms, limit: 10, perDocument: 1 }),
  };
  const results: Record<string, { recallAt1: number; recallAt3: number; misses: unknown[] }> = {};
  const table = new Table({ head: ['query', 'n', 'recall@1', 'recall@3'], style: { head: [], border: [] } });
  for (const [way, ask] of Object.entries(ways)) {
    let at1 = 0;
    let at3 = 0;
    const misses: unknown[] = [];
    for (const query of queries) {
      const ranked = documents(ask(query));
      if (ranked[0] === query.expected) at1 += 1;
      if (ranked.slice(0, 3).includes(query.expected)) at3 += 1;
      else misses.push({ alert: query.alert, expected: query.expected, got: ranked.slice(0, 3) });
    }
    const round = (value: number) => Math.round((value / queries.length) * 1000) / 1000;
    results[way] = { recallAt1: round(at1), recallAt3: round(at3), misses };
    table.push([way, queries.length, round(at1).toFixed(3), round(at3).toFixed(3)]);
  }

  process.stdout.write(
    `\nImported ${prepared.length} documents from ${path.relative(REPO_ROOT, dir) || dir} ` +
      `: ignored ${ignored.length}; skipped ${skipped.length}\n`,
  );
  for (const item of ignored) process.stdout.write(`  ignored ${item.path}: ${item.reason}\n`);
  for (const item of skipped) process.stdout.write(`  skipped ${item.path}: ${item.reason}\n`);
  process.stdout.write(`${table.toString()}\n`);
  for (const [way, result] of Object.entries(results))
    for (const miss of result.misses) process.stdout.write(`miss (${way}): ${JSON.stringify(miss)}\n`);

  const output = {
    benchmark: 'kb',
    dir: path.relative(REPO_ROOT, dir) || dir,
    imported: prepared.length,
    ignored,
    skipped,
    documents: prepared.map((item) => ({
      path: item.path,
      title: item.document.title,
      kind: item.document.kind,
      alerts: item.document.alerts,
    })),
    queries: queries.length,
    results,
  };
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(output, null, 2)}\n`);
  process.stdout.write(`results: ${path.relative(REPO_ROOT, out)}\n`);
  return 0;
}
