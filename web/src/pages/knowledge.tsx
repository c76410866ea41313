import { lazy, Suspense, useState } from 'react';
import type { KnowledgeHit } from '../types';
import { Badge, CodeBlock, ErrorBox, Link, Loading, useApi } from '../ui';

const Markdown = lazy(() => import('../markdown').then((module) => ({ default: module.Markdown })));

/** The whole document a hit is a section of, opened at that section. */
export function documentLink(hit: Pick<KnowledgeHit, 'documentId' | 'chunkId'>): string {
  return `/kb/documents/${encodeURIComponent(hit.documentId)}?chunk=${encodeURIComponent(hit.chunkId)}`;
}

export function KnowledgePage() {
  const [text, setText] = useState('');
  const [service, setService] = useState('');
  const [alert, setAlert] = useState('');
  const [kind, setKind] = useState('');
  const [route, setRoute] = useState<string | null>(null);
  const [documents] = useApi<{ items: unknown[] }>('/v1/kb/documents');
  const [results, reload] = useApi<{ items: KnowledgeHit[] }>(route);
  return (
    <section aria-labelledby="kb-title">
      <h1 id="kb-title">Knowledge base</h1>
      <p className="muted">
        Runbooks and postmortems, ranked by BM25 on the symptoms, boosted by the service and alert they name.
        {documents.state === 'ok' ? ` ${documents.value.items.length} documents imported.` : ''}
      </p>
      {documents.state === 'ok' && documents.value.items.length === 0 ? (
        <div className="empty">
          <h2>No documents imported yet</h2>
          <p>
            Import a folder of Markdown runbooks and postmortems (front matter names their services and
            alerts):
          </p>
          <CodeBlock label="import runbooks">npx opx kb import examples/kb</CodeBlock>
        </div>
      ) : null}
      <search>
        <form
          className="filters"
          aria-label="Search the knowledge base"
          onSubmit={(event) => {
            event.preventDefault();
            const query = new URLSearchParams({ limit: '10' });
            if (text.trim()) query.set('q', text.trim());
            if (service.trim()) query.set('service', service.trim());
            if (alert.trim()) query.set('alert', alert.trim());
            if (kind) query.set('kind', kind);
            setRoute(`/v1/kb/search?${query}`);
            reload();
          }}
        >
          <label className="grow">
            Symptoms
            <input
              type="search"
              value={text}
              placeholder="e.g. 5xx error rate after deploy"
              onChange={(event) => setText(event.target.value)}
            />
          </label>
          <label>
            Service
            <input value={service} onChange={(event) => setService(event.target.value)} />
          </label>
          <label>
            Alert
            <input value={alert} onChange={(event) => setAlert(event.target.value)} />
          </label>
          <label>
            Kind
            <select value={kind} onChange={(event) => setKind(event.target.value)}>
              <option value="">both</option>
              <option value="runbook">runbooks</option>
              <option value="postmortem">postmortems</option>
            </select>
          </label>
          <button type="submit">Search</button>
        </form>
      </search>
      {route === null ? (
        <p className="muted">Give symptoms, a service or an alert name, then search.</p>
      ) : null}
      {route !== null && results.state === 'loading' ? <Loading what="results" /> : null}
      {route !== null && results.state === 'error' ? <ErrorBox error={results.error} /> : null}
      {route !== null && results.state === 'ok' ? (
        results.value.items.length === 0 ? (
          <p role="status">Nothing matches. Try fewer words, or only the service.</p>
        ) : (
          <ol className="cards results" aria-label="Search results">
            {results.value.items.map((hit) => (
              <li key={hit.chunkId} className="card">
                <h2 className="h3">
                  <Link to={documentLink(hit)}>{hit.title}</Link>{' '}
                  <span className="muted small">score {hit.score.toFixed(1)}</span>
                </h2>
                <p className="meta">
                  <Badge kind={hit.kind}>{hit.kind}</Badge>
                  <code>{hit.path}</code>
                  <span>{hit.heading}</span>
                </p>
                <div className="markdown excerpt-markdown">
                  <Suspense fallback={<p className="excerpt">{hit.excerpt}</p>}>
                    <Markdown text={hit.excerpt} />
                  </Suspense>
                </div>
                <p className="muted small">
                  services: {hit.services.join(', ') || '–'} · alerts: {hit.alerts.join(', ') || '–'}
                </p>
              </li>
            ))}
          </ol>
        )
      ) : null}
    </section>
  );
}
