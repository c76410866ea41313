import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Table from 'cli-table3';
import { PNG } from 'pngjs';
import type { EvidenceBundle } from '../src/domain/evidence.js';
import type { Finding } from '../src/domain/finding.js';
import { groundFinding, groundingContext } from '../src/trust/grounding.js';
import { integerFlag, parseFlags, readArgs } from './support/cli.js';
import { REPO_ROOT } from './support/opx.js';
import { Random } from './support/synthetic.js';

const USAGE = `usage: npm run bench -- trust [flags]

Calibration of OPX's trust score (src/trust/trust.ts) and the grounding check's catch rate
(src/trust/grounding.ts).

1. Reliability: the synthetic scenarios (npm run bench -- quality) and the PetShop train split
   (npm run bench -- petshop) are investigated. Every investigation where OPX names a root cause is
   bucketed by its trust score, and each bucket's accuracy is reported: the answer is right when the
   named cause is the true origin (an answer on a quiet or no-issue window is wrong). Abstentions are
   reported apart: how often OPX abstained where there was nothing to find. Written as a table and
   a PNG reliability diagram (blue: synthetic, orange: PetShop; grey diagonal: perfect calibration).
2. Injected hallucinations: every finding with claims from the synthetic run gets, one at a time,
   an invented change id, a wrong number, a service not in the topology, and a made-up runbook step,
   written into one of its claims the way a model would. Caught means the grounding check marks that
   claim unsupported. Clean findings give the false-flag rate.

  --cases <n>      synthetic cases (default 200)
  --seed <n>       synthetic seed (default 2026; grounding was developed on seed 1)
  --petshop <dir>  PetShop dataset (default bench/data/petshop; skipped when absent)
  --out <file>     results (default bench/results/trust.json)
  --png <file>     reliability diagram (default bench/results/trust-reliability.png)`;

interface Parameters {
  cases: number;
  seed: number;
  petshop: string;
  out: string;
  png: string;
}

function parseParameters(argv: string[]): Parameters | 'help' {
  const values = readArgs(argv, {
    cases: { type: 'string' },
    seed: { type: 'string' },
    petshop: { type: 'string' },
    out: { type: 'string' },
    png: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) return 'help';
  const results = path.join(REPO_ROOT, 'bench', 'results');
  return {
    cases: integerFlag(values.cases as string | undefined, 'cases', 200, 10, 100_000),
    seed: integerFlag(values.seed as string | undefined, 'seed', 2026, 0, 2 ** 31 - 1),
    petshop: path.resolve(
      (values.petshop as string | undefined) ?? path.join(REPO_ROOT, 'bench', 'data', 'petshop'),
    ),
    out: path.resolve((values.out as string | undefined) ?? path.join(results, 'trust.json')),
    png: path.resolve((values.png as string | undefined) ?? path.join(results, 'trust-reliability.png')),
  };
}

interface Judged {
  source: 'synthetic' | 'petshop';
  trust: number;
  /** OPX named a root cause. */
  answered: boolean;
  /** Answered: the cause is right. Abstained: there was nothing to find. */
  correct: boolean;
}

const BUCKETS = [0, 0.6, 0.7, 0.8, 0.85, 0.9, 1.0001];

function reliability(items: readonly Judged[]) {
  return BUCKETS.slice(0, -1).map((low, index) => {
    const high = BUCKETS[index + 1]!;
    const inside = items.filter((item) => item.trust >= low && item.trust < high);
    const correct = inside.filter((item) => item.correct).length;
    return {
      bucket: `${low.toFixed(2)}–${Math.min(high, 1).toFixed(2)}`,
      n: inside.length,
      accuracy: inside.length === 0 ? null : Math.round((correct / inside.length) * 1000) / 1000,
      meanTrust:
        inside.length === 0
          ? null
          : Math.round((inside.reduce((sum, item) => sum + item.trust, 0) / inside.length) * 1000) / 1000,
    };
  });
}

// ------------------------------------------------------------------------------ injections

type InjectionKind = 'invented-change-id' | 'wrong-number' | 'unknown-service' | 'made-up-runbook-step';
const KINDS: InjectionKind[] = [
  'invented-change-id',
  'wrong-number',
  'unknown-service',
  'made-up-runbook-step',
];
const INVENTED_SERVICES = [
  'ledger-service',
  'quota-gateway',
  'billing-proxy',
  'session-cache',
  'audit-worker',
];
const MADE_UP_STEPS = [
  '`kubectl rollout restart deployment/edge-router`',
  '`flagctl set payments.fast-path false`',
  '`psql -c "VACUUM FULL orders"`',
  '`systemctl restart haproxy`',
];

/** Writes one hallucination into claim `index` of a copy of `finding`; undefined when it cannot apply. */
function inject(
  finding: Finding,
  kind: InjectionKind,
  bundle: EvidenceBundle,
  random: Random,
): { finding: Finding; claim: number } | undefined {
  const index = Math.floor(random.next() * finding.claims.length);
  const claim = finding.claims[index]!;
  let text: string | undefined;
  switch (kind) {
    case 'invented-change-id': {
      const id = `chg_${Array.from({ length: 26 }, () => '0123456789abcdefghjkmnpqrstvwxyz'[Math.floor(random.next() * 32)]).join('')}`;
      text = `${claim.text} It follows ${id}.`;
      break;
    }
    case 'wrong-number': {
      const numbers = [...claim.text.matchAll(/(?<![\w.:/-])\d+(?:\.\d+)?(?![\w.]*[a-z_]{2})/g)].filter(
        (match) => !/^\d{4}$/.test(match[0]),
      );
      if (numbers.length > 0) {
        const match = numbers[Math.floor(random.next() * numbers.length)]!;
        const value = Number(match[0]);
        const wrong =
          value === 0 ? 7 : Number.isInteger(value) ? value * 3 + 2 : Math.round(value * 2.7 * 100) / 100;
        text =
          claim.text.slice(0, match.index) + String(wrong) + claim.text.slice(match.index + match[0].length);
      } else text = `${claim.text} The error rate reached 37%.`;
      break;
    }
    case 'unknown-service': {
      const known = new Set([
        ...bundle.incident.services,
        ...bundle.neighbourhood.map((entry) => entry.service),
      ]);
      const invented = INVENTED_SERVICES.find((name) => !known.has(name))!;
      const present = [...known].find((name) => claim.text.includes(name));
      text = present ? claim.text.replace(present, invented) : `${claim.text} ${invented} is affected too.`;
      break;
    }
    case 'made-up-runbook-step': {
      const step = MADE_UP_STEPS[Math.floor(random.next() * MADE_UP_STEPS.length)]!;
      text = `${claim.text} The runbook says to run ${step}.`;
      break;
    }
  }
  const claims = finding.claims.map((item, at) => (at === index ? { ...item, text: text! } : item));
  return { finding: { ...finding, claims }, claim: index };
}

// ------------------------------------------------------------------------------ diagram

/** A reliability diagram: accuracy per trust bucket (bars) against the diagonal of perfect calibration. */
function drawDiagram(
  file: string,
  series: { color: [number, number, number]; buckets: ReturnType<typeof reliability> }[],
) {
  const width = 480;
  const height = 480;
  const margin = 40;
  const png = new PNG({ width, height });
  const set = (x: number, y: number, [r, g, b]: [number, number, number]) => {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    const at = (width * y + x) << 2;
    png.data[at] = r;
    png.data[at + 1] = g;
    png.data[at + 2] = b;
    png.data[at + 3] = 255;
  };
  for (let y = 0; y < height; y += 1) for (let x = 0; x < width; x += 1) set(x, y, [255, 255, 255]);
  const plot = width - 2 * margin;
  const px = (value: number) => margin + Math.round(value * plot);
  const py = (value: number) => height - margin - Math.round(value * plot);
  // Axes and a light grid at 0.1.
  for (let tick = 0; tick <= 10; tick += 1) {
    const value = tick / 10;
    for (let i = 0; i <= plot; i += 1) {
      set(px(value), py(i / plot), [225, 225, 225]);
      set(px(i / plot), py(value), [225, 225, 225]);
    }
  }
  for (let i = 0; i <= plot; i += 1) {
    set(margin, py(i / plot), [0, 0, 0]);
    set(px(i / plot), height - margin, [0, 0, 0]);
    set(px(i / plot), py(i / plot), [120, 120, 120]); // perfect calibration
  }
  // Bars: each bucket spans its trust range; the bar height is its accuracy. Series side by side.
  series.forEach(({ color, buckets }, seriesIndex) => {
    buckets.forEach((bucket, index) => {
      if (bucket.accuracy === null) return;
      const low = BUCKETS[index]!;
      const high = Math.min(BUCKETS[index + 1]!, 1);
      const span = (high - low) / series.length;
      const x0 = px(low + span * seriesIndex) + 2;
      const x1 = px(low + span * (seriesIndex + 1)) - 2;
      for (let x = x0; x <= x1; x += 1)
        for (let y = py(bucket.accuracy); y <= height - margin - 1; y += 1) set(x, y, color);
    });
  });
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, PNG.sync.write(png));
}

// ------------------------------------------------------------------------------ run

export async function run(argv: string[]): Promise<number> {
  const parsed = parseFlags(argv, parseParameters, USAGE);
  if (!parsed.ok) return parsed.exitCode;
  const parameters = parsed.parameters;
  const work = mkdtempSync(path.join(os.tmpdir(), 'opx-bench-trust-'));
  try {
    // 1. Synthetic scenarios, with every investigated case's bundle and findings kept for step 2.
    const dump = path.join(work, 'findings.jsonl');
    const qualityOut = path.join(work, 'quality.json');
    const quality = await import('./quality.js');
    const qualityCode = await quality.run([
      '--cases',
      String(parameters.cases),
      '--seed',
      String(parameters.seed),
      '--out',
      qualityOut,
      '--findings',
      dump,
    ]);
    if (qualityCode !== 0) throw new Error(`the quality run failed (exit ${qualityCode})`);
    const synthetic = (
      JSON.parse(readFileSync(qualityOut, 'utf8')).cases as {
        kind: 'fault' | 'quiet';
        trust: { score: number; abstain: boolean } | null;
        score: { top1: boolean | null; abstained: boolean };
      }[]
    ).flatMap((item): Judged[] =>
      item.trust === null
        ? []
        : [
            {
              source: 'synthetic',
              trust: item.trust.score,
              answered: !item.score.abstained,
              correct: item.score.abstained
                ? item.kind === 'quiet'
                : item.kind === 'fault' && item.score.top1 === true,
            },
          ],
    );

    // PetShop train split, when the dataset is here.
    let petshop: Judged[] = [];
    if (existsSync(parameters.petshop)) {
      const petshopOut = path.join(work, 'petshop.json');
      const module = await import('./petshop.js');
      const code = await module.run([
        '--dataset',
        parameters.petshop,
        '--split',
        'train',
        '--out',
        petshopOut,
      ]);
      if (code !== 0) throw new Error(`the PetShop run failed (exit ${code})`);
      petshop = (
        JSON.parse(readFileSync(petshopOut, 'utf8')).cases as {
          kind: 'issue' | 'noissue';
          answer: string[];
          hit1: boolean | null;
          trust: { score: number; abstain: boolean } | null;
        }[]
      ).flatMap((item): Judged[] =>
        item.trust === null
          ? []
          : [
              {
                source: 'petshop',
                trust: item.trust.score,
                answered: item.answer.length > 0,
                correct:
                  item.answer.length > 0
                    ? item.kind === 'issue' && item.hit1 === true
                    : item.kind === 'noissue',
              },
            ],
      );
    } else process.stderr.write(`[trust] no PetShop dataset at ${parameters.petshop}; skipped\n`);

    const answered = (items: readonly Judged[]) => items.filter((item) => item.answered);
    const all = [...synthetic, ...petshop];
    const tables = {
      all: reliability(answered(all)),
      synthetic: reliability(answered(synthetic)),
      petshop: reliability(answered(petshop)),
    };
    const abstentions = (items: readonly Judged[]) => {
      const abstained = items.filter((item) => !item.answered);
      return { n: abstained.length, right: abstained.filter((item) => item.correct).length };
    };
    const split = (items: readonly Judged[], at: number) => {
      const accuracy = (subset: readonly Judged[]) =>
        subset.length === 0
          ? null
          : Math.round((subset.filter((item) => item.correct).length / subset.length) * 1000) / 1000;
      return {
        threshold: at,
        high: {
          n: items.filter((item) => item.trust >= at).length,
          accuracy: accuracy(items.filter((item) => item.trust >= at)),
        },
        low: {
          n: items.filter((item) => item.trust < at).length,
          accuracy: accuracy(items.filter((item) => item.trust < at)),
        },
      };
    };

    // 2. Injected hallucinations and clean false flags, on the synthetic findings.
    const random = new Random(parameters.seed);
    const caught: Record<InjectionKind, { injected: number; caught: number }> = Object.fromEntries(
      KINDS.map((kind) => [kind, { injected: 0, caught: 0 }]),
    ) as Record<InjectionKind, { injected: number; caught: number }>;
    let statements = 0;
    let falseFlags = 0;
    let findingsChecked = 0;
    let findingsFlagged = 0;
    const missed: { kind: InjectionKind; text: string }[] = [];
    const falseFlagged: { agent: string; text: string; problems: string[] }[] = [];
    for (const line of readFileSync(dump, 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      const { bundle, findings } = JSON.parse(line) as { bundle: EvidenceBundle; findings: Finding[] };
      const context = groundingContext(bundle);
      for (const finding of findings) {
        const clean = groundFinding(finding, context);
        statements += clean.statements;
        falseFlags += clean.unsupported.length;
        findingsChecked += 1;
        if (clean.unsupported.length > 0) {
          findingsFlagged += 1;
          for (const check of clean.unsupported)
            if (falseFlagged.length < 20)
              falseFlagged.push({ agent: finding.agent, text: check.text, problems: check.problems });
        }
        if (finding.claims.length === 0) continue;
        for (const kind of KINDS) {
          const injected = inject(finding, kind, bundle, random);
          if (!injected) continue;
          const result = groundFinding(injected.finding, context);
          caught[kind].injected += 1;
          if (result.unsupported.some((check) => check.source === `claims[${injected.claim}]`))
            caught[kind].caught += 1;
          else if (missed.length < 20)
            missed.push({ kind, text: injected.finding.claims[injected.claim]!.text });
        }
      }
    }
    const injectedTotal = KINDS.reduce((sum, kind) => sum + caught[kind].injected, 0);
    const caughtTotal = KINDS.reduce((sum, kind) => sum + caught[kind].caught, 0);
    const results = {
      benchmark: 'trust',
      at: new Date().toISOString(),
      parameters: { cases: parameters.cases, seed: parameters.seed, petshop: existsSync(parameters.petshop) },
      calibration: {
        investigations: { synthetic: synthetic.length, petshop: petshop.length },
        buckets: tables,
        highVsLow: {
          all: split(answered(all), 0.75),
          synthetic: split(answered(synthetic), 0.75),
          petshop: split(answered(petshop), 0.75),
        },
        abstentions: { synthetic: abstentions(synthetic), petshop: abstentions(petshop) },
      },
      hallucinations: {
        byKind: caught,
        injected: injectedTotal,
        caught: caughtTotal,
        catchRate: Math.round((caughtTotal / Math.max(1, injectedTotal)) * 1000) / 1000,
        target: 0.95,
        missed,
      },
      falseFlags: {
        statements,
        unsupported: falseFlags,
        statementRate: Math.round((falseFlags / Math.max(1, statements)) * 10000) / 10000,
        findings: findingsChecked,
        findingsFlagged,
        examples: falseFlagged,
      },
    };
    mkdirSync(path.dirname(parameters.out), { recursive: true });
    writeFileSync(parameters.out, `${JSON.stringify(results, null, 2)}\n`);
    drawDiagram(parameters.png, [
      { color: [66, 133, 244], buckets: tables.synthetic },
      { color: [244, 160, 0], buckets: tables.petshop },
    ]);

    const table = new Table({
      head: ['trust', 'synthetic n', 'accuracy', 'PetShop n', 'accuracy', 'all n', 'accuracy'],
    });
    tables.all.forEach((bucket, index) => {
      const show = (value: number | null) => (value === null ? '–' : value.toFixed(2));
      table.push([
        bucket.bucket,
        tables.synthetic[index]!.n,
        show(tables.synthetic[index]!.accuracy),
        tables.petshop[index]!.n,
        show(tables.petshop[index]!.accuracy),
        bucket.n,
        show(bucket.accuracy),
      ]);
    });
    const injections = new Table({ head: ['injected hallucination', 'injected', 'caught', 'rate'] });
    for (const kind of KINDS)
      injections.push([
        kind,
        caught[kind].injected,
        caught[kind].caught,
        (caught[kind].caught / Math.max(1, caught[kind].injected)).toFixed(3),
      ]);
    injections.push([
      'all (target ≥ 0.95)',
      injectedTotal,
      caughtTotal,
      results.hallucinations.catchRate.toFixed(3),
    ]);
    const high = results.calibration.highVsLow.all;
    process.stdout.write(
      `\nReliability (accuracy per trust bucket)\n${table.toString()}\n` +
        `answers with trust ≥ 0.75: accuracy ${high.high.accuracy} (n ${high.high.n}); below: ${high.low.accuracy} (n ${high.low.n})\n` +
        `abstentions where there was nothing to find: synthetic ${results.calibration.abstentions.synthetic.right} of ${results.calibration.abstentions.synthetic.n}, PetShop ${results.calibration.abstentions.petshop.right} of ${results.calibration.abstentions.petshop.n}\n` +
        `\n${injections.toString()}\n` +
        `false flags on clean findings: ${falseFlags} of ${statements} statements (${(results.falseFlags.statementRate * 100).toFixed(2)}%), ` +
        `${findingsFlagged} of ${findingsChecked} findings\n` +
        `results: ${path.relative(process.cwd(), parameters.out)}; diagram: ${path.relative(process.cwd(), parameters.png)}\n`,
    );
    return 0;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
