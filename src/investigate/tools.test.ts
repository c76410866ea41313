import { MemorySaver } from '@langchain/langgraph';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../config/index.js';
import type { EvidenceBundle } from '../domain/evidence.js';
import type { Runtime } from '../runtime.js';
import { checkpointedGraph, graphTools, prepareInvestigations } from './tools.js';

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

describe('prepareInvestigations', () => {
  /** A runtime that counts what is opened, with a checkpointer that opens or fails. */
  function openingRuntime(checkpointer: () => Promise<{ saver: MemorySaver }>) {
    const opened: string[] = [];
    const runtime = {
      config: configSchema.parse({ dataDir: '/nonexistent' }),
      guardrailKey: 'k'.repeat(32),
      checkpointer() {
        opened.push('checkpointer');
        return checkpointer();
      },
      async reader() {
        opened.push('reader');
        return {};
      },
      knowledge: {
        async index() {
          opened.push('knowledge');
          return {};
        },
      },
    } as unknown as Runtime;
    return { runtime, opened };
  }

  it('compiles the graph the runs use and opens the reader and the knowledge index before any job', async () => {
    const { runtime, opened } = openingRuntime(async () => ({ saver: new MemorySaver() }));
    await prepareInvestigations(runtime);
    expect(opened.sort()).toEqual(['checkpointer', 'knowledge', 'reader']);
    // The runs take the graph compiled here; nothing is compiled or opened again.
    const graph = await checkpointedGraph(runtime).graph;
    expect(typeof graph.invoke).toBe('function');
    expect(opened).toHaveLength(3);
  });

  it('fails when the checkpointer cannot open, so start-up stops instead of the first investigation', async () => {
    const { runtime } = openingRuntime(async () => {
      throw new Error('checkpoint tables are unreadable');
    });
    await expect(prepareInvestigations(runtime)).rejects.toThrow('checkpoint tables are unreadable');
  });
});
