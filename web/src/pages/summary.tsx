/**
 * The top of the incident page: five questions an on-call engineer asks first, each answered from
 * what the page has already read (the incident, its newest completed investigation's findings, its
 * recommendations). Nothing here is written for the incident: where the data has no answer, the
 * answer says so.
 */
import type { ReactNode } from 'react';
import type { SessionState } from '../session';
import type { Finding, Incident, Investigation, Recommendation } from '../types';
import { Badge, ErrorBox, formatAgo, formatTime, Link, type Loaded } from '../ui';
import { RecommendationDecision, RecommendationMeta, whyNoRecommendations } from './recommendations';

type AgentFinding<A extends Finding['agent']> = Extract<Finding, { agent: A }>;

/** One agent's finding in an investigation, typed by the agent's data. */
export function findingOf<A extends Finding['agent']>(
  investigation: Investigation | undefined,
  agent: A,
): AgentFinding<A> | undefined {
  return investigation?.findings.find((finding): finding is AgentFinding<A> => finding.agent === agent);
}

const NO_INVESTIGATION = 'No completed investigation yet';

/** Where the investigations stand when none has completed: running, failed, or none at all. */
function pending(investigations: Investigation[], incidentId: string): ReactNode {
  const latest = investigations[0];
  if (!latest)
    return (
      <>
        {NO_INVESTIGATION}: none has started. OPX starts one when an incident opens; by hand,{' '}
        <code>npx opx investigate {incidentId}</code>.
      </>
    );
  if (latest.status === 'running')
    return `${NO_INVESTIGATION}: ${latest.id} is running since ${formatTime(latest.startedAt)}.`;
  return `${NO_INVESTIGATION}: ${latest.id} failed${latest.error ? ` (${latest.error})` : ''}.`;
}

function Answer({ id, question, children }: { id: string; question: string; children: ReactNode }) {
  return (
    <div className={`answer answer-${id}`} id={`answer-${id}`}>
      <dt>{question}</dt>
      <dd>{children}</dd>
    </div>
  );
}

function Broken({ incident, now }: { incident: Incident; now: number }) {
  const services = incident.services.join(', ') || 'none named';
  return (
    <>
      <p>
        {incident.rootService ? (
          <>
            Origin <strong>{incident.rootService}</strong>
          </>
        ) : (
          'Origin not traced yet'
        )}
        ; affected: {services}
      </p>
      <p className="answer-facts">
        <Badge kind={incident.severity}>{incident.severity}</Badge>
        <Badge kind={incident.status}>{incident.status.replace('_', ' ')}</Badge>
        <span>
          since {formatTime(incident.startedAt)} (<strong>{formatAgo(incident.startedAt, now)}</strong>)
        </span>
      </p>
    </>
  );
}

function Cause({ investigation }: { investigation: Investigation }) {
  const strategy = findingOf(investigation, 'response-strategy');
  const changes = findingOf(investigation, 'change-intelligence');
  const root = strategy?.data.probableRootCause;
  const top = changes?.data.ranked[0];
  const trust = strategy?.data.trust;
  const standsOut = top && !(changes?.insufficientEvidence ?? false);
  return (
    <>
      <p>
        {root ? (
          <>
            Probable origin <strong>{root.service}</strong> (confidence {root.confidence.toFixed(2)})
            {root.inferred
              ? root.inferred.changeId
                ? `, inferred from change ${root.inferred.changeId}: it never alerted`
                : ', inferred from what the failing services share: it never alerted'
              : ''}
          </>
        ) : (
          'The investigation found too little evidence to name an origin.'
        )}
      </p>
      <p>
        {standsOut ? (
          <>
            Top suspect change: <strong>{top.kind}</strong> on <strong>{top.service}</strong>, “{top.summary}
            ”, {Math.round(top.minutesBeforeOnset)} min before the onset (score {top.score.toFixed(2)},{' '}
            <code>{top.changeId}</code>)
          </>
        ) : top ? (
          `No change stands out: the strongest suspect (${top.kind} on ${top.service}) scores ${top.score.toFixed(2)}.`
        ) : (
          'No change in the look-back window.'
        )}
      </p>
      <p className="answer-facts">
        {trust ? (
          <>
            <span>
              Investigation trust <strong>{trust.score.toFixed(2)}</strong>
            </span>
            {trust.abstain ? <Badge kind="warn">abstains: too little to go on</Badge> : null}
          </>
        ) : (
          <span>No trust score on investigation {investigation.id}</span>
        )}
      </p>
    </>
  );
}

function AtRisk({ investigation, incident }: { investigation: Investigation; incident: Incident }) {
  const radius = findingOf(investigation, 'risk-blast-radius')?.data;
  if (!radius) return <p>Investigation {investigation.id} has no blast-radius finding.</p>;
  const alerting = new Set([...incident.services, ...radius.unhealthy]);
  const quiet = radius.impacted.filter((service) => !alerting.has(service));
  if (quiet.length === 0) return <p>Nothing beyond the alerting services.</p>;
  const facing = new Set(radius.customerFacing);
  return (
    <p>
      {quiet.length} service{quiet.length === 1 ? '' : 's'} not alerting yet, calling into the fault:{' '}
      {quiet.map((service, index) => (
        <span key={service}>
          {index > 0 ? ', ' : ''}
          <strong>{service}</strong>
          {facing.has(service) ? ' (customer-facing)' : ''}
        </span>
      ))}
    </p>
  );
}

function Before({ investigation }: { investigation: Investigation }) {
  const history = findingOf(investigation, 'historical-pattern')?.data;
  const closest = history?.similar[0];
  if (!closest) return <p>No similar past incident.</p>;
  const more = (history?.similar.length ?? 1) - 1;
  return (
    <>
      <p>
        Closest: <Link to={`/incidents/${encodeURIComponent(closest.incidentId)}`}>{closest.title}</Link> (
        {formatTime(closest.detectedAt)}, similarity {closest.similarity.toFixed(2)}, resolved in{' '}
        {closest.minutesToResolve} min){more > 0 ? `; ${more} more similar` : ''}.
      </p>
      {closest.resolution ? <p className="muted small">Fixed then by: {closest.resolution}</p> : null}
    </>
  );
}

function DoNow({
  recommendations,
  investigations,
  session,
  onDecided,
}: {
  recommendations: Recommendation[];
  investigations: Investigation[];
  session: SessionState;
  onDecided(): void;
}) {
  // The newest completed investigation's proposals; older ones stay in the full list below.
  const current = investigations.find((investigation) => investigation.status === 'completed');
  const own = recommendations.filter((item) => item.investigationId === current?.id);
  const list = own.length > 0 ? own : recommendations;
  const next = list.find((item) => item.status === 'proposed') ?? list[0];
  if (!next) return <p>{whyNoRecommendations(investigations)}</p>;
  const open = list.filter((item) => item.status === 'proposed').length;
  const decided = list
    .filter((item) => item.decidedAt !== null && item !== next)
    .sort((a, b) => (b.decidedAt ?? '').localeCompare(a.decidedAt ?? ''))[0];
  return (
    <div className="card recommendation-now">
      <p className="recommendation-title">
        <strong>
          <span className="rank">#{next.rank}</span> {next.title}
        </strong>
      </p>
      <RecommendationMeta recommendation={next} />
      <RecommendationDecision recommendation={next} onDecided={onDecided} session={session} place="now" />
      <p className="muted small">
        {open === 0
          ? `All ${list.length} recommendations are decided.`
          : `${open} of ${list.length} waiting for a decision; all of them, with their reasons, under Recommendations below.`}
        {decided
          ? ` Last decision: #${decided.rank} ${decided.status} by ${decided.decidedBy} (${formatTime(decided.decidedAt)}).`
          : ''}
      </p>
    </div>
  );
}

/** The five answers, above everything else on the incident page. */
export function IncidentSummary({
  incident,
  investigations,
  recommendations,
  session,
  now,
  onDecided,
}: {
  incident: Incident;
  investigations: Loaded<{ items: Investigation[] }>;
  recommendations: Loaded<{ items: Recommendation[] }>;
  session: SessionState;
  now: number;
  onDecided(): void;
}) {
  const loaded = investigations.state === 'ok' ? investigations.value.items : undefined;
  const completed = loaded?.find((investigation) => investigation.status === 'completed');
  /** An answer that needs the newest completed investigation. */
  const fromInvestigation = (answer: (investigation: Investigation) => ReactNode): ReactNode => {
    if (investigations.state === 'loading') return <p className="muted">Loading the investigations…</p>;
    if (investigations.state === 'error') return <ErrorBox error={investigations.error} />;
    return completed ? answer(completed) : <p>{pending(investigations.value.items, incident.id)}</p>;
  };
  return (
    <section aria-labelledby="summary-title" className="panel answers">
      <h2 id="summary-title" className="visually-hidden">
        The incident in five answers
      </h2>
      <dl className="answers-list">
        <Answer id="broken" question="What is broken">
          <Broken incident={incident} now={now} />
        </Answer>
        <Answer id="cause" question="What caused it">
          {fromInvestigation((investigation) => (
            <Cause investigation={investigation} />
          ))}
        </Answer>
        <Answer id="risk" question="What else is at risk">
          {fromInvestigation((investigation) => (
            <AtRisk investigation={investigation} incident={incident} />
          ))}
        </Answer>
        <Answer id="before" question="Has it happened before">
          {fromInvestigation((investigation) => (
            <Before investigation={investigation} />
          ))}
        </Answer>
        <Answer id="now" question="What to do now">
          {recommendations.state === 'error' ? <ErrorBox error={recommendations.error} /> : null}
          {recommendations.state === 'loading' || investigations.state === 'loading' ? (
            <p className="muted">Loading the recommendations…</p>
          ) : null}
          {recommendations.state === 'ok' && loaded ? (
            <DoNow
              recommendations={recommendations.value.items}
              investigations={loaded}
              session={session}
              onDecided={onDecided}
            />
          ) : null}
        </Answer>
      </dl>
    </section>
  );
}
