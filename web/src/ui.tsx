import { type ReactNode, useCallback, useEffect, useState } from 'react';
import { ApiError, apiGet } from './api';

/** Client-side navigation without a router library: the server answers every console path with the app. */
export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (options.replace) window.history.replaceState(null, '', to);
  else window.history.pushState(null, '', to);
  window.dispatchEvent(new PopStateEvent('popstate'));
}

/** The address's query string (`?…`), following links, the back button and `navigate`. */
export function useLocationSearch(): string {
  const [search, setSearch] = useState(window.location.search);
  useEffect(() => {
    const update = () => setSearch(window.location.search);
    window.addEventListener('popstate', update);
    return () => window.removeEventListener('popstate', update);
  }, []);
  return search;
}

export function Link({
  to,
  children,
  className,
  current,
}: {
  to: string;
  children: ReactNode;
  className?: string;
  current?: boolean;
}) {
  return (
    <a
      href={to}
      className={className}
      aria-current={current ? 'page' : undefined}
      onClick={(event) => {
        // Let the browser handle new-tab and new-window clicks.
        if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
        event.preventDefault();
        navigate(to);
      }}
    >
      {children}
    </a>
  );
}

/**
 * Times in UTC, as the API and the CLI print them: on-call engineers compare them with logs. Answers
 * carry ISO-8601 text; a frozen evidence bundle keeps epoch milliseconds, so both are taken.
 */
export function formatTime(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '–';
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** How long ago a time was, in minutes, hours or days: "just now", "9 min ago", "2 h 5 min ago", "3 days ago". */
export function formatAgo(value: string | number, now: number): string {
  const minutes = Math.floor((now - new Date(value).getTime()) / 60_000);
  if (Number.isNaN(minutes)) return '';
  if (minutes < 1) return 'just now';
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h${minutes % 60 ? ` ${minutes % 60} min` : ''} ago`;
  return `${Math.floor(hours / 24)} days ago`;
}

/** The clock, read again every `everyMs`, so relative times ("9 min ago") move on by themselves. */
export function useNow(everyMs = 30_000): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}

export function formatUsd(value: number): string {
  return value < 0.01 && value > 0 ? `$${value.toFixed(6)}` : `$${value.toFixed(2)}`;
}

export function formatCount(value: number): string {
  return value.toLocaleString('en-US');
}

export function ErrorBox({ error, retry }: { error: unknown; retry?: () => void }) {
  const message =
    error instanceof ApiError
      ? `${error.message}${error.code && error.code !== 'http_error' && error.code !== 'network' ? ` (${error.code})` : ''}`
      : error instanceof Error
        ? error.message
        : String(error);
  const unauthorized = error instanceof ApiError && (error.status === 401 || error.status === 403);
  return (
    <div className="error" role="alert">
      <strong>{unauthorized ? 'Not allowed: ' : 'Something went wrong: '}</strong>
      {message}
      {unauthorized ? (
        <p>
          Use a token with the scope this page needs (<code>read</code> to look, <code>respond</code> to
          approve, reject or run an incident, <code>admin</code> to redrive a notification). Change it with
          “Change token” at the top right.
        </p>
      ) : null}
      {retry ? (
        <p>
          <button type="button" onClick={retry}>
            Try again
          </button>
        </p>
      ) : null}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="muted" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export type Loaded<T> = { state: 'loading' } | { state: 'error'; error: unknown } | { state: 'ok'; value: T };

/** Loads from the API whenever `route` or `version` changes; `reload()` fetches again. */
export function useApi<T>(route: string | null, version = 0): [Loaded<T>, () => void] {
  const [result, setResult] = useState<Loaded<T>>({ state: 'loading' });
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((value) => value + 1), []);
  // biome-ignore lint/correctness/useExhaustiveDependencies: version and tick are reload triggers, not inputs.
  useEffect(() => {
    if (route === null) return;
    const abort = new AbortController();
    apiGet<T>(route, abort.signal).then(
      (value) => setResult({ state: 'ok', value }),
      (error: unknown) => {
        if (!abort.signal.aborted) setResult({ state: 'error', error });
      },
    );
    return () => abort.abort();
  }, [route, version, tick]);
  return [result, reload];
}

export function Badge({ kind, children }: { kind: string; children: ReactNode }) {
  return <span className={`badge badge-${kind.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`}>{children}</span>;
}

/** A 0–1 score as a bar with its number; the number carries the meaning, the bar helps scanning. */
export function ScoreBar({ label, value }: { label: string; value: number }) {
  const percent = Math.round(Math.max(0, Math.min(1, value)) * 100);
  return (
    <div className="score">
      <span className="score-label">{label}</span>
      <span className="score-track" aria-hidden="true">
        <span className="score-fill" style={{ width: `${percent}%` }} />
      </span>
      <span className="score-value">{value.toFixed(2)}</span>
    </div>
  );
}

export function CodeBlock({ children, label }: { children: string; label: string }) {
  return (
    <figure className="code-figure" aria-label={label}>
      <pre className="code">
        <code>{children}</code>
      </pre>
    </figure>
  );
}

/**
 * A section that folds: its heading is the <summary>, so the page can be read by headings and the
 * long parts opened on demand. `note` says in a few words what is inside while it is closed.
 */
export function Fold({
  id,
  title,
  note,
  open,
  onToggle,
  className,
  children,
}: {
  id: string;
  title: string;
  note?: ReactNode;
  open?: boolean;
  onToggle?(open: boolean): void;
  className?: string;
  children: ReactNode;
}) {
  return (
    <section aria-labelledby={id} className={className}>
      <details className="fold" open={open} onToggle={(event) => onToggle?.(event.currentTarget.open)}>
        <summary>
          <h2 id={id}>{title}</h2>
          {note ? <span className="fold-note">{note}</span> : null}
        </summary>
        {children}
      </details>
    </section>
  );
}

/** A toggle among filters: pressed while its filter is on. */
export function Chip({
  pressed,
  onClick,
  children,
}: {
  pressed: boolean;
  onClick(): void;
  children: string;
}) {
  return (
    <button type="button" className="chip" aria-pressed={pressed} onClick={onClick}>
      {children}
    </button>
  );
}

/** A fresh key per click: a retry of the same request by the browser or a proxy is not a second write. */
export const once = () => ({ idempotencyKey: crypto.randomUUID() });

/** One write at a time per control, with its error kept beside it. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  async function run(work: () => Promise<void>): Promise<boolean> {
    setBusy(true);
    setError(null);
    try {
      await work();
      return true;
    } catch (caught) {
      setError(caught);
      return false;
    } finally {
      setBusy(false);
    }
  }
  return { busy, error, setError, run };
}
