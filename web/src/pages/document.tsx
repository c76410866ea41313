import { useEffect, useRef } from 'react';
import type { KnowledgeDocument } from '../../../src/api/schemas';
import { Markdown } from '../markdown';
import { Badge, ErrorBox, formatTime, Link, Loading, useApi, useLocationSearch } from '../ui';

type Chunk = KnowledgeDocument['chunks'][number];

/** The body cut into its sections (the chunks search ranks) and the text between them (headings). */
export type Part = { text: string; at: number; chunk?: Chunk };

/** Where a chunk's text is in the body from `from` on: exactly, else with any run of whitespace. */
function locate(body: string, text: string, from: number): { start: number; end: number } | undefined {
  const exact = body.indexOf(text, from);
  if (exact >= 0) return { start: exact, end: exact + text.length };
  const words = text.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return undefined;
  const pattern = new RegExp(
    words.map((word) => word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('\\s+'),
    'g',
  );
  pattern.lastIndex = from;
  const match = pattern.exec(body);
  return match ? { start: match.index, end: match.index + match[0].length } : undefined;
}

/**
 * Splits the body at its chunks, in order. A chunk starts after its heading line (the chunker keeps
 * headings out of the text), so the heading right above a chunk is taken into it: the marked
 * section then reads from its heading. A chunk not found in the body is left out of the split.
 */
export function splitBody(body: string, chunks: readonly Chunk[]): Part[] {
  const parts: Part[] = [];
  let cursor = 0;
  for (const chunk of chunks) {
    const found = locate(body, chunk.text, cursor);
    if (!found) continue;
    let start = found.start;
    const gap = body.slice(cursor, start);
    const heading = /(?:^|\n)(#{1,6}[ \t][^\n]*\n\s*)$/.exec(gap);
    if (heading) start -= heading[1]!.length;
    if (start > cursor) parts.push({ text: body.slice(cursor, start), at: cursor });
    parts.push({ text: body.slice(start, found.end), at: start, chunk });
    cursor = found.end;
  }
  if (cursor < body.length) parts.push({ text: body.slice(cursor), at: cursor });
  return parts.filter((part) => part.chunk || part.text.trim() !== '');
}

/** The document's own first heading repeats the page's title: the page shows it once. */
function withoutTitle(text: string, title: string): string {
  const match = /^\s*#[ \t]+([^\n]*?)[ \t#]*(?:\n|$)/.exec(text);
  return match && match[1]!.trim() === title.trim() ? text.slice(match[0].length) : text;
}

export function chunkElementId(chunkId: string): string {
  return `section-${chunkId}`;
}

/**
 * A runbook or postmortem whole, rendered from its Markdown. The section a search hit or a citation
 * named (`?chunk=`) is marked and scrolled into view.
 */
export function KnowledgeDocumentPage({ id }: { id: string }) {
  const search = useLocationSearch();
  const cited = new URLSearchParams(search).get('chunk');
  const [document, reload] = useApi<KnowledgeDocument>(`/v1/kb/documents/${encodeURIComponent(id)}`);
  const citedRef = useRef<HTMLElement>(null);

  const loaded = document.state === 'ok';
  // biome-ignore lint/correctness/useExhaustiveDependencies: scrolls once the document is drawn and whenever the cited section changes.
  useEffect(() => {
    const element = citedRef.current;
    if (!loaded || !element) return;
    // After the console has moved focus to the new page: then this section is what is in view.
    const frame = requestAnimationFrame(() => {
      const tall = element.getBoundingClientRect().height > window.innerHeight * 0.8;
      element.scrollIntoView({ block: tall ? 'start' : 'center' });
      element.focus({ preventScroll: true });
    });
    return () => cancelAnimationFrame(frame);
  }, [loaded, cited]);

  if (document.state === 'loading') return <Loading what="the document" />;
  if (document.state === 'error')
    return (
      <section>
        <p>
          <Link to="/kb">← Knowledge base</Link>
        </p>
        <ErrorBox error={document.error} retry={reload} />
        <p className="muted">
          A document imported again after a change gets a new id, so an old link may name one that is gone:
          search for it again.
        </p>
      </section>
    );
  const doc = document.value;
  const parts = splitBody(doc.body, doc.chunks);
  const citedChunk = doc.chunks.find((chunk) => chunk.id === cited);
  const citedFound = parts.some((part) => part.chunk?.id === cited);
  return (
    <article aria-labelledby="document-title" className="document">
      <p>
        <Link to="/kb">← Knowledge base</Link>
      </p>
      <h1 id="document-title">{doc.title}</h1>
      <p className="meta">
        <Badge kind={doc.kind}>{doc.kind}</Badge>
        <code>{doc.path}</code>
        <span>services: {doc.services.join(', ') || '–'}</span>
        <span>alerts: {doc.alerts.join(', ') || '–'}</span>
        <span>imported {formatTime(doc.importedAt)}</span>
      </p>
      {cited && !citedChunk ? (
        <p role="note">The cited section is not in this version of the document.</p>
      ) : null}
      {citedChunk && !citedFound ? (
        <section className="chunk cited" aria-label={`Cited section: ${citedChunk.heading}`}>
          <p className="cited-label">Cited section: {citedChunk.heading}</p>
          <Markdown text={citedChunk.text} />
        </section>
      ) : null}
      <div className="markdown">
        {parts.map((part, index) => {
          const text = index === 0 ? withoutTitle(part.text, doc.title) : part.text;
          if (!part.chunk) return <Markdown key={`text@${part.at}`} text={text} />;
          const isCited = part.chunk.id === cited;
          return (
            <section
              key={part.chunk.id}
              id={chunkElementId(part.chunk.id)}
              ref={isCited ? citedRef : undefined}
              className={isCited ? 'chunk cited' : 'chunk'}
              data-cited={isCited ? 'true' : undefined}
              aria-label={isCited ? `Cited section: ${part.chunk.heading}` : undefined}
              tabIndex={isCited ? -1 : undefined}
            >
              {isCited ? <p className="cited-label">Cited section</p> : null}
              <Markdown text={text} />
            </section>
          );
        })}
      </div>
    </article>
  );
}
