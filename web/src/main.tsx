import { lazy, StrictMode, Suspense, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { ApiError, call, storedToken, storeToken } from './api';
import { AlarmsPage } from './pages/alarms';
import { CostsPage } from './pages/costs';
import { IncidentPage } from './pages/incident';
import { IncidentsPage } from './pages/incidents';
import { KnowledgePage } from './pages/knowledge';
import { NotificationsPage } from './pages/notifications';
import { SafetyPage } from './pages/safety';
import { CodeBlock, ErrorBox, Link, Loading } from './ui';
import './styles.css';

// The Markdown renderer comes with the document view, which only a knowledge hit or citation opens.
const KnowledgeDocumentPage = lazy(() =>
  import('./pages/document').then((module) => ({ default: module.KnowledgeDocumentPage })),
);

const NAV = [
  { to: '/', label: 'Incidents', match: (path: string) => path === '/' || path.startsWith('/incidents') },
  { to: '/costs', label: 'Costs', match: (path: string) => path === '/costs' },
  { to: '/notifications', label: 'Notifications', match: (path: string) => path === '/notifications' },
  { to: '/alarms', label: 'Alarms', match: (path: string) => path === '/alarms' },
  { to: '/safety', label: 'Guardrails & validation', match: (path: string) => path === '/safety' },
  { to: '/kb', label: 'Knowledge base', match: (path: string) => path === '/kb' || path.startsWith('/kb/') },
];

function usePath(): string {
  const [path, setPath] = useState(window.location.pathname);
  useEffect(() => {
    const update = () => setPath(window.location.pathname);
    window.addEventListener('popstate', update);
    return () => window.removeEventListener('popstate', update);
  }, []);
  return path;
}

function Page({ path }: { path: string }) {
  const incident = /^\/incidents\/([^/]+)$/.exec(path);
  if (incident) return <IncidentPage id={decodeURIComponent(incident[1]!)} />;
  const document = /^\/kb\/documents\/([^/]+)$/.exec(path);
  if (document)
    return (
      <Suspense fallback={<Loading what="the document" />}>
        <KnowledgeDocumentPage id={decodeURIComponent(document[1]!)} />
      </Suspense>
    );
  if (path === '/' || path === '/incidents') return <IncidentsPage />;
  if (path === '/costs') return <CostsPage />;
  if (path === '/notifications') return <NotificationsPage />;
  if (path === '/alarms') return <AlarmsPage />;
  if (path === '/safety') return <SafetyPage />;
  if (path === '/kb') return <KnowledgePage />;
  return (
    <section>
      <h1>Page not found</h1>
      <p>
        There is no console page at <code>{path}</code>. <Link to="/">Go to the incidents</Link>.
      </p>
    </section>
  );
}

function TokenForm({ onToken }: { onToken(token: string): void }) {
  const [value, setValue] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [checking, setChecking] = useState(false);
  return (
    <main className="signin" id="main">
      <h1>OPX console</h1>
      <p>
        Paste an OPX API token. The console sends it with every request as <code>Authorization: Bearer</code>{' '}
        and keeps it in this tab only (session storage); closing the tab forgets it.
      </p>
      <form
        onSubmit={async (event) => {
          event.preventDefault();
          const token = value.trim();
          if (!token) {
            setError(new Error('paste a token first'));
            return;
          }
          setChecking(true);
          setError(null);
          storeToken(token);
          try {
            // Checks the token before showing any page: an unknown token gets its answer in words here.
            await call((opx) => opx.listIncidents({ limit: 1 }));
            onToken(token);
          } catch (caught) {
            storeToken(null);
            setError(caught);
          } finally {
            setChecking(false);
          }
        }}
      >
        <label htmlFor="token">API token</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="off"
          spellCheck={false}
          value={value}
          onChange={(event) => setValue(event.target.value)}
          aria-describedby="token-help"
        />
        <button type="submit" disabled={checking}>
          {checking ? 'Checking…' : 'Open the console'}
        </button>
      </form>
      {error ? <ErrorBox error={error} /> : null}
      <div id="token-help">
        <p>
          No token yet? <code>opx serve</code> prints an admin token on its first start. To make one that can
          look and approve but not administer:
        </p>
        <CodeBlock label="create a console token">
          npx opx tokens create --name console --scope read respond
        </CodeBlock>
        <p>
          For the demo's store (<code>npm run demo</code>), add <code>--data-dir .opx/demo</code> after{' '}
          <code>npx opx</code>, here and when you serve it.
        </p>
      </div>
    </main>
  );
}

function App() {
  const [token, setToken] = useState(storedToken());
  const path = usePath();
  // biome-ignore lint/correctness/useExhaustiveDependencies: the path is the trigger; focus moves to the new page.
  useEffect(() => {
    document.getElementById('main')?.focus();
  }, [path]);
  useEffect(() => {
    // A token revoked mid-session: every page shows the API's 401 words; this offers the way out.
    const onRejected = (event: PromiseRejectionEvent) => {
      if (event.reason instanceof ApiError && event.reason.status === 401) setToken(storedToken());
    };
    window.addEventListener('unhandledrejection', onRejected);
    return () => window.removeEventListener('unhandledrejection', onRejected);
  }, []);
  if (!token) return <TokenForm onToken={setToken} />;
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">OPX</span>
        <nav aria-label="Console pages">
          <ul>
            {NAV.map((item) => (
              <li key={item.to}>
                <Link to={item.to} current={item.match(path)}>
                  {item.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <button
          type="button"
          className="link-button"
          onClick={() => {
            storeToken(null);
            setToken(null);
          }}
        >
          Change token
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        <Page path={path} />
      </main>
    </>
  );
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
