#!/usr/bin/env -S node --max-old-space-size=1536
// The heap limit is there for the server's memory, not to stop it: below 2 GiB, V8 grows the heap 2x
// per collection instead of 4x, which took `opx serve` from 265-360 to 230-250 MiB at peak under
// the ingest benchmark (docs/deploy.md, "Sizing"). A flag given to node itself replaces it:
// `node --max-old-space-size=4096 "$(command -v opx)" serve`.
// The CLI is compiled to dist/ and bundled into dist/bundle/ by `npm run build` (run automatically by
// `npm ci`; scripts/bundle-cli.mjs says what the bundle holds).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/bundle/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('opx is not built yet: run `npm run build` (npm ci runs it for you).\n');
  process.exit(1);
}
const { main } = await import(entry.href);
await main(process.argv);
