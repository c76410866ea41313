#!/usr/bin/env node
// Bundles the compiled CLI (dist/cli/main.js and every module it imports, commands loaded lazily as
// their own chunks) into dist/bundle/, which bin/opx.js runs. Kysely is bundled in: its ESM build is
// about 260 files, and resolving and reading them was a third of an `opx incidents list`. Every other
// dependency stays a plain import from node_modules: native addons (better-sqlite3), packages that
// locate files or threads of their own at run time (pino), and zod, whose schema registry must be
// the one instance that zod-openapi and the SDKs also import.
//
//   node scripts/bundle-cli.mjs        after `tsc -p tsconfig.build.json` (npm run build does both)
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/** Dependencies inlined into the bundle: pure JavaScript that only OPX's own code imports. */
const INLINED = new Set(['kysely']);

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const external = Object.keys({ ...manifest.dependencies, ...manifest.optionalDependencies })
  .filter((name) => !INLINED.has(name))
  .flatMap((name) => [name, `${name}/*`]);
const outdir = path.join(root, 'dist', 'bundle');
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: { main: path.join(root, 'dist', 'cli', 'main.js') },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outdir,
  chunkNames: 'chunks/[name]-[hash]',
  external,
  legalComments: 'linked',
  logLevel: 'warning',
});
