import MiniSearch from 'minisearch';
import { describe, expect, it } from 'vitest';
import type { PastIncident } from '../../domain/evidence.js';
import { validateFinding } from '../evidence.js';
import { shopBundle, signal, T0 } from './fixtures.test-support.js';
import { analyzeHistory, similarIncidents } from './historical-pattern.js';

const DAY = 86_400_000;

function past(id: string, daysAgo: number, extra: Partial<PastIncident>): PastIncident {
  return {
    id,
    title: 'something broke',
    severity: 'SEV3',
    services: ['web'],
    detectedAt: T0 - daysAgo * DAY,
    resolvedAt: T0 - daysAgo * DAY + 40 * 60_000,
    rootCause: null,
    resolution: null,
    alerts: [],
    ...extra,
  };
}

const signals = [
  signal('sig_db', 'db', 0, {
    severity: 'critical',
    labels: { alertname: 'DBConnectionsExhausted' },
    title: 'db connection pool exhausted',
  }),
  signal('sig_api', 'api', 1, { labels: { alertname: 'HighErrorRate' }, title: 'api 5xx above 5%' }),
];

const history = [
  past('inc_pool_1', 10, {
    title: 'api errors: db connection pool exhausted',
    services: ['db', 'api'],
    alerts: ['DBConnectionsExhausted', 'HighErrorRate'],
    rootCause: 'pool too small after a deploy',
    resolution: 'rolled back api',
    resolvedAt: T0 - 10 * DAY + 30 * 60_000,
  }),
  past('inc_pool_2', 40, {
    title: 'db connection pool exhausted',
    services: ['db', 'api'],
    alerts: ['DBConnectionsExhausted'],
    rootCause: 'long transactions held connections',
  }),
  past('inc_cert', 5, {
    title: 'web certificate expired',
    services: ['web'],
    alerts: ['CertificateExpiringSoon'],
    rootCause: 'certificate renewal failed',
  }),
];

describe('historical-pattern', () => {
  it('ranks past incidents by service, alert and text similarity', () => {
    const ranked = similarIncidents(shopBundle({ signals, history }));
    expect(ranked.map((incident) => incident.incidentId)).toEqual(['inc_pool_1', 'inc_pool_2', 'inc_cert']);
    expect(ranked[0]!.components).toEqual({ services: 0.667, alerts: 1, text: 1 });
    expect(ranked[2]!.similarity).toBeLessThan(0.35);
  });

  it('scores text exactly as an index of every word would, though it indexes only the query words', () => {
    const words = [
      'db',
      'pool',
      'exhausted',
      'api',
      '5xx',
      'cert',
      'Renewal',
      'failed',
      'disk',
      'full',
      'Ü-ber',
    ];
    const many = Array.from({ length: 60 }, (_, n) =>
      past(`inc_${n}`, n + 1, {
        title: Array.from({ length: 3 + (n % 5) }, (_, k) => words[(n * 7 + k * 3) % words.length]).join(' '),
        rootCause:
          n % 3 === 0 ? null : `${words[n % words.length]} after a deploy, ${words[(n + 4) % words.length]}`,
      }),
    );
    const bundle = shopBundle({ signals, history: many });
    const full = new MiniSearch<{ id: string; title: string; rootCause: string }>({
      fields: ['title', 'rootCause'],
      idField: 'id',
    });
    full.addAll(
      many.map((incident) => ({
        id: incident.id,
        title: incident.title,
        rootCause: incident.rootCause ?? '',
      })),
    );
    const query = [bundle.incident.title, ...bundle.signals.map((one) => one.title)].join(' ');
    const scores = new Map(
      full.search(query, { combineWith: 'OR' }).map((hit) => [hit.id as string, hit.score]),
    );
    const best = Math.max(...scores.values());
    expect(scores.size).toBeGreaterThan(10);
    for (const incident of similarIncidents(bundle))
      expect(incident.components.text, incident.incidentId).toBe(
        Math.round(((scores.get(incident.incidentId) ?? 0) / best) * 1000) / 1000,
      );
  });

  it('reports the closest incident, its fix, recurrence within 30 days and typical time to resolve, citing history ids', () => {
    const bundle = shopBundle({ signals, history });
    const finding = analyzeHistory(bundle);
    expect(finding.insufficientEvidence).toBe(false);
    expect(finding.claims[0]!.text).toContain('rolled back api');
    expect(finding.claims[1]).toMatchObject({
      text: 'This looks like the 2nd occurrence in 30 days.',
      evidenceIds: ['inc_pool_1'],
    });
    expect(finding.data).toMatchObject({ recurrences: 1, meanMinutesToResolve: 35 });
    expect(validateFinding(finding, bundle)).toEqual([]);
  });

  it('abstains when there is no history or nothing similar', () => {
    expect(analyzeHistory(shopBundle({ signals, history: [] }))).toMatchObject({
      insufficientEvidence: true,
      claims: [],
    });
    expect(analyzeHistory(shopBundle({ signals, history: [history[2]!] }))).toMatchObject({
      insufficientEvidence: true,
    });
  });
});
