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

/** Files a documentation repository holds beside its pages: read by people, not runbooks. */
const NOT_A_DOCUMENT = /^(?:readme|_index|changelog|contributing|code_of_conduct|license|security)\.md$/i;

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads every Markdown file under `root`, with any front matter or none (parseMarkdown fills what is
 * missing). A file that cannot be read as a document (not UTF-8, empty, front matter that is not YAML
 * or names an unknown kind) is skipped with its reason and the rest are imported; a README, a
 * static-site section page (`_index.md`) and the like are ignored.
 */
export function readKnowledgeDirectory(
  root: string,
  now: number = Date.now(),
): { prepared: Prepared[]; skipped: ImportReport['skipped']; ignored: ImportReport['skipped'] } {
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
  const ignored: ImportReport['skipped'] = [];
  for (const file of markdownFiles(root)) {
    const relative = path.relative(root, file).split(path.sep).join('/');
    if (NOT_A_DOCUMENT.test(path.basename(file))) {
      ignored.push({ path: relative, reason: 'not a runbook or postmortem (by its name)' });
      continue;
    }
    let text: string;
    try {
      text = UTF8.decode(readFileSync(file));
    } catch (error) {
      const reason =
        error instanceof TypeError ? 'not UTF-8 text' : `cannot be read: ${(error as Error).message}`;
      skipped.push({ path: relative, reason });
      continue;
    }
    if (text.trim() === '') {
      skipped.push({ path: relative, reason: 'the file is empty' });
      continue;
    }
    const parsed = parseMarkdown(text, relative);
    if (!parsed.ok) {
      skipped.push({ path: relative, reason: parsed.reason });
      continue;
    }
    const { frontMatter } = parsed;
    const documentId = newId('document', now);
    const sections = chunkMarkdown(parsed.body, frontMatter.title);
    if (sections.length === 0) {
      skipped.push({ path: relative, reason: 'the body is empty' });
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
        frontMatter: parsed.extra,
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
  return { prepared, skipped, ignored };
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
