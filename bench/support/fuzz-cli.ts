/**
 * CLI fuzzing shared by `npm run bench -- fuzz` and test/fuzz.test.ts: arbitrary argv through
 * buildProgram().parseAsync in-process against a throwaway data directory, and the input-file
 * parsers (ingest payloads, history import, kb import, Backstage catalogs, config files) called
 * directly. The property: a usage error (CommanderError) or an OpxError, or success; never a
 * TypeError, RangeError or any other crash.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { type Command, CommanderError } from 'commander';
import fc from 'fast-check';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { parseBackstageCatalog } from '../../src/catalog/backstage.js';
import { buildProgram } from '../../src/cli/main.js';
import { loadConfig } from '../../src/config/index.js';
import { OpxError } from '../../src/domain/errors.js';
import { readHistoryDirectory } from '../../src/incidents/history.js';
import { ADAPTERS, INGEST_FORMATS } from '../../src/ingest/adapters/index.js';
import { readKnowledgeDirectory } from '../../src/knowledge/import.js';
import { parseMarkdown } from '../../src/knowledge/markdown.js';
import { mutate } from './fuzz/generators.js';
import { REPO_ROOT } from './opx.js';

/**
 * Commands left out: they serve, loop or listen until stopped (serve, worker, fake-llm, jobs run),
 * or run a whole demo. `-` (standard input) is never generated: a test must not block on stdin.
 */
const SKIPPED_COMMANDS = new Set(['serve', 'worker', 'fake-llm', 'demo']);
/** Global options the harness sets itself: a fuzzed value would write outside the scratch directory or dial a host. */
const RESERVED_OPTIONS = new Set(['--data-dir', '--database-url', '--config']);

interface CommandShape {
  path: string[];
  options: { flag: string; takesValue: boolean; mandatory: boolean }[];
  arguments: number;
}

function commandShapes(program: Command): CommandShape[] {
  const shapes: CommandShape[] = [];
  const walk = (command: Command, prefix: string[]) => {
    for (const child of command.commands) {
      if (SKIPPED_COMMANDS.has(child.name())) continue;
      const commandPath = [...prefix, child.name()];
      shapes.push({
        path: commandPath,
        options: child.options
          .flatMap((option) =>
            [option.long, option.short]
              .filter((flag): flag is string => Boolean(flag))
              .map((flag) => ({
                flag,
                takesValue: option.required || option.optional,
                mandatory: option.mandatory && flag === option.long,
              })),
          )
          .filter((option) => !RESERVED_OPTIONS.has(option.flag)),
        arguments: child.registeredArguments.length,
      });
      walk(child, commandPath);
    }
  };
  walk(program, []);
  return shapes;
}

export interface CliFailure {
  kind: string;
  input: string;
  error: string;
}

/** An argv value: ids, times, numbers, enum-ish words, nasty text, and paths to the scratch files. */
function valueArbitrary(files: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constantFrom(...files),
    fc.constantFrom(
      'inc_00000000000000000000000000',
      'SEV1',
      'SEV9',
      'OPEN,BOGUS',
      'prometheus',
      'generic',
      'deploy',
      'admin',
      'read,write',
      'service=api',
      'service=~(',
      'service!~.*',
      '2026-11-26T10:00:00Z',
      'yesterday',
      '0',
      '-1',
      '1e9',
      'NaN',
      '',
      ' ',
      '--',
      '-x',
      '--json',
    ),
    fc.string({ maxLength: 30 }).filter((text) => text !== '-'),
    fc.string({ unit: 'grapheme', maxLength: 30 }).filter((text) => text !== '-'),
    fc.integer({ min: 500, max: 20_000 }).map((length) => 'z'.repeat(length)),
  );
}

export function argvArbitrary(
  files: readonly string[],
  shapes: readonly CommandShape[],
): fc.Arbitrary<string[]> {
  const value = valueArbitrary(files);
  return fc
    .tuple(
      fc.constantFrom(...shapes),
      fc.array(fc.tuple(fc.nat(), fc.boolean(), value), { maxLength: 5 }),
      fc.array(value, { minLength: 4, maxLength: 4 }),
      fc.boolean(),
      fc.oneof(
        { weight: 4, arbitrary: fc.constant([]) },
        { weight: 1, arbitrary: fc.array(value, { maxLength: 2 }) },
      ),
      fc.array(value, { minLength: 3, maxLength: 3 }),
      fc.integer({ min: -1, max: 1 }),
    )
    .map(([shape, chosen, positionals, json, junk, mandatoryValues, arity]) => {
      const argv = [...(json ? ['--json'] : []), ...shape.path];
      // Required options are mostly given, so most cases get past commander to the command itself.
      shape.options
        .filter((option) => option.mandatory)
        .forEach((option, index) => {
          if (arity === -1 && index === 0) return;
          argv.push(option.flag, mandatoryValues[index % mandatoryValues.length]!);
        });
      for (const [pick, withValue, optionValue] of chosen) {
        const option = shape.options[pick % Math.max(1, shape.options.length)];
        if (!option) continue;
        argv.push(option.flag);
        if (option.takesValue || withValue) argv.push(optionValue);
      }
      argv.push(...positionals.slice(0, Math.max(0, shape.arguments + arity)), ...junk);
      return argv.filter((part) => !RESERVED_OPTIONS.has(part));
    });
}

/** A scratch directory with a data dir and input files whose content each case rewrites. */
export interface CliScratch {
  root: string;
  dataDir: string;
  /** Every command of the CLI with its options, to build argument lists from. */
  shapes: readonly CommandShape[];
  files: {
    json: string;
    yaml: string;
    markdownDir: string;
    historyDir: string;
    config: string;
    missing: string;
  };
  cleanup(): void;
}

export async function cliScratch(): Promise<CliScratch> {
  const shapes = commandShapes(await buildProgram());
  const root = mkdtempSync(path.join(os.tmpdir(), 'opx-fuzz-cli-'));
  const dataDir = path.join(root, 'data');
  const markdownDir = path.join(root, 'kb');
  const historyDir = path.join(root, 'history');
  mkdirSync(dataDir);
  mkdirSync(markdownDir);
  mkdirSync(historyDir);
  return {
    root,
    dataDir,
    shapes,
    files: {
      json: path.join(root, 'input.json'),
      yaml: path.join(root, 'input.yaml'),
      markdownDir,
      historyDir,
      config: path.join(root, 'opx.config.yaml'),
      missing: path.join(root, 'does-not-exist'),
    },
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

const read = (...parts: string[]) => readFileSync(path.join(REPO_ROOT, ...parts), 'utf8');
const VALID = {
  ingest: () =>
    JSON.parse(read('src', 'ingest', 'adapters', 'fixtures', 'prometheus-alerts.json')) as unknown,
  catalog: () =>
    parseYaml(read('examples', 'topology', 'catalog-info.yaml').split(/^---$/m)[1] ?? 'a: 1') as unknown,
  history: () => (parseYaml(read('examples', 'history', 'incidents.yaml')) as unknown[]).slice(0, 2),
  changes: () => (parseYaml(read('examples', 'history', 'changes.yaml')) as unknown[]).slice(0, 2),
  markdown: `---\ntitle: Pool exhausted\nkind: runbook\nservices: [payment-service]\nalerts: [HighErrorRate]\n---\n# Symptoms\nerrors\n## Mitigation\nroll back\n`,
  config: { logLevel: 'silent', port: 8080, bodyLimitBytes: 1048576, rateLimitPerMinute: 0, corsOrigins: [] },
};

const replacement: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.string({ unit: 'grapheme', maxLength: 50 }),
  fc.constantFrom(null, -1, 1e308, '', [], {}, '2026-99-99', 'SEV0'),
);
const mutated = (valid: () => unknown) =>
  fc
    .tuple(fc.array(fc.nat(40), { minLength: 1, maxLength: 5 }), replacement)
    .map(([choices, value]) => mutate(valid(), choices, value));
/** Text for a YAML or Markdown file: a mutated valid document, or garbage. */
const documentText = (valid: () => unknown) =>
  fc.oneof(
    fc.constant(null).map(() => stringifyYaml(valid())),
    mutated(valid).map((value) => stringifyYaml(value)),
    fc.string({ unit: 'grapheme', maxLength: 400 }),
    fc.constantFrom(
      '---\n---\n',
      '*a',
      '&a [*a]',
      'a: !!binary ???',
      ': :',
      '- [',
      '\t\tx: 1',

      'x: &a\n  - *a',
    ),
  );

/** One CLI case: which parser, and its input. */
export type CliCase =
  | { kind: 'argv'; argv: string[]; file: string; yaml: string; markdown: string }
  | { kind: 'ingest-adapter'; format: (typeof INGEST_FORMATS)[number]; body: unknown }
  | { kind: 'backstage'; text: string }
  | { kind: 'config'; text: string; env: Record<string, string> }
  | { kind: 'markdown'; text: string }
  | { kind: 'history'; incidents: string; changes: string }
  | { kind: 'kb'; markdown: string };

export function cliCaseArbitrary(scratch: CliScratch): fc.Arbitrary<CliCase> {
  const { files } = scratch;
  const paths = [files.json, files.yaml, files.markdownDir, files.historyDir, files.missing, scratch.root];
  const markdown = fc.oneof(
    fc.constant(VALID.markdown),
    fc
      .tuple(fc.nat(VALID.markdown.length), fc.string({ unit: 'grapheme', maxLength: 40 }))
      .map(([at, text]) => `${VALID.markdown.slice(0, at)}${text}${VALID.markdown.slice(at)}`),
    fc.string({ unit: 'grapheme', maxLength: 300 }),
  );
  return fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('argv' as const),
        argv: argvArbitrary(paths, scratch.shapes),
        file: fc.oneof(
          mutated(VALID.ingest).map((value) => JSON.stringify(value) ?? 'null'),
          fc.string({ maxLength: 200 }),
        ),
        yaml: documentText(VALID.catalog),
        markdown,
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('ingest-adapter' as const),
        format: fc.constantFrom(...INGEST_FORMATS),
        body: fc.oneof(mutated(VALID.ingest), fc.jsonValue()),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant('backstage' as const), text: documentText(VALID.catalog) }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('config' as const),
        text: documentText(() => VALID.config),
        env: fc.dictionary(
          fc.constantFrom(
            'OPX_PORT',
            'OPX_LOG_LEVEL',
            'OPX_BODY_LIMIT_BYTES',
            'OPX_AUTO_RESOLVE',
            'OPX_RATE_LIMIT_PER_MINUTE',
            'OPX_CORS_ORIGINS',
            'OPX_ADMIN_TOKEN',
            'OPX_BUDGET_MONTHLY_USD',
          ),
          fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('true', 'no', '-1', '1e400', 'NaN', '0x1F')),
        ),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('markdown' as const), text: markdown }) },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('history' as const),
        incidents: documentText(VALID.history),
        changes: documentText(VALID.changes),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('kb' as const), markdown }) },
  );
}

export type CliOutcome = 'ok' | 'usage-error' | 'opx-error';

/** Runs one case: how it ended, or a failure when something other than a usage error or an OpxError escaped. */
export async function runCliCase(scratch: CliScratch, input: CliCase): Promise<CliOutcome | CliFailure> {
  const { files } = scratch;
  const describe = (error: unknown): CliFailure => ({
    kind: input.kind,
    input: JSON.stringify(input).slice(0, 600),
    error: (error as Error)?.stack?.split('\n').slice(0, 4).join(' | ') ?? String(error),
  });
  try {
    switch (input.kind) {
      case 'argv': {
        writeFileSync(files.json, input.file);
        writeFileSync(files.yaml, input.yaml);
        writeFileSync(path.join(files.markdownDir, 'doc.md'), input.markdown);
        writeFileSync(path.join(files.historyDir, 'incidents.yaml'), input.yaml);
        const program = await buildProgram();
        program.configureOutput({ writeOut: () => {}, writeErr: () => {} });
        for (const command of program.commands)
          command.configureOutput({ writeOut: () => {}, writeErr: () => {} });
        // Commands print with process.stdout.write; the fuzz run keeps its own output readable.
        const stdout = process.stdout.write;
        const stderr = process.stderr.write;
        const exitCode = process.exitCode;
        process.stdout.write = (() => true) as typeof process.stdout.write;
        process.stderr.write = (() => true) as typeof process.stderr.write;
        try {
          await program.parseAsync(['--data-dir', scratch.dataDir, ...input.argv], { from: 'user' });
        } finally {
          process.stdout.write = stdout;
          process.stderr.write = stderr;
          process.exitCode = exitCode;
        }
        return 'ok';
      }
      case 'ingest-adapter': {
        const result = ADAPTERS[input.format](input.body, { now: Date.now() });
        return typeof result.ok === 'boolean' ? 'ok' : describe(new Error('the adapter returned no result'));
      }
      case 'backstage': {
        const result = parseBackstageCatalog(input.text);
        return typeof result.ok === 'boolean' ? 'ok' : describe(new Error('no result'));
      }
      case 'config':
        writeFileSync(files.config, input.text);
        loadConfig({ file: files.config, env: input.env, cwd: scratch.root });
        return 'ok';
      case 'markdown':
        parseMarkdown(input.text);
        return 'ok';
      case 'history':
        writeFileSync(path.join(files.historyDir, 'incidents.yaml'), input.incidents);
        writeFileSync(path.join(files.historyDir, 'changes.yaml'), input.changes);
        readHistoryDirectory(files.historyDir);
        return 'ok';
      case 'kb':
        writeFileSync(path.join(files.markdownDir, 'doc.md'), input.markdown);
        readKnowledgeDirectory(files.markdownDir);
        return 'ok';
    }
  } catch (error) {
    if (error instanceof CommanderError) return 'usage-error';
    if (error instanceof OpxError) return 'opx-error';
    return describe(error);
  }
}

/** The bench's CLI part: `cases` cases, failures with their inputs. */
export async function runCliFuzz(
  cases: number,
  seed: number,
): Promise<{
  cases: number;
  failures: number;
  seconds: number;
  /** Cases per parser and how they ended. */
  byKind: Record<string, Partial<Record<CliOutcome | 'crash', number>>>;
  examples: CliFailure[];
}> {
  const scratch = await cliScratch();
  const started = performance.now();
  const byKind: Record<string, Partial<Record<CliOutcome | 'crash', number>>> = {};
  const examples: CliFailure[] = [];
  let failures = 0;
  try {
    for (const input of fc.sample(cliCaseArbitrary(scratch), { numRuns: cases, seed })) {
      const result = await runCliCase(scratch, input);
      const outcome = typeof result === 'string' ? result : 'crash';
      const counts = byKind[input.kind] ?? {};
      counts[outcome] = (counts[outcome] ?? 0) + 1;
      byKind[input.kind] = counts;
      if (typeof result !== 'string') {
        failures += 1;
        if (examples.length < 10) examples.push(result);
      }
    }
  } finally {
    scratch.cleanup();
  }
  return { cases, failures, seconds: Math.round((performance.now() - started) / 100) / 10, byKind, examples };
}
