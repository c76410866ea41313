#!/usr/bin/env node
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
