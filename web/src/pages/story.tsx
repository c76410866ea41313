/**
 * The incident's timeline as a story: each event of the hash chain as a sentence, oldest first and
 * grouped by minute, with the chain's verification as a badge. Event ids and hashes stay one click
 * away (a fold under the story, and each event's title).
 */
import type { ReactNode } from 'react';
import type { ChainVerification, IncidentEvent, JoinReason, Signal } from '../types';
import { Badge, ErrorBox, formatTime, Link, type Loaded, Loading } from '../ui';

/** Why a signal is on this incident, in words: its rule, its place in the dependency graph, or who moved it. */
export function joinedBy(reason: JoinReason | null | undefined): string {
  if (!reason) return '';
  switch (reason.kind) {
    case 'rule':
      return `rule ${reason.rule}`;
    case 'topology': {
      // The path runs from the signal's service to the incident's service it reached.
      const reached = reason.path[reason.path.length - 1] ?? '';
      const via = reason.path.slice(1, -1);
      const through = via.length > 0 ? ` through ${via.join(', ')}` : '';
      if (reason.relation === 'same') return `same service (rule ${reason.rule})`;
      if (reason.relation === 'caller') return `depends on ${reached}${through}`;
      if (reason.relation === 'dependency') return `${reached} depends on it${through}`;
      // A sibling: through a shared dependency that changed, or one the incident's origin shares with it.
      return `shares ${reason.shared ?? 'a dependency'} with ${reached}${
        reason.shared && reason.change
          ? `; ${reason.shared} changed (${reason.change})`
          : reason.shared
            ? `, the origin; nothing it calls alerts and it did not change`
            : ''
      }`;
    }
    case 'merge':
      return `merged from ${reason.from}`;
    case 'split':
      return `split from ${reason.from}: ${reason.reason}`;
    default:
      return `moved here by ${reason.principal} (${reason.action} from ${reason.from})`;
  }
}

const quoted = (text: string | undefined) => (text ? `: “${text}”` : '');

/** "by token:alice", or nothing for the system's own moves. */
const by = (principal: string) => (principal === 'system' ? '' : ` by ${principal}`);

const incidentLink = (id: string | undefined) =>
  id ? <Link to={`/incidents/${encodeURIComponent(id)}`}>{id}</Link> : 'another incident';

const STATUS_VERBS: Record<string, string> = {
  ACKNOWLEDGED: 'acknowledged',
  MITIGATED: 'marked it mitigated',
  RESOLVED: 'resolved it',
  CLOSED: 'closed it',
  ADVISORY_READY: 'marked the advice ready',
};

const SEVERITY_RANK: Record<string, number> = { SEV1: 1, SEV2: 2, SEV3: 3, SEV4: 4 };

/** An alert by its title and service, as far as the page knows it. */
function alertName(signalId: string, signals: Map<string, Signal>): string {
  const signal = signals.get(signalId);
  return signal ? `Alert '${signal.title}' on ${signal.service}` : `Alert ${signalId} (no longer here)`;
}

interface Join {
  signalId: string;
  relation: 'same' | 'caller' | 'dependency' | 'sibling';
  path: string[];
}

function attached(event: IncidentEvent, signals: Map<string, Signal>): ReactNode {
  const ids = Array.isArray(event.data.signalIds) ? (event.data.signalIds as string[]) : [];
  const joins = Array.isArray(event.data.joins) ? (event.data.joins as Join[]) : [];
  const why = (signalId: string) => {
    const reason = signals.get(signalId)?.joinedBy;
    if (reason) return joinedBy(reason);
    const join = joins.find((item) => item.signalId === signalId);
    return join ? joinedBy({ kind: 'topology', rule: 'topology', ...join }) : '';
  };
  const sentence = (signalId: string) => {
    const reason = why(signalId);
    return `${alertName(signalId, signals)} joined${reason ? `: ${reason}` : ''}`;
  };
  if (ids.length === 1) return sentence(ids[0]!);
  return (
    <>
      {ids.length} alerts joined:
      <ul className="story-list">
        {ids.map((signalId) => (
          <li key={signalId}>{sentence(signalId)}</li>
        ))}
      </ul>
    </>
  );
}

/** One event as a sentence; an event kind this console does not know reads as its kind. */
export function eventSentence(event: IncidentEvent, signals: Map<string, Signal>): ReactNode {
  const data = event.data;
  const text = (key: string) => (typeof data[key] === 'string' ? (data[key] as string) : undefined);
  const count = (key: string) => (typeof data[key] === 'number' ? (data[key] as number) : undefined);
  const who = event.principal;
  const investigation = text('investigationId') ?? 'the investigation';
  switch (event.type) {
    case 'created':
      if (text('imported')) return `Imported from history as ${text('severity')}: “${text('title')}”`;
      if (text('splitFrom'))
        return (
          <>
            Split off from {incidentLink(text('splitFrom'))} as {text('severity')}
            {by(who)}
          </>
        );
      return `Opened as ${text('severity')}${text('rule') ? ` by rule ${text('rule')}` : by(who)}: “${text('title')}”`;
    case 'signal_attached':
      return attached(event, signals);
    case 'signals_refiring': {
      const ids = Array.isArray(data.signalIds) ? (data.signalIds as string[]) : [];
      return `Firing again: ${ids.map((id) => alertName(id, signals)).join('; ')}`;
    }
    case 'signals_resolved':
      return 'Every alert on it resolved';
    case 'status_changed': {
      const to = text('to') ?? '';
      const verb =
        to === 'OPEN'
          ? text('from') === 'RESOLVED'
            ? 'reopened it'
            : `moved it back to OPEN from ${text('from')}`
          : (STATUS_VERBS[to] ?? `moved it from ${text('from')} to ${to}`);
      return [
        `${who} ${verb}${quoted(text('reason'))}`,
        text('rootCause') ? `root cause: ${text('rootCause')}` : '',
        text('resolution') ? `resolution: ${text('resolution')}` : '',
      ]
        .filter(Boolean)
        .join('; ');
    }
    case 'reopened':
      return `${who} reopened it${quoted(text('reason'))}`;
    case 'severity_changed': {
      const from = text('from') ?? '';
      const to = text('to') ?? '';
      const direction = (SEVERITY_RANK[to] ?? 0) < (SEVERITY_RANK[from] ?? 0) ? 'raised' : 'lowered';
      const why = text('reason') ? quoted(text('reason')) : text('rule') ? ` (rule ${text('rule')})` : '';
      return `${who} ${direction} the severity ${from} → ${to}${why}`;
    }
    case 'note_added':
      return `${who} noted${quoted(text('text'))}`;
    case 'origin_moved':
      return `Origin moved from ${text('from') ?? 'none'} to ${text('to')}${
        Array.isArray(data.path) ? ` along ${(data.path as string[]).join(' → ')}` : ''
      }${by(who)}${text('investigationId') ? ` (investigation ${investigation})` : ''}`;
    case 'merged_into':
      return (
        <>
          Merged into {incidentLink(text('incidentId'))}
          {by(who)}, with {count('signals') ?? 'its'} signals{quoted(text('reason'))}
        </>
      );
    case 'merged_from':
      return (
        <>
          {incidentLink(text('incidentId'))} merged into this one{by(who)}, bringing{' '}
          {count('signals') ?? 'its'} signals{quoted(text('reason'))}
        </>
      );
    case 'signals_split':
      return (
        <>
          {Array.isArray(data.signalIds) ? data.signalIds.length : 'Some'} signals split off into{' '}
          {incidentLink(text('incidentId'))}
          {by(who)}
          {quoted(text('reason'))}
        </>
      );
    case 'split_from':
      return (
        <>
          Split from {incidentLink(text('incidentId'))}
          {by(who)}
          {quoted(text('reason'))}
        </>
      );
    case 'evidence_frozen':
      return `Evidence frozen as bundle ${text('bundleId')}`;
    case 'investigation_started':
      return `${who} started investigation ${investigation}`;
    case 'investigation_resumed':
      return `Investigation ${investigation} resumed from its checkpoint`;
    case 'investigation_checkpoint_discarded':
      return `Investigation ${investigation}'s checkpoint was discarded${quoted(text('reason'))}`;
    case 'investigation_completed':
      return `Investigation ${investigation} completed`;
    case 'investigation_failed':
      return `Investigation ${investigation} failed${quoted(text('reason'))}`;
    case 'investigation_replayed':
      return `${who} replayed investigation ${investigation}: ${
        data.identical === true
          ? 'identical findings'
          : `${count('differences') ?? 'some'} difference${count('differences') === 1 ? '' : 's'}`
      }`;
    case 'agent_completed':
      return `${who.replace(/^agent:/, '')} ${data.insufficientEvidence === true ? 'found too little evidence' : 'concluded'}: ${text('summary') ?? ''}`;
    case 'recommendation_proposed':
      return `${who} proposed “${text('title')}” (${(text('kind') ?? '').replace(/_/g, ' ')})`;
    case 'recommendation_approved':
    case 'recommendation_rejected':
      return `${who} ${event.type === 'recommendation_approved' ? 'approved' : 'rejected'} “${
        text('title') ?? text('recommendationId')
      }”${quoted(text('reason'))}`;
    default:
      return String(event.type).replace(/_/g, ' ');
  }
}

/** "2026-05-01 14:02 UTC": the minute an event falls in. */
const minuteOf = (at: string) => formatTime(at).replace(/:\d\d UTC$/, ' UTC');

function ChainBadge({ chain }: { chain: Loaded<ChainVerification> }) {
  if (chain.state === 'loading') return <span className="muted small">verifying the chain…</span>;
  if (chain.state === 'error') return <Badge kind="warn">chain not verified: the check failed</Badge>;
  const { valid, events, brokenAt } = chain.value;
  return valid ? (
    <Badge kind="chain-verified">
      chain verified, {events} event{events === 1 ? '' : 's'}
    </Badge>
  ) : (
    <Badge kind="chain-broken">
      chain broken at #{brokenAt?.seq ?? '?'}
      {brokenAt?.reason ? `: ${brokenAt.reason}` : ''}
    </Badge>
  );
}

export function Timeline({
  events,
  chain,
  signals,
}: {
  events: Loaded<{ items: IncidentEvent[] }>;
  chain: Loaded<ChainVerification>;
  signals: Signal[];
}) {
  const byId = new Map(signals.map((signal) => [signal.id, signal]));
  const items = events.state === 'ok' ? [...events.value.items].sort((a, b) => a.seq - b.seq) : [];
  const minutes: { minute: string; events: IncidentEvent[] }[] = [];
  for (const event of items) {
    const minute = minuteOf(event.at);
    const last = minutes[minutes.length - 1];
    if (last?.minute === minute) last.events.push(event);
    else minutes.push({ minute, events: [event] });
  }
  return (
    <section aria-labelledby="timeline-title" className="panel">
      <h2 id="timeline-title">Timeline</h2>
      <p className="meta">
        <ChainBadge chain={chain} />
        <span>oldest first</span>
      </p>
      {events.state === 'loading' ? <Loading what="the timeline" /> : null}
      {events.state === 'error' ? <ErrorBox error={events.error} /> : null}
      <ol className="story">
        {minutes.map(({ minute, events: inMinute }) => (
          <li key={minute}>
            <h3 className="story-minute">
              <time dateTime={inMinute[0]!.at}>{minute}</time>
            </h3>
            <ol className="timeline">
              {inMinute.map((event) => (
                <li
                  key={event.id}
                  className={`event event-${event.type}`}
                  title={`#${event.seq} ${event.id} at ${formatTime(event.at)}, hash ${event.hash}`}
                >
                  {eventSentence(event, byId)}
                </li>
              ))}
            </ol>
          </li>
        ))}
      </ol>
      {items.length > 0 ? (
        <details className="chain-records">
          <summary>Event ids and hashes</summary>
          {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard. */}
          <section className="table-scroll" aria-label="Event ids and hashes" tabIndex={0}>
            <table className="table small">
              <thead>
                <tr>
                  <th scope="col">#</th>
                  <th scope="col">Time</th>
                  <th scope="col">Event</th>
                  <th scope="col">By</th>
                  <th scope="col">Id</th>
                  <th scope="col">Hash</th>
                  <th scope="col">Previous hash</th>
                </tr>
              </thead>
              <tbody>
                {items.map((event) => (
                  <tr key={event.id}>
                    <td>{event.seq}</td>
                    <td>{formatTime(event.at)}</td>
                    <td>{event.type}</td>
                    <td>{event.principal}</td>
                    <td>
                      <code>{event.id}</code>
                    </td>
                    <td>
                      <code className="hash">{event.hash}</code>
                    </td>
                    <td>
                      <code className="hash">{event.prevHash}</code>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
        </details>
      ) : null}
    </section>
  );
}
