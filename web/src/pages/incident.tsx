import { lazy, type ReactNode, Suspense, useCallback, useState } from 'react';
import { documentNodeId, documentOfNodeId, serviceEvidenceId } from '../../../src/domain/evidence-id';
import { useSession } from '../session';
import type {
  ChainVerification,
  Evidence,
  Finding,
  Incident,
  IncidentDetail,
  IncidentEvent,
  Investigation,
  Recommendation,
  TrustScore,
  ValidationFailure,
  Violation,
} from '../types';
import { Badge, ErrorBox, Fold, formatTime, Link, Loading, ScoreBar, useApi, useNow } from '../ui';
import { StreamStatus, useIncidentStream } from './incidents';
import { documentLink } from './knowledge';
import { IncidentNotifications } from './notifications';
import { Citations, RecommendationCard, whyNoRecommendations } from './recommendations';
import { RegroupPanel } from './regroup';
import { RespondPanel } from './respond';
import { joinedBy, Timeline } from './story';
import { findingOf, IncidentSummary } from './summary';

// The graph library is most of the console's weight; only the incident page loads it.
const Markdown = lazy(() => import('../markdown').then((module) => ({ default: module.Markdown })));
const EvidenceGraph = lazy(() => import('../graph').then((module) => ({ default: module.EvidenceGraph })));

const evidenceElementId = (id: string) => `ev-${id}`;

/** Moves focus to a piece of evidence and marks it, so a citation click lands somewhere visible. */
function jumpTo(id: string): void {
  const element = document.getElementById(evidenceElementId(id));
  if (!element) return;
  // The evidence is in a fold: open it first, or there is nothing to scroll to.
  const fold = element.closest('details');
  if (fold && !fold.open) fold.open = true;
  element.scrollIntoView({ block: 'center' });
  element.focus({ preventScroll: true });
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
            <Link to={documentLink(hit)}>
              <strong>{hit.path}</strong>
            </Link>{' '}
            — {hit.heading}
            <div className="markdown excerpt-markdown">
              <Suspense fallback={<p className="excerpt">{hit.excerpt ?? hit.text}</p>}>
                <Markdown text={hit.excerpt ?? hit.text} />
              </Suspense>
            </div>
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

export function IncidentPage({ id }: { id: string }) {
  const [version, setVersion] = useState(0);
  const [selected, setSelected] = useState<string | null>(null);
  const [evidenceOpen, setEvidenceOpen] = useState(false);
  const now = useNow();
  const encoded = encodeURIComponent(id);
  const [detail, reloadDetail] = useApi<IncidentDetail>(`/v1/incidents/${encoded}`, version);
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
  const [chain] = useApi<ChainVerification>(`/v1/incidents/${encoded}/verify`, version);
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
  const latest = investigations.state === 'ok' ? investigations.value.items[0] : undefined;
  const strategy = findingOf(latest, 'response-strategy');
  const proposals = recommendations.state === 'ok' ? recommendations.value.items : [];
  const waiting = proposals.filter((item) => item.status === 'proposed').length;

  return (
    <article aria-labelledby="incident-title">
      <p>
        <Link to="/">← All incidents</Link>
      </p>
      <h1 id="incident-title">{incident.title}</h1>
      <div className="meta">
        <span>{incident.id}</span>
        {incident.environment ? <span>in {incident.environment}</span> : null}
        <span>detected {formatTime(incident.detectedAt)}</span>
        <StreamStatus stream={stream} />
      </div>
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

      <IncidentSummary
        incident={incident}
        investigations={investigations}
        recommendations={recommendations}
        session={session}
        now={now}
        onDecided={refresh}
      />

      <RespondPanel incident={incident} session={session} onChanged={changed} />
      <RegroupPanel incident={incident} signals={signals} session={session} onChanged={changed} />

      <div className="columns columns-wide-right">
        <Fold
          id="trust-title"
          title="Trust"
          className="panel"
          note={
            strategy?.data.trust
              ? `${strategy.data.trust.score.toFixed(2)} overall, five components`
              : undefined
          }
        >
          {investigations.state === 'error' ? <ErrorBox error={investigations.error} /> : null}
          {investigations.state === 'ok' ? (
            latest ? (
              <>
                <p className="muted small">
                  Investigation {latest.id}: {latest.status}
                  {latest.error ? ` (${latest.error})` : ''},{' '}
                  {formatTime(latest.finishedAt ?? latest.startedAt)}
                </p>
                {strategy ? <p className="summary">{strategy.data.channelSummary}</p> : null}
                <TrustPanel trust={strategy?.data.trust} />
              </>
            ) : (
              <p className="muted">
                No investigation yet. OPX starts one on its own when an incident opens (the worker of{' '}
                <code>opx serve</code>); by hand: <code>npx opx investigate {incident.id}</code>.
              </p>
            )
          ) : null}
        </Fold>

        <Fold
          id="recommendations-title"
          title="Recommendations"
          className="panel"
          note={
            proposals.length > 0 ? `${proposals.length} in all, ${waiting} waiting for a decision` : undefined
          }
        >
          <p className="muted small">
            Approving or rejecting records your decision, your token's name and your reason on the incident's
            timeline. OPX executes nothing.
          </p>
          {recommendations.state === 'error' ? <ErrorBox error={recommendations.error} /> : null}
          {recommendations.state === 'ok' && proposals.length === 0 && investigations.state === 'ok' ? (
            <p className="muted">{whyNoRecommendations(investigations.value.items)}</p>
          ) : null}
          <ol className="cards">
            {proposals.map((recommendation) => (
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
        </Fold>
      </div>

      <Fold
        id="findings-title"
        title="Findings"
        note={
          latest
            ? `${latest.findings.length} agents, each with its claims and the evidence they cite`
            : undefined
        }
      >
        {latest ? (
          <ol className="cards findings">
            {latest.findings.map((finding) => (
              <FindingCard key={finding.agent} finding={finding} known={known} onCite={cite} />
            ))}
          </ol>
        ) : (
          <p className="muted">No findings yet.</p>
        )}
      </Fold>

      <Fold
        id="evidence-title"
        title="Evidence"
        note="the frozen bundle as a graph and a list"
        open={evidenceOpen}
        onToggle={setEvidenceOpen}
      >
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
                {/* Drawn once the fold opens: the graph lays itself out in the space it is given. */}
                {evidenceOpen ? (
                  <Suspense fallback={<Loading what="the graph" />}>
                    <EvidenceGraph
                      evidence={evidence.value}
                      selected={graphSelection}
                      onSelect={selectFromGraph}
                      rootCause={strategy?.data.probableRootCause}
                    />
                  </Suspense>
                ) : null}
              </div>
              <EvidenceList evidence={evidence.value} selected={selected} onSelect={setSelected} />
            </div>
          </>
        ) : null}
      </Fold>

      <div className="columns">
        <Timeline events={events} chain={chain} signals={signals} />

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
                    <td
                      className="small"
                      title={
                        signal.joinedBy?.kind === 'topology' ? `rule ${signal.joinedBy.rule}` : undefined
                      }
                    >
                      {joinedBy(signal.joinedBy)}
                    </td>
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
