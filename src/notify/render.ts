import type { IncidentSeverity } from '../domain/common.js';
import type { Notice, NoticeEvent } from '../domain/notification.js';

/**
 * The words of a notice, shared by every channel so that Slack, Teams, PagerDuty, Opsgenie and email
 * say the same thing: a headline, one summary sentence, a list of facts, and the investigation's
 * probable cause and first recommendation when there are any. Each channel only lays these out.
 */
export interface NoticeText {
  /** A coloured mark for chat channels: severity for an open incident, a tick once resolved. */
  icon: string;
  /** `SEV1 opened: Checkout latency above SLO`. */
  headline: string;
  /** One sentence on what happened, naming what it was before for a move or a raise. */
  summary: string;
  facts: { name: string; value: string }[];
  /** `Probable cause (82% confidence): …`, when the investigation has answered. */
  cause: string | null;
  /** `First recommendation: …`, when there is one. */
  recommendation: string | null;
}

const SEVERITY_ICON: Record<IncidentSeverity, string> = { SEV1: '🔴', SEV2: '🟠', SEV3: '🟡', SEV4: '🔵' };

const EVENT_LABEL: Record<NoticeEvent, string> = {
  opened: 'opened',
  origin_moved: 'origin moved',
  severity_raised: 'severity raised',
  resolved: 'resolved',
  test: 'test notification',
};

/** How many services a fact lists before it says "and N more". */
const MAX_LISTED_SERVICES = 8;

export function eventLabel(event: NoticeEvent): string {
  return EVENT_LABEL[event];
}

/**
 * `text` cut to at most `max` UTF-16 units (what most receivers count), an ellipsis marking the cut; a
 * character outside the BMP is never split.
 */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  let out = '';
  for (const point of text) {
    if (out.length + point.length > max - 1) break;
    out += point;
  }
  return `${out}…`;
}

/** `2026-03-01 14:05 UTC`. */
export function formatTime(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

/** `45 s`, `12 min`, `3 h 5 min`, `2 d 4 h`. */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return minutes % 60 === 0 ? `${hours} h` : `${hours} h ${minutes % 60} min`;
  const days = Math.floor(hours / 24);
  return hours % 24 === 0 ? `${days} d` : `${days} d ${hours % 24} h`;
}

export function listServices(services: readonly string[]): string {
  if (services.length === 0) return 'none';
  if (services.length <= MAX_LISTED_SERVICES) return services.join(', ');
  return `${services.slice(0, MAX_LISTED_SERVICES).join(', ')} and ${services.length - MAX_LISTED_SERVICES} more`;
}

function origin(rootService: string | null | undefined): string {
  return rootService ?? 'unknown';
}

function summaryOf(notice: Notice): string {
  const { incident, previous } = notice;
  switch (notice.event) {
    case 'opened': {
      const where = incident.environment === null ? '' : ` in ${incident.environment}`;
      const from = incident.rootService === null ? '' : `, probable origin ${incident.rootService}`;
      return `New ${incident.severity} incident${where}${from}.`;
    }
    case 'origin_moved':
      return `Probable origin moved from ${origin(previous?.rootService)} to ${origin(incident.rootService)}.`;
    case 'severity_raised':
      return `Severity raised from ${previous?.severity ?? 'unknown'} to ${incident.severity}.`;
    case 'resolved': {
      const lasted = formatDuration((incident.resolvedAt ?? notice.at) - incident.startedAt);
      return incident.mergedInto === null
        ? `Resolved after ${lasted}.`
        : `Merged into incident ${incident.mergedInto} after ${lasted}.`;
    }
    case 'test':
      return 'A test notification from OPX: the incident below is a sample and needs nothing done.';
  }
}

function factsOf(notice: Notice): { name: string; value: string }[] {
  const { incident, previous } = notice;
  const severity =
    notice.event === 'severity_raised' && previous?.severity !== undefined
      ? `${incident.severity} (was ${previous.severity})`
      : incident.severity;
  const root =
    notice.event === 'origin_moved' && previous?.rootService !== undefined
      ? `${origin(incident.rootService)} (was ${origin(previous.rootService)})`
      : origin(incident.rootService);
  const facts = [
    { name: 'Severity', value: severity },
    { name: 'Status', value: incident.status },
    { name: 'Origin', value: root },
    { name: 'Services', value: listServices(incident.services) },
    { name: 'Environment', value: incident.environment ?? 'unspecified' },
    { name: 'Since', value: formatTime(incident.startedAt) },
  ];
  if (incident.resolvedAt !== null) facts.push({ name: 'Resolved', value: formatTime(incident.resolvedAt) });
  return facts;
}

export function renderNotice(notice: Notice): NoticeText {
  const { incident } = notice;
  const confidence =
    notice.cause === null ? 0 : Math.round(Math.min(1, Math.max(0, notice.cause.confidence)) * 100);
  return {
    icon:
      notice.event === 'resolved' ? '✅' : notice.event === 'test' ? '🧪' : SEVERITY_ICON[incident.severity],
    headline: `${incident.severity} ${eventLabel(notice.event)}: ${incident.title}`,
    summary: summaryOf(notice),
    facts: factsOf(notice),
    cause:
      notice.cause === null ? null : `Probable cause (${confidence}% confidence): ${notice.cause.summary}`,
    recommendation:
      notice.recommendation === null ? null : `First recommendation: ${notice.recommendation.title}`,
  };
}

/** The whole notice as plain text, one item a line: email's text part and the chat fallbacks. */
export function plainText(notice: Notice, text: NoticeText = renderNotice(notice)): string {
  const lines = [text.headline, '', text.summary, ''];
  for (const fact of text.facts) lines.push(`${fact.name}: ${fact.value}`);
  if (text.cause !== null || text.recommendation !== null) lines.push('');
  if (text.cause !== null) lines.push(text.cause);
  if (text.recommendation !== null) lines.push(text.recommendation);
  lines.push('', notice.url === null ? `Incident ${notice.incident.id}` : `Open in OPX: ${notice.url}`);
  return lines.join('\n');
}
