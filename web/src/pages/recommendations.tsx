/**
 * Recommendations on the incident page: the card in the full list, and the decision (approve or
 * reject with a reason) that the card and the "What to do now" answer at the top both use.
 */
import { useState } from 'react';
import { call } from '../api';
import { cannotRespond, type SessionState } from '../session';
import type { Investigation, Recommendation } from '../types';
import { Badge, ErrorBox, formatTime } from '../ui';

export function Citations({
  ids,
  known,
  onCite,
}: {
  ids: string[];
  known: Set<string>;
  onCite(id: string): void;
}) {
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

/** The recommendation's kind, risk, confidence, trust and status on one line. */
export function RecommendationMeta({ recommendation }: { recommendation: Recommendation }) {
  return (
    <p className="meta">
      <Badge kind={recommendation.kind}>{recommendation.kind.replace(/_/g, ' ')}</Badge>
      <Badge kind={`risk-${recommendation.risk}`}>risk {recommendation.risk}</Badge>
      <span>confidence {recommendation.confidence.toFixed(2)}</span>
      <span>trust {recommendation.trust === null ? '–' : recommendation.trust.toFixed(2)}</span>
      <Badge kind={recommendation.status}>{recommendation.status}</Badge>
    </p>
  );
}

/**
 * Approve or reject with a reason, or who decided and why once someone has. `place` keeps the ids of
 * the same recommendation's form apart where it shows twice on a page.
 */
export function RecommendationDecision({
  recommendation,
  onDecided,
  session,
  place = 'list',
}: {
  recommendation: Recommendation;
  onDecided(): void;
  session: SessionState;
  place?: string;
}) {
  const denied = cannotRespond(session);
  const [reason, setReason] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const reasonId = `reason-${place}-${recommendation.id}`;

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

  if (recommendation.status !== 'proposed')
    return (
      <p className="decided" role="status">
        {recommendation.status === 'approved' ? 'Approved' : 'Rejected'} by {recommendation.decidedBy} at{' '}
        {formatTime(recommendation.decidedAt)}: “{recommendation.decisionReason}”
      </p>
    );
  return (
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
  );
}

export function RecommendationCard({
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
  return (
    <li className="card recommendation" id={`rec-${recommendation.id}`}>
      <h3>
        <span className="rank">#{recommendation.rank}</span> {recommendation.title}
      </h3>
      <RecommendationMeta recommendation={recommendation} />
      <p>{recommendation.rationale}</p>
      <Citations ids={recommendation.citations} known={known} onCite={onCite} />
      <RecommendationDecision recommendation={recommendation} onDecided={onDecided} session={session} />
    </li>
  );
}

/**
 * Why an incident has no recommendation, in the words that are true of its investigations (newest
 * first): none yet, one still running, the last one failed, or a completed one that proposed none.
 */
export function whyNoRecommendations(investigations: Investigation[]): string {
  const latest = investigations[0];
  const completed = investigations.find((investigation) => investigation.status === 'completed');
  if (!latest) return 'No recommendations: no investigation has run on this incident yet.';
  if (latest.status === 'running')
    return `No recommendations yet: investigation ${latest.id} is still running (started ${formatTime(latest.startedAt)}).`;
  if (completed) {
    const strategy = completed.findings.find((finding) => finding.agent === 'response-strategy');
    return strategy?.insufficientEvidence
      ? `No recommendations: investigation ${completed.id} found too little evidence to propose any.`
      : `No recommendations: investigation ${completed.id} completed and proposed none.`;
  }
  return `No recommendations: investigation ${latest.id} failed${latest.error ? ` (${latest.error})` : ''}, and none has completed.`;
}
