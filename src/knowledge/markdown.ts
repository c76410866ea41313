import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { formatPath } from '../domain/errors.js';

export const frontMatterSchema = z.object({
  title: z.string().trim().min(1).max(300),
  kind: z.enum(['runbook', 'postmortem']),
  services: z.array(z.string().min(1).max(200)).max(50).default([]),
  alerts: z.array(z.string().min(1).max(200)).max(50).default([]),
});
export type FrontMatter = z.output<typeof frontMatterSchema>;

export type ParsedMarkdown =
  | { ok: true; frontMatter: FrontMatter; extra: Record<string, unknown>; body: string }
  | { ok: false; reason: string; missingFrontMatter?: boolean };

/** Splits `---` YAML front matter from the body and validates the fields OPX needs. */
export function parseMarkdown(text: string): ParsedMarkdown {
  const normalized = text.replace(/^\uFEFF/, '').replace(/\r\n/g, '\n');
  const match = /^---\n([\s\S]*?)\n---[ \t]*(?:\n|$)/.exec(normalized);
  if (!match)
    return {
      ok: false,
      reason: 'no YAML front matter (a block between --- lines at the top)',
      missingFrontMatter: true,
    };
  let data: unknown;
  try {
    data = parseYaml(match[1]!);
  } catch (error) {
    return {
      ok: false,
      reason: `front matter is not valid YAML: ${(error as Error).message.split('\n')[0]}`,
    };
  }
  const parsed = frontMatterSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { ok: false, reason: `front matter ${formatPath(issue.path) || 'block'}: ${issue.message}` };
  }
  const {
    title: _title,
    kind: _kind,
    services: _services,
    alerts: _alerts,
    ...extra
  } = data as Record<string, unknown>;
  return { ok: true, frontMatter: parsed.data, extra, body: normalized.slice(match[0].length) };
}

export interface Section {
  /** The heading path, outermost first, e.g. `API gateway high error rate > Diagnosis`. */
  heading: string;
  text: string;
}

/** Chunks longer than this are split at paragraph boundaries; about a screenful of runbook. */
export const MAX_CHUNK_CHARS = 1500;
const TARGET_CHUNK_CHARS = 1200;

/**
 * Heading-aware chunking: each section under a heading becomes a chunk labelled with its heading path,
 * so a hit says where in the document it is. Long sections are split between paragraphs, and a fenced
 * code block is never cut.
 */
export function chunkMarkdown(body: string, title: string): Section[] {
  const stack: { level: number; text: string }[] = [];
  const sections: Section[] = [];
  let lines: string[] = [];
  let fence: string | null = null;

  const headingPath = () => {
    const names = stack.map((entry) => entry.text);
    if (names[0] !== title) names.unshift(title);
    return names.join(' > ');
  };
  const flush = () => {
    const text = lines.join('\n').trim();
    lines = [];
    if (text) for (const piece of splitLong(text)) sections.push({ heading: headingPath(), text: piece });
  };

  for (const line of body.split('\n')) {
    const fenceMatch = /^\s*(```|~~~)/.exec(line);
    if (fenceMatch) {
      if (fence === null) fence = fenceMatch[1]!;
      else if (fenceMatch[1] === fence) fence = null;
      lines.push(line);
      continue;
    }
    const heading = fence === null ? /^(#{1,6})\s+(.+?)\s*#*\s*$/.exec(line) : null;
    if (!heading) {
      lines.push(line);
      continue;
    }
    flush();
    const level = heading[1]!.length;
    while (stack.length > 0 && stack[stack.length - 1]!.level >= level) stack.pop();
    stack.push({ level, text: heading[2]! });
  }
  flush();
  return sections;
}

function splitLong(text: string): string[] {
  if (text.length <= MAX_CHUNK_CHARS) return [text];
  const paragraphs: string[] = [];
  let current: string[] = [];
  let inFence = false;
  for (const line of text.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) inFence = !inFence;
    if (!inFence && line.trim() === '' && current.length > 0) {
      paragraphs.push(current.join('\n'));
      current = [];
      continue;
    }
    current.push(line);
  }
  if (current.length > 0) paragraphs.push(current.join('\n'));

  const out: string[] = [];
  let piece = '';
  for (const paragraph of paragraphs) {
    if (piece && piece.length + paragraph.length + 2 > TARGET_CHUNK_CHARS) {
      out.push(piece);
      piece = '';
    }
    piece = piece ? `${piece}\n\n${paragraph}` : paragraph;
  }
  if (piece) out.push(piece);
  return out;
}
