import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './support.js';

/**
 * The import rules of docs/architecture.md are Biome `noRestrictedImports` overrides in biome.json, run by
 * `npm run lint`. These tests lint probe files with the project's own biome.json, so a rule that stops
 * catching a back-edge, or a new folder with no rule, fails here.
 */

interface Override {
  includes: string[];
  linter?: { rules?: { style?: { noRestrictedImports?: unknown } } };
}

const biomeConfig = JSON.parse(readFileSync(path.join(REPO_ROOT, 'biome.json'), 'utf8')) as {
  overrides: Override[];
};

/** The files (relative to the probe root) Biome flags with noRestrictedImports. */
function flagged(root: string): string[] {
  const run = spawnSync(
    process.execPath,
    [
      path.join(REPO_ROOT, 'node_modules', '@biomejs', 'biome', 'bin', 'biome'),
      'lint',
      '--vcs-enabled=false',
      '--max-diagnostics=200',
      '.',
    ],
    { cwd: root, encoding: 'utf8' },
  );
  const output = `${run.stdout}${run.stderr}`;
  const files = [...output.matchAll(/^(\S+):\d+:\d+ lint\/style\/noRestrictedImports/gm)].map(
    (match) => match[1]!,
  );
  return [...new Set(files)].sort();
}

describe('the import rules (docs/architecture.md)', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'opx-imports-'));
    copyFileSync(path.join(REPO_ROOT, 'biome.json'), path.join(root, 'biome.json'));
    const probe = (file: string, source: string) => {
      mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
      writeFileSync(path.join(root, file), `${source}\nexport const probe = 1;\n`);
    };
    // Back-edges: each must be flagged.
    probe(
      'src/domain/back.ts',
      "import { ingestSignals } from '../ingest/pipeline.js';\nvoid ingestSignals;",
    );
    probe(
      'src/detect/back.ts',
      "import type { IncidentBatch } from '../incidents/batch.js';\nexport type B = IncidentBatch;",
    );
    probe(
      'src/store/repositories/back.ts',
      "import { DEFAULT_RULES } from '../../detect/rules.js';\nvoid DEFAULT_RULES;",
    );
    probe('src/config/back.ts', "import { verify } from '../auth/sources.js';\nvoid verify;");
    probe('src/incidents/back.ts', "import type { Runtime } from '../runtime.js';\nexport type R = Runtime;");
    probe('src/api/back.ts', "import { run } from '../cli/main.js';\nvoid run;");
    probe('web/src/back.ts', "import { openStore } from '../../src/store/store';\nvoid openStore;");
    // Edges the rules allow: none may be flagged.
    probe('src/ingest/fine.ts', "import { DEFAULT_RULES } from '../detect/rules.js';\nvoid DEFAULT_RULES;");
    probe('src/investigate/agents/fine.ts', "import { newId } from '../../domain/common.js';\nvoid newId;");
    probe('src/cli/commands/fine.ts', "import { openRuntime } from '../../runtime.js';\nvoid openRuntime;");
    probe(
      'src/domain/fine.test.ts',
      "import { ingestSignals } from '../ingest/pipeline.js';\nvoid ingestSignals;",
    );
    probe('web/src/client.ts', "import { OpxClient } from '../../src/client/index';\nvoid OpxClient;");
    probe(
      'web/src/fine.ts',
      "import type { IncidentView } from '../../src/api/schemas';\nexport type I = IncidentView;",
    );
    probe(
      'src/detect/fine.ts',
      "import { ALARM_STATE_CHANGE } from '@aws-sdk/client-ingest/config';\nvoid ALARM_STATE_CHANGE;",
    );
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('flags every back-edge and nothing the rules allow', () => {
    expect(flagged(root)).toEqual([
      'src/api/back.ts',
      'src/config/back.ts',
      'src/detect/back.ts',
      'src/domain/back.ts',
      'src/incidents/back.ts',
      'src/store/repositories/back.ts',
      'web/src/back.ts',
    ]);
  });

  it('has a rule for every folder of src/, and the architecture document names each folder', () => {
    const ruled = new Set(
      biomeConfig.overrides
        .filter((override) => override.linter?.rules?.style?.noRestrictedImports)
        .flatMap((override) => override.includes.map((include) => /^src\/([^/]+)\/\*\*$/.exec(include)?.[1]))
        .filter((folder): folder is string => folder !== undefined),
    );
    const folders = readdirSync(path.join(REPO_ROOT, 'src'), { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name);
    // The CLI is the top of the stack: it may import anything.
    expect(folders.filter((folder) => folder !== 'cli' && !ruled.has(folder))).toEqual([]);
    const document = readFileSync(path.join(REPO_ROOT, 'docs', 'architecture.md'), 'utf8');
    expect(folders.filter((folder) => !document.includes(`src/${folder}/`))).toEqual([]);
  });
});
