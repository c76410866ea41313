import type { SafetySummary, Trace } from '../types';
import { Badge, ErrorBox, formatCount, formatTime, Link, Loading, useApi } from '../ui';

const CAUGHT = new Set(['blocked', 'invalid', 'error']);

export function SafetyPage() {
  const [summary, reloadSummary] = useApi<SafetySummary>('/v1/safety/summary');
  const [traces, reloadTraces] = useApi<{ items: Trace[] }>('/v1/traces?limit=500');
  const caught = traces.state === 'ok' ? traces.value.items.filter((trace) => CAUGHT.has(trace.status)) : [];
  return (
    <section aria-labelledby="safety-title">
      <h1 id="safety-title">Guardrails and validation</h1>
      <p className="muted">
        Personal data and secrets are redacted before signals are stored and before any prompt leaves; a model
        answer that fails validation is asked again up to three times. OPX keeps where each match was and a
        keyed hash, never the value. <code>npx opx guardrails check "&lt;text&gt;"</code> shows what would
        happen to a text.
      </p>
      {summary.state === 'loading' ? <Loading what="the guardrail totals" /> : null}
      {summary.state === 'error' ? <ErrorBox error={summary.error} retry={reloadSummary} /> : null}
      {summary.state === 'ok' ? (
        <div className="columns">
          <section className="panel" aria-labelledby="violations-title">
            <h2 id="violations-title">Guardrail violations (all time)</h2>
            {summary.value.violations.length === 0 ? (
              <p className="muted">
                None yet: no signal, prompt or answer has contained personal data, a secret or a prompt
                injection.
              </p>
            ) : (
              <table className="table">
                <thead>
                  <tr>
                    <th scope="col">Where</th>
                    <th scope="col">What</th>
                    <th scope="col">Action</th>
                    <th scope="col" className="number">
                      Count
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {summary.value.violations.map((row) => (
                    <tr key={`${row.direction}/${row.type}/${row.action}`}>
                      <td>
                        {row.direction === 'ingest' ? 'incoming signal or change' : `model ${row.direction}`}
                      </td>
                      <td>{row.type}</td>
                      <td>{row.action}</td>
                      <td className="number">{formatCount(row.count)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
          <section className="panel" aria-labelledby="validation-title">
            <h2 id="validation-title">Validation errors (all time)</h2>
            {summary.value.validationFailures.length === 0 ? (
              <p className="muted">
                None yet: every model answer passed validation
                {summary.value.calls.length === 0
                  ? ' (no model has been called: the agents run on the deterministic engine)'
                  : ''}
                .
              </p>
            ) : (
              <table className="table">
                <thead>
                  <tr>
                    <th scope="col">Agent</th>
                    <th scope="col" className="number">
                      Failed answers
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {summary.value.validationFailures.map((row) => (
                    <tr key={row.agent}>
                      <td>{row.agent}</td>
                      <td className="number">{formatCount(row.count)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
        </div>
      ) : null}
      <h2>Model calls stopped or rejected</h2>
      {traces.state === 'loading' ? <Loading what="model calls" /> : null}
      {traces.state === 'error' ? <ErrorBox error={traces.error} retry={reloadTraces} /> : null}
      {traces.state === 'ok' && caught.length === 0 ? (
        <p className="muted">
          None among the last {traces.value.items.length} model calls: none was blocked by a guardrail, failed
          validation or failed outright.
        </p>
      ) : null}
      {caught.length > 0 ? (
        <table className="table">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Outcome</th>
              <th scope="col">Agent</th>
              <th scope="col">Model</th>
              <th scope="col">Attempt</th>
              <th scope="col">Incident</th>
              <th scope="col">Why</th>
            </tr>
          </thead>
          <tbody>
            {caught.map((trace) => (
              <tr key={trace.id}>
                <td>{formatTime(trace.createdAt)}</td>
                <td>
                  <Badge kind={`trace-${trace.status}`}>{trace.status}</Badge>
                </td>
                <td>{trace.agent ?? '–'}</td>
                <td>
                  {trace.provider}/{trace.model}
                </td>
                <td className="number">{trace.attempt}</td>
                <td>
                  {trace.incidentId ? (
                    <Link to={`/incidents/${encodeURIComponent(trace.incidentId)}`}>{trace.incidentId}</Link>
                  ) : (
                    '–'
                  )}
                </td>
                <td>{trace.error ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}
