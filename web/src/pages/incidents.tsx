import { useEffect, useRef, useState } from 'react';
import { type ApiError, openStream } from '../api';
import {
  ACTIVE_STATUSES,
  type Incident,
  type IncidentSeverity,
  type IncidentStatus,
  SEVERITIES,
  STATUSES,
} from '../types';
import {
  Badge,
  Chip,
  CodeBlock,
  ErrorBox,
  formatTime,
  Link,
  Loading,
  navigate,
  useApi,
  useLocationSearch,
} from '../ui';

type StreamState = { state: 'connecting' | 'live' | 'retrying'; error?: ApiError };

/**
 * Opens the incident stream and calls `onChange` for every incident it reports; returns the stream's
 * state for display. Pages refetch on a change rather than patch, so filters and order stay the server's.
 */
export function useIncidentStream(onChange: (incident: Incident) => void): StreamState {
  const [stream, setStream] = useState<StreamState>({ state: 'connecting' });
  const latest = useRef(onChange);
  latest.current = onChange;
  useEffect(
    () =>
      openStream('/v1/stream/incidents', {
        onEvent(event, data) {
          if (event === 'incident') latest.current((data as { incident: Incident }).incident);
        },
        onState(state, error) {
          setStream(error ? { state, error } : { state });
        },
      }),
    [],
  );
  return stream;
}

export function StreamStatus({ stream }: { stream: StreamState }) {
  const text =
    stream.state === 'live'
      ? 'Live: changes appear within a few seconds'
      : stream.state === 'connecting'
        ? 'Connecting to live updates…'
        : `Live updates paused: ${stream.error?.message ?? 'reconnecting'}`;
  return (
    <p className={`stream stream-${stream.state}`} role="status">
      <span className="dot" aria-hidden="true" /> {text}
    </p>
  );
}

function EmptyState({ filtered }: { filtered: boolean }) {
  if (filtered)
    return (
      <div className="empty">
        <h2>No incident matches these filters</h2>
        <p>Clear a filter to see more.</p>
      </div>
    );
  const origin = window.location.origin;
  return (
    <div className="empty">
      <h2>No incidents yet</h2>
      <p>
        OPX opens an incident when alerts arrive that match a correlation rule. Send your first alert: make a
        token that may ingest,
      </p>
      <CodeBlock label="create an ingest token">npx opx tokens create --name alerts --scope ingest</CodeBlock>
      <p>then post a signal with it (a critical one opens an incident under the default rules):</p>
      <CodeBlock label="send a first alert">
        {`curl -X POST ${origin}/v1/signals \\
  -H "Authorization: Bearer <the ingest token>" \\
  -H "Content-Type: application/json" \\
  -d '{"service":"checkout-service","title":"5xx above 5%","severity":"critical","environment":"prod"}'`}
      </CodeBlock>
      <p>
        It appears here on its own within seconds. To see a full example instead, run{' '}
        <code>npm run demo</code> and then <code>npx opx --data-dir .opx/demo serve</code>. Prometheus,
        Alertmanager, CloudWatch and PagerDuty can send to OPX directly: see the README.
      </p>
    </div>
  );
}

/** The list's filters, as the address holds them: `?q=…&status=A,B&severity=SEV1&service=…`. */
interface Filters {
  q: string;
  status: IncidentStatus[];
  severity: IncidentSeverity[];
  service: string;
}

function listOf<T extends string>(value: string | null, allowed: readonly T[]): T[] {
  const parts = (value ?? '').split(',');
  // In the order of `allowed`, so one set of filters has one address.
  return allowed.filter((item) => parts.includes(item));
}

export function filtersOf(search: string): Filters {
  const params = new URLSearchParams(search);
  return {
    q: params.get('q') ?? '',
    status: listOf(params.get('status'), STATUSES),
    severity: listOf(params.get('severity'), SEVERITIES),
    service: params.get('service') ?? '',
  };
}

export function searchOf(filters: Filters): string {
  const parts: string[] = [];
  if (filters.q) parts.push(`q=${encodeURIComponent(filters.q)}`);
  // Statuses and severities are plain words: the commas stay readable in a shared link.
  if (filters.status.length) parts.push(`status=${filters.status.join(',')}`);
  if (filters.severity.length) parts.push(`severity=${filters.severity.join(',')}`);
  if (filters.service) parts.push(`service=${encodeURIComponent(filters.service)}`);
  return parts.length ? `?${parts.join('&')}` : '';
}

const sameSet = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((item) => b.includes(item));

function toggle<T>(list: readonly T[], item: T): T[] {
  return list.includes(item) ? list.filter((value) => value !== item) : [...list, item];
}

/** How long the search box waits after the last key before it searches. */
const TYPING_MS = 300;

export function IncidentsPage() {
  const search = useLocationSearch();
  const filters = filtersOf(search);
  const [text, setText] = useState(filters.q);
  // One history entry per burst of typing: the first search of a burst is pushed, the rest replace it.
  const typing = useRef<{ pushed: boolean; sent: string } | null>(null);
  const [version, setVersion] = useState(0);
  const [changed, setChanged] = useState<string[]>([]);

  const apply = (next: Partial<Filters>, options: { replace?: boolean } = {}) => {
    const target = `${window.location.pathname}${searchOf({ ...filtersOf(window.location.search), ...next })}`;
    if (target !== `${window.location.pathname}${window.location.search}`) navigate(target, options);
  };

  // The box follows the address when it changes from outside (the back button, a link), not while typing.
  useEffect(() => {
    if (typing.current?.sent !== filters.q) {
      typing.current = null;
      setText(filters.q);
    }
  }, [filters.q]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: only the typed text triggers a search.
  useEffect(() => {
    if (text === filtersOf(window.location.search).q) return;
    const timer = setTimeout(() => {
      if (text === filtersOf(window.location.search).q) return;
      const replace = Boolean(typing.current?.pushed);
      typing.current = { pushed: true, sent: text };
      apply({ q: text }, { replace });
    }, TYPING_MS);
    return () => clearTimeout(timer);
  }, [text]);

  const query = new URLSearchParams({ limit: '100' });
  if (filters.q.trim()) query.set('q', filters.q.trim());
  if (filters.status.length) query.set('status', filters.status.join(','));
  if (filters.severity.length) query.set('severity', filters.severity.join(','));
  if (filters.service) query.set('service', filters.service);
  const [incidents, reload] = useApi<{ items: Incident[]; nextCursor: string | null }>(
    `/v1/incidents?${query}`,
    version,
  );
  const [services] = useApi<{ items: { name: string }[] }>('/v1/services');
  const stream = useIncidentStream((incident) => {
    setChanged((ids) => [...ids.filter((id) => id !== incident.id), incident.id]);
    setVersion((value) => value + 1);
  });
  const filtered = Boolean(
    filters.q.trim() || filters.status.length || filters.severity.length || filters.service,
  );
  const serviceNames = services.state === 'ok' ? services.value.items.map((item) => item.name) : [];
  if (filters.service && !serviceNames.includes(filters.service)) serviceNames.unshift(filters.service);
  const activeOnly = sameSet(filters.status, ACTIVE_STATUSES);
  const items = incidents.state === 'ok' ? incidents.value.items : [];

  return (
    <section aria-labelledby="incidents-title">
      <h1 id="incidents-title">Incidents</h1>
      <StreamStatus stream={stream} />
      <div className="filters">
        <form
          className="search field"
          onSubmit={(event) => {
            event.preventDefault();
            const replace = Boolean(typing.current?.pushed);
            typing.current = { pushed: false, sent: text };
            apply({ q: text }, { replace });
          }}
        >
          <label htmlFor="incident-search">Search</label>
          <input
            id="incident-search"
            type="search"
            value={text}
            maxLength={200}
            placeholder="title, service or note"
            aria-describedby="incident-search-help"
            onChange={(event) => setText(event.target.value)}
            onBlur={() => {
              // The next burst of typing is a new history entry.
              if (typing.current) typing.current = { ...typing.current, pushed: false };
            }}
          />
          <span id="incident-search-help" className="visually-hidden">
            Searches incident titles, service names and notes.
          </span>
        </form>
        <div className="field filter-field">
          <label htmlFor="service-filter">Service</label>
          <select
            id="service-filter"
            value={filters.service}
            onChange={(event) => apply({ service: event.target.value })}
          >
            <option value="">any service</option>
            {serviceNames.map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        </div>
        <fieldset className="chips">
          <legend>Status</legend>
          <Chip
            pressed={activeOnly}
            onClick={() => apply({ status: activeOnly ? [] : [...ACTIVE_STATUSES] })}
          >
            active
          </Chip>
          {STATUSES.map((status) => (
            <Chip
              key={status}
              pressed={filters.status.includes(status)}
              onClick={() => apply({ status: toggle(filters.status, status) })}
            >
              {status.replace('_', ' ')}
            </Chip>
          ))}
        </fieldset>
        <fieldset className="chips">
          <legend>Severity</legend>
          {SEVERITIES.map((severity) => (
            <Chip
              key={severity}
              pressed={filters.severity.includes(severity)}
              onClick={() => apply({ severity: toggle(filters.severity, severity) })}
            >
              {severity}
            </Chip>
          ))}
        </fieldset>
        {filtered ? (
          <button
            type="button"
            className="secondary"
            onClick={() => {
              typing.current = null;
              setText('');
              apply({ q: '', status: [], severity: [], service: '' });
            }}
          >
            Clear filters
          </button>
        ) : null}
      </div>
      {incidents.state === 'loading' ? <Loading what="incidents" /> : null}
      {incidents.state === 'error' ? <ErrorBox error={incidents.error} retry={reload} /> : null}
      {incidents.state === 'ok' && items.length === 0 ? <EmptyState filtered={filtered} /> : null}
      {items.length > 0 ? (
        <>
          <output className="visually-hidden">
            {items.length} incident{items.length === 1 ? '' : 's'} shown
          </output>
          <table className="table incidents">
            <caption className="visually-hidden">Incidents, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Severity</th>
                <th scope="col">Status</th>
                <th scope="col">Incident</th>
                <th scope="col">Services</th>
                <th scope="col">Signals</th>
                <th scope="col">Detected</th>
              </tr>
            </thead>
            <tbody>
              {items.map((incident) => (
                <tr key={incident.id} className={changed.includes(incident.id) ? 'changed' : undefined}>
                  <td>
                    <Badge kind={incident.severity}>{incident.severity}</Badge>
                  </td>
                  <td>
                    <Badge kind={incident.status}>{incident.status.replace('_', ' ')}</Badge>
                  </td>
                  <td>
                    <Link to={`/incidents/${encodeURIComponent(incident.id)}`}>{incident.title}</Link>
                    <div className="muted small">{incident.id}</div>
                  </td>
                  <td>{incident.services.join(', ')}</td>
                  <td className="number">{incident.signalCount}</td>
                  <td>{formatTime(incident.detectedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {/* The same incidents as cards, shown instead of the table on narrow screens (styles.css). */}
          <ul className="incident-cards" aria-label="Incidents, newest first">
            {items.map((incident) => (
              <li
                key={incident.id}
                className={`incident-card${changed.includes(incident.id) ? ' changed' : ''}`}
              >
                <Link className="incident-card-title" to={`/incidents/${encodeURIComponent(incident.id)}`}>
                  {incident.title}
                </Link>
                <p className="meta">
                  <Badge kind={incident.severity}>{incident.severity}</Badge>
                  <Badge kind={incident.status}>{incident.status.replace('_', ' ')}</Badge>
                  <span>
                    {incident.signalCount} signal{incident.signalCount === 1 ? '' : 's'}
                  </span>
                </p>
                <p className="small">{incident.services.join(', ')}</p>
                <p className="muted small">
                  {formatTime(incident.detectedAt)} · {incident.id}
                </p>
              </li>
            ))}
          </ul>
        </>
      ) : null}
      {incidents.state === 'ok' && incidents.value.nextCursor ? (
        <p className="muted">Showing the newest 100. Narrow the filters to find older incidents.</p>
      ) : null}
    </section>
  );
}
