import { lazy, type ReactNode, Suspense, useCallback, useState } from 'react';
import { documentNodeId, documentOfNodeId, serviceEvidenceId } from '../../../src/domain/evidence-id';
import { call } from '../api';
import { cannotRespond, type SessionState, useSession } from '../session';
import type {
  Evidence,
  Finding,
  Incident,
  IncidentEvent,
  Investigation,
  JoinReason,
  Recommendation,
  Signal,
  TrustScore,
  ValidationFailure,
  Violation,
} from '../types';
import { Badge, ErrorBox, formatTime, Link, Loading, ScoreBar, useApi } from '../ui';
import { StreamStatus, useIncidentStream } from './incidents';
import { IncidentNotifications } from './notifications';
import { RespondPanel } from './respond';

// The graph library is most of the console's weight; only the incident page loads it.
const EvidenceGraph = lazy(() => import('../graph').then((module) => ({ default: module.EvidenceGraph })));

const evidenceElementId = (id: string) => `ev-${id}`;

/** Moves focus to a piece of evidence and marks it, so a citation click lands somewhere visible. */
function jumpTo(id: string): void {
  const element = document.getElementById(evidenceElementId(id));
  if (!element) return;
  element.scrollIntoView({ block: 'center' });
  element.focus({ preventScroll: true });
}

function Citations({ ids, known, onCite }: { ids: string[]; known: Set<string>; onCite(id: string): void }) {
  return (
    <ul className="citations" aria-label="Cited evidence">
      {ids.map((id) => (
        <li key={id}>
          {known.has(id) ? (
            <button type="button" className="citation" onClick={() => onCite(id)}>
              {id}
            </button>
          ) : (
            <span className="citation missing" title="not in the frozen evidence bundle">
              {id}
            </span>
          )}
        </li>
      ))}
    </ul>
  );
}

function TrustPanel({ trust }: { trust: TrustScore | undefined }) {
  if (!trust)
    return <p className="muted">No trust score yet: it is computed when an investigation completes.</p>;
  return (
    <div className="trust">
      <p className="trust-score">
        <span className="big">{trust.score.toFixed(2)}</span> overall trust
        {trust.abstain ? <Badge kind="warn">abstains: too little to go on</Badge> : null}
      </p>
      <div className="scores">
        {Object.entries(trust.components).map(([name, value]) => (
          <ScoreBar key={name} label={name} value={value} />
        ))}
      </div>
      {trust.reasons.length > 0 ? (
        <ul className="reasons">
          {trust.reasons.map((reason) => (
            <li key={reason}>{reason}</li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

function RecommendationCard({
  recommendation,
  known,
  onCite,
  onDecided,
  session,
}: {
  recommendation: Recommendation;
  known: Set<string>;
  onCite(id: string): void;
  onDecided(): void;
  session: SessionState;
}) {
  const denied = cannotRespond(session);
  const [reason, setReason] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const reasonId = `reason-${recommendation.id}`;

  async function decide(action: 'approve' | 'reject') {
    if (!reason.trim()) {
      setError(new Error(`write a reason before you ${action}: it is recorded on the incident's timeline`));
      document.getElementById(reasonId)?.focus();
      return;
    }
    setBusy(true);
    setError(null);
    try {
      // A fresh key per click: a retry of the same request by the browser or a proxy is not a second decision.
      await call((opx) =>
        opx.decide(recommendation.id, action, reason.trim(), { idempotencyKey: crypto.randomUUID() }),
      );
      setReason('');
      onDecided();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  }

  return (
    <li className="card recommendation" id={`rec-${recommendation.id}`}>
      <h3>
        <span className="rank">#{recommendation.rank}</span> {recommendation.title}
      </h3>
      <p className="meta">
        <Badge kind={recommendation.kind}>{recommendation.kind.replace(/_/g, ' ')}</Badge>
        <Badge kind={`risk-${recommendation.risk}`}>risk {recommendation.risk}</Badge>
        <span>confidence {recommendation.confidence.toFixed(2)}</span>
        <span>trust {recommendation.trust === null ? '–' : recommendation.trust.toFixed(2)}</span>
        <Badge kind={recommendation.status}>{recommendation.status}</Badge>
      </p>
      <p>{recommendation.rationale}</p>
      <Citations ids={recommendation.citations} known={known} onCite={onCite} />
      {recommendation.status === 'proposed' ? (
        <form
          className="decision"
          onSubmit={(event) => {
            event.preventDefault();
            void decide('approve');
          }}
        >
          <label htmlFor={reasonId}>Reason (required)</label>
          <div className="decision-row">
            <input
              id={reasonId}
              type="text"
              value={reason}
              onChange={(event) => setReason(event.target.value)}
              maxLength={2000}
              autoComplete="off"
            />
            <button type="submit" disabled={busy || Boolean(denied)} title={denied}>
              Approve
            </button>
            <button
              type="button"
              className="danger"
              disabled={busy || Boolean(denied)}
              title={denied}
              onClick={() => void decide('reject')}
            >
              Reject
            </button>
          </div>
          {error ? <ErrorBox error={error} /> : null}
        </form>
      ) : (
        <p className="decided" role="status">
          {recommendation.status === 'approved' ? 'Approved' : 'Rejected'} by {recommendation.decidedBy} at{' '}
          {formatTime(recommendation.decidedAt)}: “{recommendation.decisionReason}”
        </p>
      )}
    </li>
  );
}

function FindingCard({
  finding,
  known,
  onCite,
}: {
  finding: Finding;
  known: Set<string>;
  onCite(id: string): void;
}) {
  const engine =
    finding.engine.provider === 'deterministic'
      ? 'deterministic engine'
      : `${finding.engine.provider}/${finding.engine.model}`;
  return (
    <li className="card finding">
      <h3>{finding.agent}</h3>
      <p className="meta">
        <span>confidence {finding.confidence.toFixed(2)}</span>
        {finding.grounding ? <span>grounding {finding.grounding.score.toFixed(2)}</span> : null}
        <span>{engine}</span>
        {finding.degraded ? <Badge kind="warn">degraded to the engine</Badge> : null}
        {finding.insufficientEvidence ? <Badge kind="warn">insufficient evidence</Badge> : null}
      </p>
      <p>{finding.summary}</p>
      {finding.claims.length > 0 ? (
        <ol className="claims">
          {finding.claims.map((claim) => (
            <li key={claim.text}>
              <p>
                {claim.text}{' '}
                <span className="muted small">
                  (confidence {claim.confidence.toFixed(2)}
                  {claim.grounded === false ? ', NOT supported by its evidence' : ''})
                </span>
              </p>
              <Citations ids={claim.evidenceIds} known={known} onCite={onCite} />
            </li>
          ))}
        </ol>
      ) : null}
      {finding.grounding && finding.grounding.unsupported.length > 0 ? (
        <div className="unsupported">
          <strong>Statements the evidence does not support:</strong>
          <ul>
            {finding.grounding.unsupported.map((item) => (
              <li key={item.text}>
                {item.text} — {item.problems.join('; ')}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
    </li>
  );
}

function EvidenceItem({
  id,
  selected,
  children,
  onSelect,
}: {
  id: string;
  selected: boolean;
  children: ReactNode;
  onSelect(id: string): void;
}) {
  return (
    // biome-ignore lint/a11y/useKeyWithClickEvents: a convenience for pointer users; citations and the item's own focus cover the keyboard.
    <li
      id={evidenceElementId(id)}
      tabIndex={-1}
      className={selected ? 'evidence-item selected' : 'evidence-item'}
      onClick={() => onSelect(id)}
    >
      <code className="evidence-id">{id}</code> {children}
    </li>
  );
}

function EvidenceList({
  evidence,
  selected,
  onSelect,
}: {
  evidence: Evidence;
  selected: string | null;
  onSelect(id: string): void;
}) {
  const { bundle } = evidence;
  const is = (id: string) => selected === id;
  return (
    <div className="evidence-list">
      <h3>Signals</h3>
      <ul>
        {bundle.signals.map((signal) => (
          <EvidenceItem key={signal.id} id={signal.id} selected={is(signal.id)} onSelect={onSelect}>
            {signal.severity} on {signal.service}: {signal.title}
          </EvidenceItem>
        ))}
      </ul>
      <h3>Changes in the look-back window</h3>
      {bundle.changes.length === 0 ? <p className="muted">none</p> : null}
      <ul>
        {bundle.changes.map((change) => (
          <EvidenceItem key={change.id} id={change.id} selected={is(change.id)} onSelect={onSelect}>
            {change.kind} on {change.service} at {formatTime(change.startedAt)}: {change.summary}
          </EvidenceItem>
        ))}
      </ul>
      <h3>Services nearby</h3>
      <ul>
        {bundle.neighbourhood.map((entry) => {
          const id = serviceEvidenceId(entry.service);
          return (
            <EvidenceItem key={id} id={id} selected={is(id)} onSelect={onSelect}>
              {entry.relation}, {entry.distance} hop{entry.distance === 1 ? '' : 's'} away
            </EvidenceItem>
          );
        })}
      </ul>
      <h3>Runbook and postmortem sections</h3>
      <ul>
        {bundle.knowledge.map((hit) => (
          <EvidenceItem key={hit.chunkId} id={hit.chunkId} selected={is(hit.chunkId)} onSelect={onSelect}>
            <strong>{hit.path}</strong> — {hit.heading}
            <p className="excerpt">{hit.excerpt}</p>
          </EvidenceItem>
        ))}
      </ul>
      <h3>Similar past incidents</h3>
      <ul>
        {bundle.history.map((past) => (
          <EvidenceItem key={past.id} id={past.id} selected={is(past.id)} onSelect={onSelect}>
            {past.severity} {formatTime(past.detectedAt)}: {past.title}
            {past.rootCause ? <p className="excerpt">Root cause: {past.rootCause}</p> : null}
          </EvidenceItem>
        ))}
      </ul>
    </div>
  );
}

/** A one-line reading of an event's data; the full record is the JSON the API returns. */
function eventSummary(event: IncidentEvent): string {
  const data = event.data;
  const text = (key: string) => (typeof data[key] === 'string' ? (data[key] as string) : undefined);
  switch (event.type) {
    case 'status_changed':
      return [
        `${text('from')} → ${text('to')}${text('reason') ? `: ${text('reason')}` : ''}`,
        text('rootCause') ? `root cause: ${text('rootCause')}` : '',
        text('resolution') ? `resolution: ${text('resolution')}` : '',
      ]
        .filter(Boolean)
        .join(' · ');
    case 'severity_changed':
      return `${text('from')} → ${text('to')}${text('reason') ? `: “${text('reason')}”` : ''}`;
    case 'note_added':
      return `“${text('text') ?? ''}”`;
    case 'signal_attached':
      return `${String(data.count ?? '')} signal(s) ${Array.isArray(data.signalIds) ? data.signalIds.join(', ') : ''}`;
    case 'recommendation_approved':
    case 'recommendation_rejected':
      return `${text('recommendationId') ?? ''}: “${text('reason') ?? ''}”`;
    default: {
      const parts = Object.entries(data)
        .filter(([, value]) => typeof value === 'string' || typeof value === 'number')
        .map(([key, value]) => `${key} ${value}`);
      return parts.join(' · ');
    }
  }
}

/** The response-strategy agent's pick: a service, maybe a change, and how sure it is. */
function RootCause({ value }: { value: unknown }) {
  if (!value || typeof value !== 'object') return null;
  const cause = value as { service?: string; changeId?: string | null; confidence?: number };
  if (!cause.service) return null;
  return (
    <p>
      <strong>Probable root cause:</strong> {cause.service}
      {cause.changeId ? ` after change ${cause.changeId}` : ''}
      {typeof cause.confidence === 'number' ? ` (confidence ${cause.confidence.toFixed(2)})` : ''}
    </p>
  );
}

interface Detail {
  incident: Incident;
  signals: Signal[];
}

export function IncidentPage({ id }: { id: string }) {
  const [version, setVersion] = useState(0);
  const [selected, setSelected] = useState<string | null>(null);
  const encoded = encodeURIComponent(id);
  const [detail, reloadDetail] = useApi<Detail>(`/v1/incidents/${encoded}`, version);
  const [events] = useApi<{ items: IncidentEvent[] }>(`/v1/incidents/${encoded}/events`, version);
  const [investigations] = useApi<{ items: Investigation[] }>(
    `/v1/incidents/${encoded}/investigations`,
    version,
  );
  const [recommendations] = useApi<{ items: Recommendation[] }>(
    `/v1/incidents/${encoded}/recommendations`,
    version,
  );
  const [evidence] = useApi<Evidence>(`/v1/incidents/${encoded}/evidence`, version);
  const [safety] = useApi<{ violations: Violation[]; validationErrors: ValidationFailure[] }>(
    `/v1/incidents/${encoded}/safety`,
    version,
  );
  const refresh = useCallback(() => setVersion((value) => value + 1), []);
  const session = useSession();
  // The incident as the last write here answered it: shown at once, until the reload catches up.
  const [written, setWritten] = useState<Incident | null>(null);
  const changed = useCallback(
    (incident: Incident | null) => {
      if (incident) setWritten(incident);
      refresh();
    },
    [refresh],
  );
  const stream = useIncidentStream((incident) => {
    if (incident.id === id) refresh();
  });

  const known = new Set<string>();
  if (evidence.state === 'ok') {
    const { bundle, graph } = evidence.value;
    for (const item of [...bundle.signals, ...bundle.changes, ...bundle.history]) known.add(item.id);
    for (const entry of bundle.neighbourhood) known.add(serviceEvidenceId(entry.service));
    for (const hit of bundle.knowledge) known.add(hit.chunkId);
    for (const node of graph?.nodes ?? []) if (node.kind === 'service') known.add(node.id);
  }
  const cite = (evidenceId: string) => {
    setSelected(evidenceId);
    jumpTo(evidenceId);
  };
  // A knowledge section is drawn as its document in the graph.
  const graphSelection = (() => {
    if (!selected || evidence.state !== 'ok') return selected;
    const hit = evidence.value.bundle.knowledge.find((item) => item.chunkId === selected);
    return hit ? documentNodeId(hit.documentId) : selected;
  })();
  const selectFromGraph = (nodeId: string) => {
    const documentId = documentOfNodeId(nodeId);
    if (documentId !== undefined && evidence.state === 'ok') {
      const hit = evidence.value.bundle.knowledge.find((item) => item.documentId === documentId);
      if (hit) return cite(hit.chunkId);
    }
    cite(nodeId);
  };

  if (detail.state === 'loading') return <Loading what="the incident" />;
  if (detail.state === 'error')
    return (
      <section>
        <p>
          <Link to="/">← All incidents</Link>
        </p>
        <ErrorBox error={detail.error} retry={reloadDetail} />
      </section>
    );
  const { signals } = detail.value;
  const loaded = detail.value.incident;
  const incident =
    written && written.id === loaded.id && written.updatedAt > loaded.updatedAt
      ? { ...loaded, ...written }
      : loaded;
  const completed = investigations.state === 'ok' && investigations.value.items.some(isCompleted);
  const latest = investigations.state === 'ok' ? investigations.value.items[0] : undefined;
  const strategy = latest?.findings.find((finding) => finding.agent === 'response-strategy');

  return (
    <article aria-labelledby="incident-title">
      <p>
        <Link to="/">← All incidents</Link>
      </p>
      <h1 id="incident-title">{incident.title}</h1>
      <p className="meta">
        <Badge kind={incident.severity}>{incident.severity}</Badge>
        <Badge kind={incident.status}>{incident.status.replace('_', ' ')}</Badge>
        <span>{incident.id}</span>
        {incident.rootService ? <span>origin: {incident.rootService}</span> : null}
        <span>services: {incident.services.join(', ')}</span>
        <span>started {formatTime(incident.startedAt)}</span>
        <span>detected {formatTime(incident.detectedAt)}</span>
      </p>
      <StreamStatus stream={stream} />
      {incident.mergedInto ? (
        <p role="note">
          Merged into{' '}
          <Link to={`/incidents/${encodeURIComponent(incident.mergedInto)}`}>{incident.mergedInto}</Link>: its
          signals are there now.
        </p>
      ) : null}
      {incident.rootCause ? (
        <p>
          <strong>Root cause:</strong> {incident.rootCause}
        </p>
      ) : null}
      {incident.resolution ? (
        <p>
          <strong>Resolution:</strong> {incident.resolution}
        </p>
      ) : null}

      <RespondPanel incident={incident} session={session} onChanged={changed} />

      <div className="columns columns-wide-right">
        <section aria-labelledby="trust-title" className="panel">
          <h2 id="trust-title">Trust</h2>
          {investigations.state === 'error' ? <ErrorBox error={investigations.error} /> : null}
          {investigations.state === 'ok' ? (
            latest ? (
              <>
                <p className="muted small">
                  Investigation {latest.id}: {latest.status}
                  {latest.error ? ` (${latest.error})` : ''},{' '}
                  {formatTime(latest.finishedAt ?? latest.startedAt)}
                </p>
                <RootCause value={strategy?.data.probableRootCause} />
                {typeof strategy?.data.channelSummary === 'string' ? (
                  <p className="summary">{strategy.data.channelSummary}</p>
                ) : null}
                <TrustPanel trust={strategy?.data.trust} />
              </>
            ) : (
              <p className="muted">
                No investigation yet. OPX starts one on its own when an incident opens (the worker of{' '}
                <code>opx serve</code>); by hand: <code>npx opx investigate {incident.id}</code>.
              </p>
            )
          ) : null}
        </section>

        <section aria-labelledby="recommendations-title" className="panel">
          <h2 id="recommendations-title">Recommendations</h2>
          <p className="muted small">
            Approving or rejecting records your decision, your token's name and your reason on the incident's
            timeline. OPX executes nothing.
          </p>
          {recommendations.state === 'error' ? <ErrorBox error={recommendations.error} /> : null}
          {recommendations.state === 'ok' &&
          recommendations.value.items.length === 0 &&
          investigations.state === 'ok' ? (
            <p className="muted">
              {completed
                ? 'No recommendations: the investigation proposed none.'
                : 'No recommendations: they come with a completed investigation.'}
            </p>
          ) : null}
          {recommendations.state === 'ok' ? (
            <ol className="cards">
              {recommendations.value.items.map((recommendation) => (
                <RecommendationCard
                  key={recommendation.id}
                  recommendation={recommendation}
                  known={known}
                  onCite={cite}
                  onDecided={refresh}
                  session={session}
                />
              ))}
            </ol>
          ) : null}
        </section>
      </div>

      <section aria-labelledby="findings-title">
        <h2 id="findings-title">Findings</h2>
        {latest ? (
          <ol className="cards findings">
            {latest.findings.map((finding) => (
              <FindingCard key={finding.agent} finding={finding} known={known} onCite={cite} />
            ))}
          </ol>
        ) : (
          <p className="muted">No findings yet.</p>
        )}
      </section>

      <section aria-labelledby="evidence-title">
        <h2 id="evidence-title">Evidence</h2>
        {evidence.state === 'loading' ? <Loading what="the evidence" /> : null}
        {evidence.state === 'error' ? <ErrorBox error={evidence.error} /> : null}
        {evidence.state === 'ok' ? (
          <>
            <p className="muted small">
              Frozen bundle {evidence.value.bundle.id} as of {formatTime(evidence.value.bundle.asOf)}, content
              hash <code>{evidence.value.bundle.hash.slice(0, 16)}…</code>. Click a citation or a node to
              select its evidence.
            </p>
            <div className="evidence">
              <div>
                <Suspense fallback={<Loading what="the graph" />}>
                  <EvidenceGraph
                    evidence={evidence.value}
                    selected={graphSelection}
                    onSelect={selectFromGraph}
                  />
                </Suspense>
              </div>
              <EvidenceList evidence={evidence.value} selected={selected} onSelect={setSelected} />
            </div>
          </>
        ) : null}
      </section>

      <div className="columns">
        <section aria-labelledby="timeline-title" className="panel">
          <h2 id="timeline-title">Timeline</h2>
          {events.state === 'error' ? <ErrorBox error={events.error} /> : null}
          {events.state === 'ok' ? (
            <ol className="timeline">
              {events.value.items.map((event) => (
                <li key={event.id} className={`event event-${event.type}`}>
                  <span className="muted small">
                    #{event.seq} {formatTime(event.at)} · {event.principal}
                  </span>
                  <br />
                  <strong>{event.type.replace(/_/g, ' ')}</strong> {eventSummary(event)}
                </li>
              ))}
            </ol>
          ) : null}
        </section>

        <section aria-labelledby="signals-title" className="panel">
          <h2 id="signals-title">Signals</h2>
          {/* Scrolls sideways on its own on a phone; focusable, so the keyboard can scroll it too. */}
          {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard. */}
          <section className="table-scroll" aria-label="Signals table" tabIndex={0}>
            <table className="table">
              <thead>
                <tr>
                  <th scope="col">Severity</th>
                  <th scope="col">Status</th>
                  <th scope="col">Source</th>
                  <th scope="col">Signal</th>
                  <th scope="col">Joined by</th>
                  <th scope="col">Last seen</th>
                </tr>
              </thead>
              <tbody>
                {signals.map((signal) => (
                  <tr key={signal.id}>
                    <td>
                      <Badge kind={signal.severity}>{signal.severity}</Badge>
                    </td>
                    <td>{signal.status}</td>
                    <td>{signal.source}</td>
                    <td>
                      {signal.service}: {signal.title}
                      {signal.description ? <div className="muted small">{signal.description}</div> : null}
                    </td>
                    <td className="small">{joinedBy(signal.joinedBy)}</td>
                    <td>
                      {formatTime(signal.lastSeenAt)}
                      {signal.occurrences > 1 ? ` (×${signal.occurrences})` : ''}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>

          <h2>Guardrails and validation</h2>
          {safety.state === 'error' ? <ErrorBox error={safety.error} /> : null}
          {safety.state === 'ok' ? (
            safety.value.violations.length === 0 && safety.value.validationErrors.length === 0 ? (
              <p className="muted">
                Nothing caught for this incident: no personal data or secret was redacted and every model
                answer passed validation.
              </p>
            ) : (
              <ul className="plain">
                {safety.value.violations.map((violation) => (
                  <li key={violation.id}>
                    {violation.action} {violation.entityType} in {violation.direction} ({violation.location}
                    {violation.agent ? `, ${violation.agent}` : ''}) {formatTime(violation.createdAt)}
                  </li>
                ))}
                {safety.value.validationErrors.map((failure) => (
                  <li key={failure.id}>
                    {failure.agent} answer {failure.attempt} failed validation: {failure.errors.join('; ')}
                  </li>
                ))}
              </ul>
            )
          ) : null}
        </section>
      </div>

      <IncidentNotifications incidentId={incident.id} version={version} />
    </article>
  );
}

const isCompleted = (investigation: Investigation) => investigation.status === 'completed';

/** Why a signal is on this incident, in words: its rule, the path in the dependency graph, or who moved it. */
function joinedBy(reason: JoinReason | null | undefined): string {
  if (!reason) return '';
  switch (reason.kind) {
    case 'rule':
      return reason.rule;
    case 'topology':
      if (reason.relation === 'same') return `${reason.rule}: same service`;
      if (reason.relation === 'sibling')
        return `${reason.rule}: ${reason.path.join(' · ')} (shares ${reason.shared}, which changed: ${reason.change})`;
      return `${reason.rule}: ${reason.path.join(reason.relation === 'caller' ? ' → ' : ' ← ')} (${reason.relation === 'caller' ? 'calls into the incident' : 'the incident calls it'})`;
    case 'merge':
      return `merged from ${reason.from}`;
    case 'split':
      return `split from ${reason.from}: ${reason.reason}`;
    default:
      return `${reason.action} by ${reason.principal}`;
  }
}
