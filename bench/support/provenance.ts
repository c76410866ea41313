import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Which code was measured: the commit of `root` (null outside a git checkout, such as an exported
 * tree), the source files changed since it, and a digest of its src/ (tests excluded), so two results
 * files can be told apart even when both say the same commit.
 */
export function sourceProvenance(root: string): {
  commit: string | null;
  changedFiles: string[];
  srcDigest: string;
} {
  const git = (args: string[]) => {
    try {
      return execFileSync('git', args, {
        cwd: root,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      });
    } catch {
      return null;
    }
  };
  const files: string[] = [];
  const walk = (directory: string) => {
    for (const entry of readdirSync(directory, { withFileTypes: true })) {
      const full = path.join(directory, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts') && !/\.test(-support)?\.ts$/.test(entry.name)) files.push(full);
    }
  };
  walk(path.join(root, 'src'));
  const hash = createHash('sha256');
  for (const file of files.sort()) hash.update(`${path.relative(root, file)}\n`).update(readFileSync(file));
  // Only a checkout of its own: an exported tree inside another repository must not report that one's commit.
  const top = git(['rev-parse', '--show-toplevel'])?.trim();
  const own = top !== undefined && path.resolve(top) === path.resolve(root);
  return {
    commit: own ? (git(['rev-parse', 'HEAD'])?.trim() ?? null) : null,
    changedFiles: own
      ? (git(['status', '--porcelain', '--', 'src']) ?? '')
          .split('\n')
          .filter(Boolean)
          .map((line) => line.slice(3))
      : [],
    srcDigest: hash.digest('hex'),
  };
}
