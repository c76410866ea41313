/**
 * Writes docs/openapi.json from the zod schemas (src/api/openapi.ts): `npm run openapi`.
 * `npm run openapi -- --check` writes nothing and fails if the committed file is out of date;
 * test/openapi.test.ts checks the same against the running server.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { openApiText } from '../src/api/openapi.js';

const target = fileURLToPath(new URL('../docs/openapi.json', import.meta.url));
const text = openApiText();
if (process.argv.includes('--check')) {
  let committed = '';
  try {
    committed = readFileSync(target, 'utf8');
  } catch {
    // Missing: out of date too.
  }
  if (committed !== text) {
    process.stderr.write('docs/openapi.json is out of date: run `npm run openapi` and commit it\n');
    process.exit(1);
  }
  process.stdout.write('docs/openapi.json is current\n');
} else {
  writeFileSync(target, text);
  process.stdout.write(`wrote docs/openapi.json (${text.length} bytes)\n`);
}
