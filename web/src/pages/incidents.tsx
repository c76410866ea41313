import { useEffect, useRef, useState } from 'react';
import { type ApiError, openStream } from '../api';
import { type Incident, SEVERITIES, STATUSES } from '../types';
import { Badge, CodeBlock, ErrorBox, formatTime, Link, Loading, useApi } from '../ui';

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

export function IncidentsPage() {
  const [status, setStatus] = useState('');
  const [severity, setSeverity] = useState('');
  const [service, setService] = useState('');
  const [serviceFilter, setServiceFilter] = useState('');
  const [version, setVersion] = useState(0);
  const [changed, setChanged] = useState<string[]>([]);
  const query = new URLSearchParams({ limit: '100' });
  if (status) query.set('status', status);
  if (severity) query.set('severity', severity);
  if (serviceFilter) query.set('service', serviceFilter);
  const [incidents, reload] = useApi<{ items: Incident[]; nextCursor: string | null }>(
    `/v1/incidents?${query}`,
    version,
  );
  const [services] = useApi<{ items: { name: string }[] }>('/v1/services');
  const stream = useIncidentStream((incident) => {
    setChanged((ids) => [...ids.filter((id) => id !== incident.id), incident.id]);
    setVersion((value) => value + 1);
  });
  const filtered = Boolean(status || severity || serviceFilter);

  return (
    <section aria-labelledby="incidents-title">
      <h1 id="incidents-title">Incidents</h1>
      <StreamStatus stream={stream} />
      <form
        className="filters"
        aria-label="Filter incidents"
        onSubmit={(event) => {
          event.preventDefault();
          setServiceFilter(service.trim());
        }}
      >
        <label>
          Status
          <select value={status} onChange={(event) => setStatus(event.target.value)}>
            <option value="">any</option>
            <option value="OPEN,INVESTIGATING,ADVISORY_READY,ACKNOWLEDGED,MITIGATED">active</option>
            {STATUSES.map((item) => (
              <option key={item} value={item}>
                {item}
              </option>
            ))}
          </select>
        </label>
        <label>
          Severity
          <select value={severity} onChange={(event) => setSeverity(event.target.value)}>
            <option value="">any</option>
            {SEVERITIES.map((item) => (
              <option key={item} value={item}>
                {item}
              </option>
            ))}
          </select>
        </label>
        <label>
          Service
          <input
            list="service-names"
            value={service}
            placeholder="any service"
            onChange={(event) => setService(event.target.value)}
          />
          <datalist id="service-names">
            {services.state === 'ok'
              ? services.value.items.map((item) => <option key={item.name} value={item.name} />)
              : null}
          </datalist>
        </label>
        <button type="submit">Apply</button>
        {filtered ? (
          <button
            type="button"
            className="secondary"
            onClick={() => {
              setStatus('');
              setSeverity('');
              setService('');
              setServiceFilter('');
            }}
          >
            Clear filters
          </button>
        ) : null}
      </form>
      {incidents.state === 'loading' ? <Loading what="incidents" /> : null}
      {incidents.state === 'error' ? <ErrorBox error={incidents.error} retry={reload} /> : null}
      {incidents.state === 'ok' && incidents.value.items.length === 0 ? (
        <EmptyState filtered={filtered} />
      ) : null}
      {incidents.state === 'ok' && incidents.value.items.length > 0 ? (
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
            {incidents.value.items.map((incident) => (
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
      ) : null}
      {incidents.state === 'ok' && incidents.value.nextCursor ? (
        <p className="muted">Showing the newest 100. Narrow the filters to find older incidents.</p>
      ) : null}
    </section>
  );
}
