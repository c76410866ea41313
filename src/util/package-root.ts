import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/**
 * The directory of OPX's own package.json, found upward from this module, so that files shipped
 * beside the code (web/dist, examples/, package.json) are found from src/ (tsx, tests), from dist/
 * (compiled) and from dist/bundle/ (the CLI bundle, scripts/bundle-cli.mjs) alike, at whatever depth
 * the module lands.
 */
export function packageRoot(): string {
  if (cached) return cached;
  let directory = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = path.join(directory, 'package.json');
    if (
      existsSync(manifest) &&
      (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'opx'
    ) {
      cached = directory;
      return directory;
    }
    const parent = path.dirname(directory);
    if (parent === directory)
      throw new Error(`OPX's package.json not found above ${fileURLToPath(import.meta.url)}`);
    directory = parent;
  }
}
