import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** CLI tests run the compiled `opx` a user runs; build it once so they never test stale output. */
export default function setup(): void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {
    cwd: root,
    stdio: 'inherit',
  });
  // bin/opx.js runs the bundle of that build (scripts/bundle-cli.mjs).
  execFileSync(process.execPath, ['scripts/bundle-cli.mjs'], { cwd: root, stdio: 'inherit' });
}
