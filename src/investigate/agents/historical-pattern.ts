import MiniSearch from 'minisearch';
import type { EvidenceBundle, PastIncident } from '../../domain/evidence.js';
import type { Claim, FindingOf } from '../../domain/finding.js';
import { DETERMINISTIC_ENGINE } from '../evidence.js';

/**
 * Similarity to a past incident, a deterministic heuristic (docs/agents.md):
 * 0.4 × service Jaccard + 0.35 × alert-name Jaccard + 0.25 × BM25 text score (normalized to the best
 * match) over the past incident's title and root cause, queried with this incident's title and signals.
 */
const WEIGHTS = { services: 0.4, alerts: 0.35, text: 0.25 };
/** Past incidents below this are not reported as similar. */
export const SIMILAR = 0.35;
/** Counted as a recurrence of the same problem. */
export const RECURRENCE = 0.5;
const RECURRENCE_WINDOW_MS = 30 * 86_400_000;

export interface SimilarIncident {
  incidentId: string;
  title: string;
  similarity: number;
  components: { services: number; alerts: number; text: number };
  rootCause: string | null;
  resolution: string | null;
  minutesToResolve: number;
  detectedAt: number;
}

function jaccard(left: ReadonlySet<string>, right: ReadonlySet<string>): number {
  if (left.size === 0 && right.size === 0) return 0;
  let shared = 0;
  for (const item of left) if (right.has(item)) shared += 1;
  return shared / (left.size + right.size - shared);
}

const round = (value: number) => Math.round(value * 1000) / 1000;

const tokenize = MiniSearch.getDefault('tokenize') as (text: string) => string[];
const normalize = MiniSearch.getDefault('processTerm') as (term: string) => string | null | undefined | false;

/**
 * A MiniSearch index over past incidents' titles and root causes that keeps only the terms of
 * `query`. An exact-term search for that query scores every document as an index of all its terms
 * would: BM25 reads the query terms' frequencies and document counts, and each field's length, which
 * MiniSearch counts before terms are processed. Indexing every word of 200 past incidents for each
 * investigation, only to look up a dozen, was most of this agent's time.
 */
function queryIndex(query: string) {
  const wanted = new Set(tokenize(query).flatMap((term) => normalize(term) || []));
  return new MiniSearch<{ id: string; title: string; rootCause: string }>({
    fields: ['title', 'rootCause'],
    idField: 'id',
    processTerm: (term) => {
      const normal = normalize(term);
      return normal && wanted.has(normal) ? normal : null;
    },
    searchOptions: { processTerm: normalize },
  });
}

export function similarIncidents(bundle: EvidenceBundle): SimilarIncident[] {
  if (bundle.history.length === 0) return [];
  const services = new Set([...bundle.incident.services, ...bundle.signals.map((signal) => signal.service)]);
  const alerts = new Set(bundle.signals.map((signal) => signal.labels.alertname ?? signal.title));
  const query = [bundle.incident.title, ...bundle.signals.map((signal) => signal.title)].join(' ');
  const index = queryIndex(query);
  index.addAll(
    bundle.history.map((incident) => ({
      id: incident.id,
      title: incident.title,
      rootCause: incident.rootCause ?? '',
    })),
  );
  const textScores = new Map(
    index.search(query, { combineWith: 'OR' }).map((result) => [result.id as string, result.score]),
  );
  const best = Math.max(0, ...textScores.values());
  return bundle.history
    .map((incident: PastIncident): SimilarIncident => {
      const components = {
        services: round(jaccard(services, new Set(incident.services))),
        alerts: round(jaccard(alerts, new Set(incident.alerts))),
        text: round(best > 0 ? (textScores.get(incident.id) ?? 0) / best : 0),
      };
      return {
        incidentId: incident.id,
        title: incident.title,
        similarity: round(
          components.services * WEIGHTS.services +
            components.alerts * WEIGHTS.alerts +
            components.text * WEIGHTS.text,
        ),
        components,
        rootCause: incident.rootCause,
        resolution: incident.resolution,
        minutesToResolve: Math.round((incident.resolvedAt - incident.detectedAt) / 60_000),
        detectedAt: incident.detectedAt,
      };
    })
    .sort(
      (a, b) =>
        b.similarity - a.similarity ||
        b.detectedAt - a.detectedAt ||
        a.incidentId.localeCompare(b.incidentId),
    );
}

function ordinal(count: number): string {
  const suffix =
    count % 100 >= 11 && count % 100 <= 13 ? 'th' : (['th', 'st', 'nd', 'rd'][count % 10] ?? 'th');
  return `${count}${suffix}`;
}

export function analyzeHistory(bundle: EvidenceBundle): FindingOf<'historical-pattern'> {
  const ranked = similarIncidents(bundle);
  const similar = ranked.filter((incident) => incident.similarity >= SIMILAR).slice(0, 5);
  const top = similar[0];
  if (!top) {
    return {
      agent: 'historical-pattern',
      summary:
        bundle.history.length === 0
          ? 'No resolved incidents on these services to compare with.'
          : 'Nothing in the history looks like this incident.',
      claims: [],
      data: { similar: [], recurrences: 0, meanMinutesToResolve: null },
      confidence: 0,
      insufficientEvidence: true,
      engine: DETERMINISTIC_ENGINE,
      degraded: false,
    };
  }
  const recurrences = ranked.filter(
    (incident) =>
      incident.similarity >= RECURRENCE && bundle.asOf - incident.detectedAt <= RECURRENCE_WINDOW_MS,
  );
  const meanMinutesToResolve = Math.round(
    similar.reduce((sum, incident) => sum + incident.minutesToResolve, 0) / similar.length,
  );
  const claims: Claim[] = [
    {
      text: `Most similar past incident: ${top.incidentId} "${top.title}" (similarity ${top.similarity}). Root cause then: ${top.rootCause ?? 'not recorded'}. Fixed by: ${top.resolution ?? 'not recorded'}.`,
      evidenceIds: [top.incidentId],
      confidence: top.similarity,
    },
  ];
  if (recurrences.length > 0) {
    claims.push({
      text: `This looks like the ${ordinal(recurrences.length + 1)} occurrence in 30 days.`,
      evidenceIds: recurrences.map((incident) => incident.incidentId),
      confidence: 0.7,
    });
  }
  claims.push({
    text: `Similar incidents took ${meanMinutesToResolve} minutes to resolve on average.`,
    evidenceIds: similar.map((incident) => incident.incidentId),
    confidence: 0.6,
  });
  return {
    agent: 'historical-pattern',
    summary: `${similar.length} similar past incident${similar.length === 1 ? '' : 's'}; closest ${top.incidentId} (${top.similarity}).${recurrences.length > 0 ? ` ${ordinal(recurrences.length + 1)} time in 30 days.` : ''}`,
    claims,
    data: {
      similar,
      recurrences: recurrences.length,
      recurrenceWindowDays: RECURRENCE_WINDOW_MS / 86_400_000,
      meanMinutesToResolve,
    },
    confidence: top.similarity,
    insufficientEvidence: false,
    engine: DETERMINISTIC_ENGINE,
    degraded: false,
  };
}
