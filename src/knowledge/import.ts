import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { newId } from '../domain/common.js';
import { OpxError } from '../domain/errors.js';
import type { KbChunk, KbDocument } from '../store/repositories/knowledge.js';
import type { StoreScope } from '../store/store.js';
import { sha256 } from '../util/hash.js';
import { chunkMarkdown, parseMarkdown } from './markdown.js';

export interface ImportReport {
  created: string[];
  updated: string[];
  unchanged: string[];
  skipped: { path: string; reason: string }[];
  chunks: number;
}

interface Prepared {
  path: string;
  document: KbDocument;
  chunks: KbChunk[];
}

function markdownFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (directory: string) => {
    for (const entry of readdirSync(directory, { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      if (entry.name.startsWith('.')) continue;
      const full = path.join(directory, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile() && entry.name.toLowerCase().endsWith('.md')) out.push(full);
    }
  };
  walk(root);
  return out;
}

/**
 * Reads every Markdown file under `root` and checks it before anything is written: one bad file fails
 * the import with every problem listed, so a knowledge base is never half-updated. Files without front
 * matter (a README) are skipped and reported.
 */
export function readKnowledgeDirectory(
  root: string,
  now: number = Date.now(),
): { prepared: Prepared[]; skipped: ImportReport['skipped'] } {
  let stats: ReturnType<typeof statSync>;
  try {
    stats = statSync(root);
  } catch {
    throw new OpxError('invalid_request', `cannot read ${root}: no such directory`);
  }
  if (!stats.isDirectory())
    throw new OpxError('invalid_request', `${root} is not a directory of Markdown files`);
  const prepared: Prepared[] = [];
  const skipped: ImportReport['skipped'] = [];
  const problems: string[] = [];
  for (const file of markdownFiles(root)) {
    const relative = path.relative(root, file).split(path.sep).join('/');
    const text = readFileSync(file, 'utf8');
    const parsed = parseMarkdown(text);
    if (!parsed.ok) {
      if (parsed.missingFrontMatter) skipped.push({ path: relative, reason: parsed.reason });
      else problems.push(`${relative}: ${parsed.reason}`);
      continue;
    }
    const { frontMatter } = parsed;
    const documentId = newId('document', now);
    const sections = chunkMarkdown(parsed.body, frontMatter.title);
    if (sections.length === 0) {
      problems.push(`${relative}: the body is empty`);
      continue;
    }
    prepared.push({
      path: relative,
      document: {
        id: documentId,
        path: relative,
        title: frontMatter.title,
        kind: frontMatter.kind,
        services: frontMatter.services,
        alerts: frontMatter.alerts,
        // The path is part of the identity: the same text in two places is two documents.
        contentHash: sha256(`${relative}\n${text}`),
        body: parsed.body,
        importedAt: now,
      },
      chunks: sections.map((section, ordinal) => ({
        id: newId('chunk', now),
        documentId,
        ordinal,
        heading: section.heading,
        text: section.text,
      })),
    });
  }
  if (problems.length > 0) {
    throw new OpxError(
      'invalid_request',
      `nothing imported; fix these files first:\n  ${problems.join('\n  ')}`,
    );
  }
  return { prepared, skipped };
}

/** Writes prepared documents: unchanged content is skipped, changed content replaces the old version. */
export async function importKnowledge(
  scope: StoreScope,
  prepared: readonly Prepared[],
  onProgress?: (path: string, outcome: 'created' | 'updated' | 'unchanged') => void,
): Promise<Omit<ImportReport, 'skipped'>> {
  const report: Omit<ImportReport, 'skipped'> = { created: [], updated: [], unchanged: [], chunks: 0 };
  for (const item of prepared) {
    let outcome: 'created' | 'updated' | 'unchanged';
    if (await scope.knowledge.findByHash(item.document.contentHash)) outcome = 'unchanged';
    else {
      const previous = await scope.knowledge.findByPath(item.path);
      if (previous) await scope.knowledge.remove(previous.id);
      await scope.knowledge.insert(item.document, item.chunks);
      report.chunks += item.chunks.length;
      outcome = previous ? 'updated' : 'created';
    }
    report[outcome].push(item.path);
    onProgress?.(item.path, outcome);
  }
  return report;
}
