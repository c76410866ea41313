import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, shippedNodeFlags } from './opx.js';

describe('shippedNodeFlags', () => {
  it('reads the node flags of the bin’s env -S line, and none from a plain one', () => {
    expect(shippedNodeFlags(REPO_ROOT)).toEqual(['--max-old-space-size=1536']);
    const older = mkdtempSync(path.join(tmpdir(), 'opx-bin-'));
    try {
      mkdirSync(path.join(older, 'bin'));
      writeFileSync(path.join(older, 'bin', 'opx.js'), '#!/usr/bin/env node\nawait 0;\n');
      expect(shippedNodeFlags(older)).toEqual([]);
      writeFileSync(
        path.join(older, 'bin', 'opx.js'),
        '#!/usr/bin/env -S node --max-old-space-size=512  --no-warnings\n',
      );
      expect(shippedNodeFlags(older)).toEqual(['--max-old-space-size=512', '--no-warnings']);
    } finally {
      rmSync(older, { recursive: true, force: true });
    }
  });
});
