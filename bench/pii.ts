import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import Table from 'cli-table3';
import { DEFAULT_POLICY, type Entity, type Policy, scan } from '../src/guardrails/engine.js';
import { ENTITY_TYPES, type EntityType, isSecretType } from '../src/guardrails/recognizers.js';
import { vendorMatches } from '../src/guardrails/vendor.js';
import { parseFlags, readArgs, UsageError } from './support/cli.js';
import { REPO_ROOT } from './support/opx.js';
import { VENDOR_FORMATS, vendorNegatives, vendorPositives } from './support/vendor-corpus.js';

const USAGE = `usage: npm run bench -- pii [flags]

Guardrail recognizers (src/guardrails) measured two ways:
1. presidio-research's synthetic PII dataset (1,500 sentences, MIT): precision and recall per entity
   type, on the even-indexed records (the half the recognizers were tuned on) and the odd-indexed
   records (held out) separately. Presidio labels are mapped onto OPX types in one table here;
   labels with no OPX recognizer (PERSON, STREET_ADDRESS, ...) are listed as not covered.
2. bench/data/secrets-corpus.jsonl: log lines with labelled secrets and look-alike non-secrets
   (hashes, UUIDs, git SHAs, base64): recall per secret type, and every false positive.
3. the vendor-token corpus (bench/support/vendor-corpus.ts, generated from a fixed seed): ${VENDOR_FORMATS.length}
   credential formats written from the vendors' published formats, each in 5 log-line shapes; a token
   is found when the scan blocks and the redacted text no longer holds it. False positives: 1,200
   lines of UUIDs, hashes, ULIDs, pod names, trace ids, offsets, digests and ARNs in which any entity
   at all counts. Default policy.
Span matching: a prediction matches a gold span of the same (mapped) type when their character
overlap is at least 50% of the gold span and at least 50% of the predicted span. Every recognizer is
on for the dataset (URL too); the corpus runs under the default policy (URL off). The score
threshold is the default policy's.
Throughput: the engine over every text of both sets, --iterations times, in MB/s, against a baseline
of one trivial regex pass (/[A-Za-z0-9]{20,}/g) over the same texts.

  --dataset <dir>      holds presidio_synth_dataset_v2.json (default bench/data/pii)
  --corpus <file>      secrets corpus (default bench/data/secrets-corpus.jsonl)
  --iterations <n>     throughput passes (default 20)
  --out <file>         results file (default bench/results/pii.json)
  --help               this text`;

/** Presidio label -> OPX entity type; null: no OPX recognizer for it. */
const PRESIDIO_MAP: Record<string, EntityType | null> = {
  EMAIL_ADDRESS: 'EMAIL',
  CREDIT_CARD: 'CREDIT_DEBIT_CARD_NUMBER',
  IBAN_CODE: 'INTERNATIONAL_BANK_ACCOUNT_NUMBER',
  US_SSN: 'US_SOCIAL_SECURITY_NUMBER',
  PHONE_NUMBER: 'PHONE',
  IP_ADDRESS: 'IP_ADDRESS',
  DOMAIN_NAME: 'URL',
  US_DRIVER_LICENSE: 'DRIVER_ID',
  PERSON: null,
  STREET_ADDRESS: null,
  ORGANIZATION: null,
  GPE: null,
  DATE_TIME: null,
  AGE: null,
  ZIP_CODE: null,
  TITLE: null,
  NRP: null,
};
const STRUCTURED: readonly EntityType[] = [
  'EMAIL',
  'CREDIT_DEBIT_CARD_NUMBER',
  'INTERNATIONAL_BANK_ACCOUNT_NUMBER',
  'US_SOCIAL_SECURITY_NUMBER',
  'PHONE',
  'IP_ADDRESS',
];
const TARGETS = {
  structured: { recall: 0.99, precision: 0.95 },
  secrets: { recall: 1 },
  vendor: { recall: 0.98, falsePositiveRate: 0.01 },
} as const;
const BENCH_POLICY: Policy = {
  entities: Object.fromEntries(
    ENTITY_TYPES.map((type) => [type, DEFAULT_POLICY.entities[type] ?? 'ANONYMIZE']),
  ),
  minScore: DEFAULT_POLICY.minScore ?? 0.5,
};
for (const type of ENTITY_TYPES)
  if (BENCH_POLICY.entities[type] === 'OFF') BENCH_POLICY.entities[type] = 'ANONYMIZE';

interface Parameters {
  dataset: string;
  corpus: string;
  iterations: number;
  out: string;
}

function parseParameters(argv: string[]): Parameters | 'help' {
  const values = readArgs(argv, {
    dataset: { type: 'string' },
    corpus: { type: 'string' },
    iterations: { type: 'string' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return 'help';
  const iterations = Number(values.iterations ?? 20);
  if (!Number.isInteger(iterations) || iterations < 1)
    throw new UsageError(
      `--iterations must be a positive integer (got ${JSON.stringify(values.iterations)})`,
    );
  return {
    dataset: path.resolve(values.dataset ?? path.join(REPO_ROOT, 'bench', 'data', 'pii')),
    corpus: path.resolve(values.corpus ?? path.join(REPO_ROOT, 'bench', 'data', 'secrets-corpus.jsonl')),
    iterations,
    out: path.resolve(values.out ?? path.join(REPO_ROOT, 'bench', 'results', 'pii.json')),
  };
}

interface Span {
  type: string;
  start: number;
  end: number;
}

interface Labelled {
  text: string;
  spans: Span[];
}

function overlaps(gold: Span, predicted: { start: number; end: number }): boolean {
  const shared = Math.min(gold.end, predicted.end) - Math.max(gold.start, predicted.start);
  return (
    shared > 0 && shared >= 0.5 * (gold.end - gold.start) && shared >= 0.5 * (predicted.end - predicted.start)
  );
}

interface Counts {
  gold: number;
  predicted: number;
  truePositives: number;
  /** Gold spans found (recall numerator); differs from truePositives when one prediction covers two. */
  found: number;
}

const ratio = (numerator: number, denominator: number) =>
  denominator === 0 ? null : Math.round((numerator / denominator) * 1000) / 1000;

interface Scored {
  counts: Map<string, Counts>;
  falsePositives: { index: number; type: string; value: string; recognizer: string; score: number }[];
  misses: { index: number; type: string; value: string }[];
}

/** Scores predictions against gold spans whose types are already OPX types. */
function score(
  records: readonly { index: number; item: Labelled }[],
  types: ReadonlySet<string>,
  policy: Policy = BENCH_POLICY,
): Scored {
  const counts = new Map<string, Counts>();
  const bucket = (type: string) => {
    let entry = counts.get(type);
    if (!entry) {
      entry = { gold: 0, predicted: 0, truePositives: 0, found: 0 };
      counts.set(type, entry);
    }
    return entry;
  };
  const falsePositives: Scored['falsePositives'] = [];
  const misses: Scored['misses'] = [];
  for (const { index, item } of records) {
    const entities: Entity[] = scan(item.text, policy).entities;
    const gold = item.spans.filter((span) => types.has(span.type));
    for (const span of gold) {
      bucket(span.type).gold += 1;
      if (entities.some((entity) => entity.type === span.type && overlaps(span, entity)))
        bucket(span.type).found += 1;
      else misses.push({ index, type: span.type, value: item.text.slice(span.start, span.end) });
    }
    for (const entity of entities) {
      if (!types.has(entity.type)) continue;
      bucket(entity.type).predicted += 1;
      if (gold.some((span) => span.type === entity.type && overlaps(span, entity)))
        bucket(entity.type).truePositives += 1;
      else
        falsePositives.push({
          index,
          type: entity.type,
          value: item.text.slice(entity.start, entity.end),
          recognizer: entity.recognizer,
          score: entity.score,
        });
    }
  }
  return { counts, falsePositives, misses };
}

function summary(counts: Counts | undefined) {
  const c = counts ?? { gold: 0, predicted: 0, truePositives: 0, found: 0 };
  return { ...c, precision: ratio(c.truePositives, c.predicted), recall: ratio(c.found, c.gold) };
}

const fmt = (value: number | null) => (value === null ? '–' : value.toFixed(3));

function throughput(texts: readonly string[], iterations: number) {
  const bytes = texts.reduce((sum, text) => sum + Buffer.byteLength(text, 'utf8'), 0) * iterations;
  const time = (work: (text: string) => number) => {
    for (const text of texts) work(text); // warm-up
    const started = performance.now();
    let sink = 0;
    for (let round = 0; round < iterations; round += 1) for (const text of texts) sink += work(text);
    const seconds = (performance.now() - started) / 1000;
    return { seconds, sink };
  };
  const engine = time((text) => scan(text, BENCH_POLICY).entities.length);
  // The part of the engine's time spent in secretlint's rules (vendor.ts), measured alone.
  const vendor = time((text) => vendorMatches(text, () => true).length);
  const baseline = time((text) => {
    let found = 0;
    const pattern = /[A-Za-z0-9]{20,}/g;
    while (pattern.exec(text) !== null) found += 1;
    return found;
  });
  const mbps = (seconds: number) => Math.round((bytes / 1e6 / seconds) * 100) / 100;
  return {
    bytesPerPass: bytes / iterations,
    iterations,
    engineMBps: mbps(engine.seconds),
    baselineMBps: mbps(baseline.seconds),
    engineToBaseline: Math.round((engine.seconds / baseline.seconds) * 10) / 10,
    vendorShareOfEngine: Math.round((vendor.seconds / engine.seconds) * 100) / 100,
  };
}

/** Recall over generated vendor tokens and false positives over look-alike identifiers. */
function vendorCorpus() {
  const positives = vendorPositives();
  const misses = positives.filter((sample) => {
    const result = scan(sample.text, DEFAULT_POLICY);
    return result.action !== 'block' || result.redacted.includes(sample.secret);
  });
  const perFormat: Record<string, { samples: number; found: number }> = {};
  for (const sample of positives) {
    perFormat[sample.format] ??= { samples: 0, found: 0 };
    const entry = perFormat[sample.format]!;
    entry.samples += 1;
    if (!misses.includes(sample)) entry.found += 1;
  }
  const negatives = vendorNegatives();
  const falsePositives = negatives.flatMap((sample) => {
    const { entities } = scan(sample.text, DEFAULT_POLICY);
    if (entities.length === 0) return [];
    const found = entities
      .map((entity) => `${entity.type} ${JSON.stringify(sample.text.slice(entity.start, entity.end))}`)
      .join(', ');
    return [{ kind: sample.kind, text: sample.text, found }];
  });
  return {
    samples: positives.length,
    found: positives.length - misses.length,
    recall: ratio(positives.length - misses.length, positives.length),
    perFormat,
    misses: misses.map(({ format, text }) => ({ format, text })),
    negatives: negatives.length,
    falsePositives,
    falsePositiveRate: ratio(falsePositives.length, negatives.length),
  };
}

interface PresidioRecord {
  full_text: string;
  spans: { entity_type: string; start_position: number; end_position: number }[];
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseFlags(argv, parseParameters, USAGE);
  if (!parsed.ok) return parsed.exitCode;
  const { parameters } = parsed;

  let presidio: PresidioRecord[];
  let corpus: (Labelled & { note?: string })[];
  const datasetFile = path.join(parameters.dataset, 'presidio_synth_dataset_v2.json');
  try {
    presidio = JSON.parse(readFileSync(datasetFile, 'utf8')) as PresidioRecord[];
    corpus = readFileSync(parameters.corpus, 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as Labelled & { note?: string });
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 2;
  }
  for (const [index, item] of corpus.entries())
    for (const span of item.spans)
      if (
        !(ENTITY_TYPES as readonly string[]).includes(span.type) ||
        span.end <= span.start ||
        span.end > item.text.length
      ) {
        process.stderr.write(`${parameters.corpus}: line ${index + 1}: bad span ${JSON.stringify(span)}\n`);
        return 2;
      }

  // 1. presidio, per half.
  const unmapped = new Map<string, number>();
  const mappedTypes = new Set(
    Object.values(PRESIDIO_MAP).filter((type): type is EntityType => type !== null),
  );
  const records = presidio.map((record, index) => ({
    index,
    item: {
      text: record.full_text,
      spans: record.spans.flatMap((span) => {
        const type = PRESIDIO_MAP[span.entity_type];
        if (!type) {
          unmapped.set(span.entity_type, (unmapped.get(span.entity_type) ?? 0) + 1);
          return [];
        }
        return [{ type, start: span.start_position, end: span.end_position }];
      }),
    },
  }));
  const halves = {
    tuned: score(
      records.filter((record) => record.index % 2 === 0),
      mappedTypes,
    ),
    heldOut: score(
      records.filter((record) => record.index % 2 === 1),
      mappedTypes,
    ),
  };

  // 2. the secrets corpus.
  const corpusTypes = new Set<string>(ENTITY_TYPES);
  const secrets = score(
    corpus.map((item, index) => ({ index: index + 1, item })),
    corpusTypes,
    DEFAULT_POLICY,
  );

  // 3. the vendor-token corpus.
  const vendor = vendorCorpus();

  // 4. throughput.
  const texts = [...presidio.map((record) => record.full_text), ...corpus.map((item) => item.text)];
  const speed = throughput(texts, parameters.iterations);

  // Tables.
  const table = new Table({
    head: [
      'entity (OPX ← presidio)',
      'gold (tuned)',
      'P tuned',
      'R tuned',
      'gold (held out)',
      'P held out',
      'R held out',
    ],
    style: { head: [], border: [] },
  });
  const reverse = new Map(
    Object.entries(PRESIDIO_MAP)
      .filter(([, type]) => type !== null)
      .map(([label, type]) => [type, label]),
  );
  const perType: Record<string, unknown> = {};
  for (const type of mappedTypes) {
    const tuned = summary(halves.tuned.counts.get(type));
    const held = summary(halves.heldOut.counts.get(type));
    perType[type] = {
      presidioLabel: reverse.get(type),
      structured: STRUCTURED.includes(type),
      tuned,
      heldOut: held,
    };
    table.push([
      `${type} ← ${reverse.get(type)}${STRUCTURED.includes(type) ? '' : ' (extra)'}`,
      tuned.gold,
      fmt(tuned.precision),
      fmt(tuned.recall),
      held.gold,
      fmt(held.precision),
      fmt(held.recall),
    ]);
  }
  table.push([
    'target (structured types)',
    '',
    `≥ ${TARGETS.structured.precision}`,
    `≥ ${TARGETS.structured.recall}`,
    '',
    `≥ ${TARGETS.structured.precision}`,
    `≥ ${TARGETS.structured.recall}`,
  ]);
  process.stdout.write('\nPII on presidio_synth_dataset_v2 (tuned on even records, held out: odd records)\n');
  process.stdout.write(`${table.toString()}\n`);
  process.stdout.write(
    `not covered (no recognizer; spans in the whole dataset): ${[...unmapped].map(([label, count]) => `${label} ${count}`).join(', ')}\n`,
  );
  for (const [name, half] of Object.entries(halves)) {
    if (half.misses.length > 0)
      process.stdout.write(
        `\nmissed (${name}): ${half.misses.map((miss) => `${miss.type} ${JSON.stringify(miss.value)}`).join('; ')}\n`,
      );
    if (half.falsePositives.length > 0)
      process.stdout.write(
        `false positives (${name}): ${half.falsePositives.map((fp) => `${fp.type} ${JSON.stringify(fp.value)}`).join('; ')}\n`,
      );
  }

  const secretTable = new Table({
    head: ['corpus type', 'kind', 'gold', 'predicted', 'precision', 'recall'],
    style: { head: [], border: [] },
  });
  const corpusPerType: Record<string, unknown> = {};
  for (const [type, counts] of [...secrets.counts].sort(([a], [b]) => a.localeCompare(b))) {
    const s = summary(counts);
    corpusPerType[type] = { secret: isSecretType(type), ...s };
    secretTable.push([
      type,
      isSecretType(type) ? 'secret' : 'pii',
      s.gold,
      s.predicted,
      fmt(s.precision),
      fmt(s.recall),
    ]);
  }
  const secretGold = [...secrets.counts]
    .filter(([type]) => isSecretType(type))
    .reduce((sum, [, c]) => sum + c.gold, 0);
  const secretFound = [...secrets.counts]
    .filter(([type]) => isSecretType(type))
    .reduce((sum, [, c]) => sum + c.found, 0);
  const secretRecall = ratio(secretFound, secretGold);
  secretTable.push([
    'all secrets',
    '',
    secretGold,
    '',
    '',
    `${fmt(secretRecall)} (target ${TARGETS.secrets.recall})`,
  ]);
  process.stdout.write(
    `\nSecrets corpus (${corpus.length} log lines, ${path.relative(REPO_ROOT, parameters.corpus)})\n`,
  );
  process.stdout.write(`${secretTable.toString()}\n`);
  process.stdout.write(
    secrets.misses.length === 0
      ? 'missed: none\n'
      : `missed:\n${secrets.misses.map((miss) => `  line ${miss.index}: ${miss.type} ${JSON.stringify(miss.value)}`).join('\n')}\n`,
  );
  process.stdout.write(
    secrets.falsePositives.length === 0
      ? 'false positives: none\n'
      : `false positives:\n${secrets.falsePositives.map((fp) => `  line ${fp.index}: ${fp.type} (${fp.recognizer}, ${fp.score}) ${JSON.stringify(fp.value)}`).join('\n')}\n`,
  );
  const vendorTable = new Table({
    head: ['vendor corpus', 'samples', 'found', 'rate', 'target'],
    style: { head: [], border: [] },
  });
  vendorTable.push(
    ['tokens (recall)', vendor.samples, vendor.found, fmt(vendor.recall), `≥ ${TARGETS.vendor.recall}`],
    [
      'look-alikes (false positives)',
      vendor.negatives,
      vendor.falsePositives.length,
      fmt(vendor.falsePositiveRate),
      `≤ ${TARGETS.vendor.falsePositiveRate}`,
    ],
  );
  process.stdout.write(
    `\nVendor tokens (${VENDOR_FORMATS.length} formats, bench/support/vendor-corpus.ts)\n`,
  );
  process.stdout.write(`${vendorTable.toString()}\n`);
  process.stdout.write(
    vendor.misses.length === 0
      ? 'missed: none\n'
      : `missed:\n${vendor.misses.map((miss) => `  ${miss.format}: ${JSON.stringify(miss.text)}`).join('\n')}\n`,
  );
  process.stdout.write(
    vendor.falsePositives.length === 0
      ? 'false positives: none\n'
      : `false positives:\n${vendor.falsePositives.map((fp) => `  ${fp.kind}: ${JSON.stringify(fp.text)} (${fp.found})`).join('\n')}\n`,
  );
  process.stdout.write(
    `\nThroughput: ${speed.engineMBps} MB/s (${texts.length} texts, ${Math.round(speed.bytesPerPass / 1024)} KiB × ${speed.iterations}); ` +
      `baseline single regex ${speed.baselineMBps} MB/s; the engine takes ${speed.engineToBaseline}× the baseline's time, ` +
      `${Math.round(speed.vendorShareOfEngine * 100)}% of it in secretlint's rules\n`,
  );

  const output = {
    benchmark: 'pii',
    dataset: {
      path: path.relative(REPO_ROOT, datasetFile) || datasetFile,
      source: 'microsoft/presidio-research presidio_synth_dataset_v2.json, MIT',
      records: presidio.length,
      split: 'tuned on records with index % 2 == 0; held out: index % 2 == 1',
    },
    method: {
      spanMatch: 'same type, character overlap ≥ 50% of the gold span and ≥ 50% of the predicted span',
      policy: 'every recognizer on, minScore of the default policy',
      labelMap: PRESIDIO_MAP,
    },
    targets: TARGETS,
    presidio: {
      perType,
      notCovered: Object.fromEntries(unmapped),
      misses: halves,
    },
    corpus: {
      path: path.relative(REPO_ROOT, parameters.corpus),
      lines: corpus.length,
      secretRecall,
      perType: corpusPerType,
      misses: secrets.misses,
      falsePositives: secrets.falsePositives,
    },
    vendor: {
      source: 'bench/support/vendor-corpus.ts (seeded generator)',
      formats: VENDOR_FORMATS,
      ...vendor,
    },
    throughput: speed,
  };
  mkdirSync(path.dirname(parameters.out), { recursive: true });
  writeFileSync(
    parameters.out,
    `${JSON.stringify(output, (_key, value) => (value instanceof Map ? Object.fromEntries(value) : value), 2)}\n`,
  );
  process.stdout.write(`results: ${path.relative(REPO_ROOT, parameters.out)}\n`);
  return 0;
}
