import { describe, expect, it } from 'vitest';
import type { EvidenceBundle } from '../domain/evidence.js';
import type { Runtime } from '../runtime.js';
import { graphTools } from './tools.js';

/** A runtime whose read-only store serves any bundle id and counts the reads. */
function countingRuntime() {
  const reads: string[] = [];
  const runtime = {
    config: { groundingMode: 'flag', toolTimeoutSeconds: 30 },
    async reader() {
      return {
        evidence: {
          async getBundle(id: string) {
            reads.push(id);
            return id === 'missing' ? undefined : ({ id } as EvidenceBundle);
          },
        },
      };
    },
  } as unknown as Runtime;
  return { runtime, reads };
}

describe('graphTools', () => {
  it('reads a bundle once, then serves it from the cache', async () => {
    const { runtime, reads } = countingRuntime();
    const tools = graphTools(runtime, {});
    expect((await tools.loadBundle('evb_1')).id).toBe('evb_1');
    await tools.loadBundle('evb_1');
    expect(reads).toEqual(['evb_1']);
  });

  it('serves a bundle this process froze without reading it back', async () => {
    const { runtime, reads } = countingRuntime();
    const tools = graphTools(runtime, {});
    tools.remember({ id: 'evb_new' } as EvidenceBundle);
    await tools.loadBundle('evb_new');
    expect(reads).toEqual([]);
  });

  it('evicts the oldest bundle when 64 are cached', async () => {
    const { runtime, reads } = countingRuntime();
    const tools = graphTools(runtime, {});
    for (let index = 0; index <= 64; index += 1) await tools.loadBundle(`evb_${index}`);
    reads.length = 0;
    await tools.loadBundle('evb_64');
    await tools.loadBundle('evb_1');
    expect(reads).toEqual([]);
    await tools.loadBundle('evb_0');
    expect(reads).toEqual(['evb_0']);
  });

  it('names a bundle the store does not have', async () => {
    const { runtime } = countingRuntime();
    await expect(graphTools(runtime, {}).loadBundle('missing')).rejects.toMatchObject({ code: 'not_found' });
  });
});
