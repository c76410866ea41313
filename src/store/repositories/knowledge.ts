import type { Selectable } from 'kysely';
import type { KbChunksTable, KbDocumentsTable } from '../schema.js';
import { chunk, fromJson, type RepositoryContext, toJson } from './base.js';

export type KbDocumentKind = 'runbook' | 'postmortem';

export interface KbDocument {
  id: string;
  path: string;
  title: string;
  kind: KbDocumentKind;
  services: string[];
  alerts: string[];
  contentHash: string;
  body: string;
  importedAt: number;
  /** Front-matter keys OPX does not read (`weight`, `tags`, …), kept as imported; empty when none. */
  frontMatter?: Record<string, unknown>;
}

export interface KbChunk {
  id: string;
  documentId: string;
  ordinal: number;
  heading: string;
  text: string;
}

function documentFromRow(row: Selectable<KbDocumentsTable>): KbDocument {
  return {
    id: row.id,
    path: row.path,
    title: row.title,
    kind: row.kind as KbDocumentKind,
    services: fromJson(row.services, []),
    alerts: fromJson(row.alerts, []),
    contentHash: row.content_hash,
    body: row.body,
    importedAt: row.imported_at,
    frontMatter: fromJson(row.front_matter ?? '{}', {}),
  };
}

function chunkFromRow(row: Selectable<KbChunksTable>): KbChunk {
  return {
    id: row.id,
    documentId: row.document_id,
    ordinal: row.ordinal,
    heading: row.heading,
    text: row.text,
  };
}

export function knowledgeRepository({ db }: RepositoryContext) {
  return {
    async findByHash(contentHash: string): Promise<KbDocument | undefined> {
      const row = await db
        .selectFrom('kb_documents')
        .selectAll()
        .where('content_hash', '=', contentHash)
        .executeTakeFirst();
      return row && documentFromRow(row);
    },

    async find(id: string): Promise<KbDocument | undefined> {
      const row = await db.selectFrom('kb_documents').selectAll().where('id', '=', id).executeTakeFirst();
      return row && documentFromRow(row);
    },

    async findByPath(path: string): Promise<KbDocument | undefined> {
      const row = await db.selectFrom('kb_documents').selectAll().where('path', '=', path).executeTakeFirst();
      return row && documentFromRow(row);
    },

    async insert(document: KbDocument, chunks: readonly KbChunk[]): Promise<void> {
      await db
        .insertInto('kb_documents')
        .values({
          id: document.id,
          path: document.path,
          title: document.title,
          kind: document.kind,
          services: toJson(document.services),
          alerts: toJson(document.alerts),
          content_hash: document.contentHash,
          body: document.body,
          imported_at: document.importedAt,
          front_matter:
            document.frontMatter && Object.keys(document.frontMatter).length > 0
              ? toJson(document.frontMatter)
              : null,
        })
        .execute();
      for (const part of chunk(chunks, 100)) {
        await db
          .insertInto('kb_chunks')
          .values(
            part.map((item) => ({
              id: item.id,
              document_id: item.documentId,
              ordinal: item.ordinal,
              heading: item.heading,
              text: item.text,
              created_at: document.importedAt,
            })),
          )
          .execute();
      }
    },

    async remove(documentId: string): Promise<void> {
      await db.deleteFrom('kb_chunks').where('document_id', '=', documentId).execute();
      await db.deleteFrom('kb_documents').where('id', '=', documentId).execute();
    },

    async list(): Promise<KbDocument[]> {
      const rows = await db.selectFrom('kb_documents').selectAll().orderBy('path').execute();
      return rows.map(documentFromRow);
    },

    async chunks(): Promise<KbChunk[]> {
      const rows = await db
        .selectFrom('kb_chunks')
        .selectAll()
        .orderBy('document_id')
        .orderBy('ordinal')
        .execute();
      return rows.map(chunkFromRow);
    },

    /** One document's chunks in reading order. */
    async chunksOf(documentId: string): Promise<KbChunk[]> {
      const rows = await db
        .selectFrom('kb_chunks')
        .selectAll()
        .where('document_id', '=', documentId)
        .orderBy('ordinal')
        .execute();
      return rows.map(chunkFromRow);
    },

    /** Changes whenever a document is added, replaced or removed, so a search index can be cached. */
    async revision(): Promise<string> {
      const row = await db
        .selectFrom('kb_documents')
        .select((eb) => [
          eb.fn.countAll<number>().as('n'),
          eb.fn.max('imported_at').as('latest'),
          eb.fn.max('id').as('last'),
        ])
        .executeTakeFirstOrThrow();
      return `${row.n}:${row.latest ?? 0}:${row.last ?? ''}`;
    },
  };
}
export type KnowledgeRepository = ReturnType<typeof knowledgeRepository>;
