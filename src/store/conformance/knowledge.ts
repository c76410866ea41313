import { describe, expect, it } from 'vitest';
import { newId } from '../../domain/common.js';
import type { KbChunk, KbDocument } from '../repositories/knowledge.js';
import { T0 } from './fixtures.js';
import { expectUniqueViolation, type StoreFactory, unique, withFreshStore } from './harness.js';

function document(overrides: Partial<KbDocument> = {}): KbDocument {
  return {
    id: newId('document', T0),
    path: `${unique('runbooks/doc')}.md`,
    title: 'Gateway 5xx',
    kind: 'runbook',
    services: ['api-gateway'],
    alerts: ['HighErrorRate'],
    contentHash: unique('hash'),
    body: '# Gateway 5xx\nbody',
    importedAt: T0,
    frontMatter: {},
    ...overrides,
  };
}

function chunks(documentId: string, count: number): KbChunk[] {
  return Array.from({ length: count }, (_, ordinal) => ({
    id: newId('chunk', T0),
    documentId,
    ordinal,
    heading: `Gateway 5xx > Part ${ordinal}`,
    text: `text ${ordinal}`,
  }));
}

export function knowledgeSpecs(init: StoreFactory): void {
  describe('knowledge', () => {
    it('insert stores a document and its chunks; find by hash and by path round-trip every field', async () => {
      await withFreshStore(init, async (store) => {
        const doc = document({
          kind: 'postmortem',
          services: ['a', 'b'],
          alerts: [],
          frontMatter: { weight: 3, tags: ['dns', 'on-call'], draft: false },
        });
        await store.knowledge.insert(doc, chunks(doc.id, 3));
        expect(await store.knowledge.findByHash(doc.contentHash)).toEqual(doc);
        expect(await store.knowledge.findByPath(doc.path)).toEqual(doc);
        expect(await store.knowledge.findByHash('nope')).toBeUndefined();
        expect(await store.knowledge.findByPath('nope.md')).toBeUndefined();
      });
    });

    it('chunks come back ordered by document and ordinal, crossing the insert chunking', async () => {
      await withFreshStore(init, async (store) => {
        const first = document();
        const second = document();
        await store.knowledge.insert(first, chunks(first.id, 130));
        await store.knowledge.insert(second, chunks(second.id, 2));
        const all = await store.knowledge.chunks();
        expect(all).toHaveLength(132);
        const ofFirst = all.filter((item) => item.documentId === first.id);
        expect(ofFirst.map((item) => item.ordinal)).toEqual(Array.from({ length: 130 }, (_, index) => index));
      });
    });

    it('find and chunksOf read one document by id, its chunks in ordinal order', async () => {
      await withFreshStore(init, async (store) => {
        const doc = document({ frontMatter: { weight: 1 } });
        const other = document();
        // Inserted out of order: the answer follows the ordinal, not the insert.
        const parts = chunks(doc.id, 3).reverse();
        await store.knowledge.insert(doc, parts);
        await store.knowledge.insert(other, chunks(other.id, 2));
        expect(await store.knowledge.find(doc.id)).toEqual(doc);
        expect(await store.knowledge.find('document_nope')).toBeUndefined();
        const read = await store.knowledge.chunksOf(doc.id);
        expect(read.map((item) => item.ordinal)).toEqual([0, 1, 2]);
        expect(read).toEqual([...parts].reverse());
        expect(await store.knowledge.chunksOf('document_nope')).toEqual([]);
      });
    });

    it('a content hash is unique', async () => {
      await withFreshStore(init, async (store) => {
        const doc = document();
        await store.knowledge.insert(doc, []);
        await expectUniqueViolation(store.knowledge.insert(document({ contentHash: doc.contentHash }), []));
      });
    });

    it('remove deletes the document and its chunks; list is ordered by path; revision follows changes', async () => {
      await withFreshStore(init, async (store) => {
        const empty = await store.knowledge.revision();
        const b = document({ path: 'b.md' });
        const a = document({ path: 'a.md' });
        await store.knowledge.insert(b, chunks(b.id, 2));
        const afterOne = await store.knowledge.revision();
        expect(afterOne).not.toBe(empty);
        await store.knowledge.insert(a, chunks(a.id, 1));
        expect((await store.knowledge.list()).map((item) => item.path)).toEqual(['a.md', 'b.md']);
        const afterTwo = await store.knowledge.revision();
        await store.knowledge.remove(b.id);
        expect((await store.knowledge.list()).map((item) => item.path)).toEqual(['a.md']);
        expect((await store.knowledge.chunks()).every((item) => item.documentId === a.id)).toBe(true);
        expect(await store.knowledge.revision()).not.toBe(afterTwo);
      });
    });
  });
}
