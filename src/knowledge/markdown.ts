import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { formatPath } from '../domain/errors.js';

/** A list field written as a list, or as one value (`alerts: KubePodCrashLooping`). */
const nameList = z
  .union([z.string().min(1).max(200), z.array(z.string().min(1).max(200)).max(50)])
  .transform((value) => (typeof value === 'string' ? [value] : value));

/**
 * The front matter OPX reads. Every field is optional: runbook repositories publish front matter for a
 * static-site generator (`title`, `weight`) or none at all. Other keys are kept as `extra`, never refused.
 */
export const frontMatterSchema = z.object({
  title: z.string().trim().min(1).max(300).optional(),
  kind: z.enum(['runbook', 'postmortem']).optional(),
  services: nameList.default([]),
  alerts: nameList.default([]),
});

export interface FrontMatter {
  title: string;
  kind: 'runbook' | 'postmortem';
  services: string[];
  alerts: string[];
}

export type ParsedMarkdown =
  | {
      ok: true;
      frontMatter: FrontMatter;
      extra: Record<string, unknown>;
      body: string;
      /** The fields that were not in the front matter and were read from the file instead. */
      inferred: (keyof FrontMatter)[];
    }
  | { ok: false; reason: string };

/** A directory named like one that holds postmortems. */
const POSTMORTEM_DIRECTORY =
  /^(?:post[-_ ]?mortems?|incidents?|incident[-_ ]reviews?|retros?|retrospectives?|pirs?|rcas?)$/i;
/** Front-matter words (type, category, layout, tags) that say a document is a postmortem. */
const POSTMORTEM_WORD = /\b(?:post[-_ ]?mortem|incident[-_ ]review|retrospective|rca)\b/i;
/** An alert name as Prometheus rules spell them: CamelCase words (KubePodCrashLooping, TargetDown). */
const ALERT_NAME = /^[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+$|^[A-Z]{2,}[a-z0-9]+(?:[A-Z][a-z0-9]*)*$/;

function firstHeading(body: string): string | undefined {
  let fenced = false;
  for (const line of body.split('\n')) {
    if (/^\s*(?:```|~~~)/.test(line)) fenced = !fenced;
    if (fenced) continue;
    const match = /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line);
    if (match) return match[1]!.trim();
  }
  return undefined;
}

/** An alert name a file name or heading carries: the whole stem, or a heading's first word. */
function alertNameIn(text: string | undefined): string | undefined {
  if (!text) return undefined;
  const word = text.trim().split(/[\s:(—–-]+/)[0] ?? '';
  return ALERT_NAME.test(word) ? word : undefined;
}

/**
 * Splits optional `---` YAML front matter from the body and fills what it leaves out (a heuristic,
 * docs/agents.md): the title from the front matter, else the first heading, else the file name; the
 * kind from the front matter, else `postmortem` when a `type`, `category`, `layout` or `tags` value or
 * a directory on the path says so, else `runbook`; alert names from the front matter plus a file name
 * or first heading spelled like an alert (`KubePodCrashLooping.md`, `# TargetDown: …`).
 */
export function parseMarkdown(text: string, filePath = ''): ParsedMarkdown {
  const normalized = text.replace(/^\uFEFF/, '').replace(/\r\n/g, '\n');
  const match = /^---\n([\s\S]*?)\n---[ \t]*(?:\n|$)/.exec(normalized);
  let data: Record<string, unknown> = {};
  if (match) {
    let read: unknown;
    try {
      read = parseYaml(match[1]!);
    } catch (error) {
      return {
        ok: false,
        reason: `front matter is not valid YAML: ${(error as Error).message.split('\n')[0]}`,
      };
    }
    if (read !== null && read !== undefined) {
      if (typeof read !== 'object' || Array.isArray(read))
        return { ok: false, reason: 'front matter is not a mapping of keys to values' };
      data = read as Record<string, unknown>;
    }
  }
  const parsed = frontMatterSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { ok: false, reason: `front matter ${formatPath(issue.path) || 'block'}: ${issue.message}` };
  }
  const { title: _title, kind: _kind, services: _services, alerts: _alerts, ...extra } = data;
  const body = match ? normalized.slice(match[0].length) : normalized;
  const parts = filePath.split('/').filter((part) => part !== '');
  const stem = (parts.at(-1) ?? '').replace(/\.md$/i, '');
  const heading = firstHeading(body);
  const inferred: (keyof FrontMatter)[] = [];
  const title = parsed.data.title ?? heading ?? (stem || 'untitled');
  if (parsed.data.title === undefined) inferred.push('title');
  let kind = parsed.data.kind;
  if (kind === undefined) {
    inferred.push('kind');
    const words = ['type', 'category', 'categories', 'layout', 'tags']
      .flatMap((key) => [extra[key]].flat())
      .filter((value): value is string => typeof value === 'string');
    kind =
      words.some((word) => POSTMORTEM_WORD.test(word)) ||
      parts.slice(0, -1).some((part) => POSTMORTEM_DIRECTORY.test(part))
        ? 'postmortem'
        : 'runbook';
  }
  const alerts = [...parsed.data.alerts];
  for (const name of [alertNameIn(stem), alertNameIn(heading)])
    if (name && !alerts.includes(name)) {
      alerts.push(name);
      if (!inferred.includes('alerts')) inferred.push('alerts');
    }
  return {
    ok: true,
    frontMatter: { title, kind, services: parsed.data.services, alerts: alerts.slice(0, 50) },
    extra,
    body,
    inferred,
  };
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
