import { describe, expect, it } from 'vitest';
import type { EvidenceBundle } from '../../domain/evidence.js';
import { groundFinding, groundingContext } from '../../trust/grounding.js';
import { validateFinding } from '../evidence.js';
import {
  BILLING_COMMAND,
  besideChangeBundle,
  change,
  hostAgentBundle,
  measured,
  NORMAL,
  NORMAL_SPREAD,
  series,
  service,
  shopBundle,
  signal,
} from './fixtures.test-support.js';
import { analyzeBlastRadius, blastRadius, inferOrigin, traceOrigins } from './risk-blast-radius.js';

describe('risk-blast-radius', () => {
  it('finds the most-downstream unhealthy service as the origin and its quiet callers as impacted', () => {
    expect(blastRadius(shopBundle())).toEqual({
      unhealthy: ['db', 'api', 'web'],
      origins: ['db'],
      impacted: ['mobile'],
      customerFacing: ['mobile', 'web'],
      highestTier: 1,
      recommendedSeverity: 'SEV1',
    });
  });

  it('recommends a lower severity without a critical signal on a customer-facing path', () => {
    const bundle = shopBundle({ signals: [signal('sig_api', 'api', 0)] });
    expect(blastRadius(bundle)).toMatchObject({ origins: ['api'], recommendedSeverity: 'SEV2' });
  });

  it('reports several origins when the topology cannot separate them', () => {
    const bundle = shopBundle({ signals: [signal('sig_db', 'db', 0), signal('sig_mobile', 'mobile', 1)] });
    const radius = blastRadius(bundle);
    expect(radius.origins).toEqual(['db']);
    // web and mobile share nothing here: two origins the topology cannot separate.
    const separate = shopBundle({
      signals: [signal('sig_web', 'web', 0), signal('sig_mobile', 'mobile', 1)],
      changes: [],
      services: [service('web', [], { tier: 1 }), service('mobile', [], { tier: 1 })],
    });
    expect(blastRadius(separate).origins).toEqual(['web', 'mobile']);
    expect(analyzeBlastRadius(separate).confidence).toBeLessThan(analyzeBlastRadius(bundle).confidence);
    // In the shop both call api, which is silent: what they share is the inferred origin.
    const shared = shopBundle({
      signals: [signal('sig_web', 'web', 0), signal('sig_mobile', 'mobile', 1)],
      changes: [],
    });
    expect(inferOrigin(shared)).toMatchObject({ service: 'api', basis: 'shared', roots: ['mobile', 'web'] });
    expect(blastRadius(shared).origins).toEqual(['api', 'web', 'mobile']);
  });

  it('keeps a critical service as the origin over a noise warning on a database below it', () => {
    // api pages, web and mobile see it; db, which api calls, only warns (a disk filling).
    const bundle = shopBundle({
      signals: [
        signal('sig_api', 'api', 0, { severity: 'critical' }),
        signal('sig_web', 'web', 1),
        signal('sig_mobile', 'mobile', 2),
        signal('sig_db', 'db', 3, { severity: 'warning' }),
      ],
      changes: [],
    });
    expect(traceOrigins(bundle)[0]).toMatchObject({ service: 'api', origin: true });
    // An error on the database, as severe as what the caller shows, does take it over.
    const failing = shopBundle({
      signals: [
        signal('sig_api', 'api', 0),
        signal('sig_web', 'web', 1),
        signal('sig_db', 'db', 3, { severity: 'error' }),
      ],
      changes: [],
    });
    expect(blastRadius(failing).origins).toEqual(['db']);
  });

  it('counts an alert that cleared before the symptoms as the fault they still show', () => {
    // db's alert fired first and resolved; api and web still fail. It stays the origin.
    const cleared = shopBundle({
      signals: [
        signal('sig_db', 'db', 0, { severity: 'critical', status: 'resolved' }),
        signal('sig_api', 'api', 1),
        signal('sig_web', 'web', 2),
      ],
      changes: [],
    });
    expect(blastRadius(cleared).origins).toEqual(['db']);
    // One that started after the symptoms, or a warning, is not their cause.
    const later = shopBundle({
      signals: [
        signal('sig_api', 'api', 1),
        signal('sig_web', 'web', 2),
        signal('sig_db', 'db', 3, { severity: 'critical', status: 'resolved' }),
      ],
      changes: [],
    });
    expect(blastRadius(later).origins).toEqual(['api']);
    const warning = shopBundle({
      signals: [
        signal('sig_db', 'db', 0, { severity: 'warning', status: 'resolved' }),
        signal('sig_api', 'api', 1),
      ],
      changes: [],
    });
    expect(blastRadius(warning).origins).toEqual(['api']);
  });

  it('cites only evidence in the bundle, and abstains when nothing fires', () => {
    const bundle = shopBundle();
    expect(validateFinding(analyzeBlastRadius(bundle), bundle)).toEqual([]);
    const quiet = shopBundle({ signals: [signal('sig_old', 'db', 0, { status: 'resolved' })] });
    expect(analyzeBlastRadius(quiet)).toMatchObject({ insufficientEvidence: true, claims: [] });
  });

  it('validateFinding rejects a claim that cites evidence not in the bundle', () => {
    const bundle = shopBundle();
    const finding = analyzeBlastRadius(bundle);
    finding.claims[0]!.evidenceIds.push('chg_invented');
    expect(validateFinding(finding, bundle)).toEqual([
      'claims[0].evidenceIds: chg_invented is not in the evidence bundle',
    ]);
  });
});

describe('risk-blast-radius with datapoints', () => {
  it('traces from the alert down to the deepest strong anomaly; a weaker one below does not take over', () => {
    const bundle = shopBundle({
      signals: [
        measured('sig_web', 'web', 12, 'critical'),
        measured('sig_api', 'api', 40),
        measured('sig_db', 'db', 4),
        measured('sig_mobile', 'mobile', 20),
      ],
    });
    const traced = traceOrigins(bundle);
    expect(traced.map((entry) => [entry.service, entry.origin])).toEqual([
      ['api', true],
      ['db', true],
      ['web', false],
    ]);
    // api explains its two unhealthy callers (web, the alert, and mobile, an anomaly off the walk).
    expect(traced[0]).toMatchObject({ trace: 1, explains: 2, strength: 1 });
    expect(traced[1]).toMatchObject({ trace: 0.4, explains: 1 });
    // mobile is anomalous but no alert reaches it: not part of the incident's trace.
    expect(traced.some((entry) => entry.service === 'mobile')).toBe(false);
    const finding = analyzeBlastRadius(bundle);
    expect(finding.data.origins).toEqual(['api', 'db']);
    expect(finding.claims[0]!.text).toMatch(/^api is the deepest strong anomaly traced from the alerts/);
    expect(validateFinding(finding, bundle)).toEqual([]);
  });

  it('ignores observations within normal range and traces nothing when the alert is contradicted', () => {
    const quiet = shopBundle({
      signals: [measured('sig_web', 'web', 12, 'critical'), measured('sig_api', 'api', 1)],
    });
    expect(traceOrigins(quiet).map((entry) => entry.service)).toEqual(['web']);
    const contradicted = shopBundle({
      signals: [measured('sig_web', 'web', 0.5, 'critical'), measured('sig_api', 'api', 40)],
    });
    expect(analyzeBlastRadius(contradicted)).toMatchObject({ insufficientEvidence: true, claims: [] });
  });
});

describe('risk-blast-radius: load balancers and proxies', () => {
  // web calls the search service and, as a tracing map draws it, the load balancer in front of it.
  const bundleWith = (
    signals: ReturnType<typeof signal>[],
    services = [
      service('web', ['search-lb', 'search-api', 'cart'], { tier: 1, customerFacing: true }),
      service('search-lb', []),
      service('search-api', []),
      service('cart', []),
    ],
  ) =>
    shopBundle({
      signals,
      services,
      changes: [],
      neighbourhood: services.map((entry) => ({
        service: entry.name,
        distance: 0,
        relation: 'affected' as const,
      })),
    });

  it('names the service behind a load balancer that shows its fault more sharply, and says so', () => {
    const bundle = bundleWith([
      measured('sig_web', 'web', 12, 'critical'),
      measured('sig_lb', 'search-lb', 40),
      // Too faint to count on its own, but the same way as the load balancer's.
      measured('sig_search', 'search-api', 2.5),
    ]);
    const traced = traceOrigins(bundle);
    expect(traced[0]).toMatchObject({ service: 'search-api', origin: true, behind: { proxy: 'search-lb' } });
    expect(traced.find((entry) => entry.service === 'search-lb')).toMatchObject({ origin: false });
    const finding = analyzeBlastRadius(bundle);
    expect(finding.claims[0]!.text).toMatch(/^search-api is behind search-lb, a load balancer or proxy/);
    expect(validateFinding(finding, bundle)).toEqual([]);
  });

  it('keeps the load balancer when nothing behind it deviates, or deviates the other way', () => {
    const flat = bundleWith([
      measured('sig_web', 'web', 12, 'critical'),
      measured('sig_lb', 'search-lb', 40),
      measured('sig_search', 'search-api', 0.5),
      measured('sig_cart', 'cart', 2.5),
    ]);
    expect(traceOrigins(flat)[0]).toMatchObject({ service: 'search-lb', origin: true });
    const opposite = bundleWith([
      measured('sig_web', 'web', 12, 'critical'),
      measured('sig_lb', 'search-lb', 40),
      measured('sig_search', 'search-api', -4),
    ]);
    expect(traceOrigins(opposite)[0]).toMatchObject({ service: 'search-lb', origin: true });
  });

  it('reads worse the way each metric fails: a balancer error rise and an availability drop agree', () => {
    const availability = (id: string, name: string, drop: number) =>
      signal(id, name, 0, {
        severity: 'info',
        metric: {
          name: 'availability',
          unit: '%',
          datapoints: series(NORMAL, [100, 100, 100 - drop * NORMAL_SPREAD, 100, 100]),
        },
      });
    const bundle = bundleWith([
      measured('sig_web', 'web', 12, 'critical'),
      measured('sig_lb', 'search-lb', 40),
      availability('sig_search', 'search-api', 2.5),
    ]);
    expect(traceOrigins(bundle)[0]).toMatchObject({ service: 'search-api', behind: { proxy: 'search-lb' } });
  });

  it('follows the catalog where it says what a proxy calls, whatever the names', () => {
    const declared = bundleWith(
      [
        measured('sig_web', 'web', 12, 'critical'),
        measured('sig_edge', 'edge', 40),
        measured('sig_orders', 'orders', 3.5),
      ],
      [
        service('web', ['edge'], { tier: 1, customerFacing: true }),
        service('edge', ['orders'], { type: 'load-balancer' }),
        service('orders', []),
      ],
    );
    const traced = traceOrigins(declared);
    expect(traced.map((entry) => [entry.service, entry.origin])).toEqual([
      ['orders', true],
      ['edge', false],
      ['web', false],
    ]);
  });
});

describe('risk-blast-radius: origins that never alerted', () => {
  const agentBundle = hostAgentBundle;

  it('infers the silent common dependency with a change before the onset, and says why', () => {
    const bundle = agentBundle();
    expect(inferOrigin(bundle)).toMatchObject({
      service: 'host-agent',
      changeId: 'chg_agent_cfg',
      minutesBeforeOnset: 12,
      dependents: ['checkout', 'orders', 'billing'],
      roots: ['billing', 'checkout', 'orders'],
    });
    const finding = analyzeBlastRadius(bundle);
    expect(finding.data.origins).toEqual(['host-agent', 'checkout', 'orders', 'billing']);
    expect(finding.summary).toMatch(
      /^Probable origin host-agent, INFERRED \(no firing alert of its own in this incident\): config chg_agent_cfg/,
    );
    expect(finding.claims[0]!.text).toBe(
      'host-agent is the INFERRED origin: it has no firing alert of its own in this incident, but config chg_agent_cfg on it started 12 minutes before the first signal (push agent config v42), and every alerting service depends on it: checkout, orders, billing.',
    );
    expect(finding.claims[0]!.evidenceIds).toContain('chg_agent_cfg');
    expect(finding.data.candidates?.[0]).toMatchObject({
      service: 'host-agent',
      inferred: true,
      origin: true,
    });
    // It explains three separate origins: weight 1 + 3 against 1 each, a clear leader.
    expect(finding.confidence).toBe(0.64);
    expect(validateFinding(finding, bundle)).toEqual([]);
    expect(groundFinding(finding, groundingContext(bundle)).unsupported).toEqual([]);
  });

  it('infers an index subsystem everything calls, through a chain of callers', () => {
    // frontend → search-api → index; reports → index. A capacity-removal command on index.
    const bundle = shopBundle({
      services: [
        service('frontend', ['search-api'], { tier: 1, customerFacing: true }),
        service('search-api', ['index']),
        service('reports', ['index']),
        service('index', [], { kind: 'resource' }),
      ],
      neighbourhood: [
        { service: 'frontend', distance: 0, relation: 'affected' },
        { service: 'reports', distance: 0, relation: 'affected' },
        { service: 'search-api', distance: 0, relation: 'affected' },
        { service: 'index', distance: 1, relation: 'dependency' },
      ],
      signals: [
        signal('sig_search', 'search-api', 0, { severity: 'critical' }),
        signal('sig_reports', 'reports', 1),
        signal('sig_frontend', 'frontend', 3, { severity: 'warning' }),
      ],
      changes: [
        {
          ...change('chg_index_cap', 'index', -8, 'infra'),
          summary: 'remove capacity from the index subsystem',
        },
      ],
    });
    expect(inferOrigin(bundle)).toMatchObject({
      service: 'index',
      roots: ['reports', 'search-api'],
      dependents: ['search-api', 'reports', 'frontend'],
    });
    expect(blastRadius(bundle).unhealthy[0]).toBe('index');
  });

  it('is not inferred when an alerting dependency explains the callers better', () => {
    // checkout and orders both call payments, which alerts too; payments calls the silent host-agent.
    const bundle = agentBundle({
      services: [
        service('checkout', ['payments'], { tier: 1 }),
        service('orders', ['payments'], { tier: 1 }),
        service('payments', ['host-agent'], { tier: 1 }),
        service('host-agent', []),
      ],
      neighbourhood: [
        { service: 'checkout', distance: 0, relation: 'affected' },
        { service: 'orders', distance: 0, relation: 'affected' },
        { service: 'payments', distance: 0, relation: 'affected' },
        { service: 'host-agent', distance: 1, relation: 'dependency' },
      ],
      signals: [
        signal('sig_payments', 'payments', 0, { severity: 'critical' }),
        signal('sig_checkout', 'checkout', 1),
        signal('sig_orders', 'orders', 2),
      ],
    });
    expect(inferOrigin(bundle)).toBeNull();
    const finding = analyzeBlastRadius(bundle);
    expect(finding.data.origins).toEqual(['payments']);
    expect(finding.data.inferredOrigin).toBeNull();
    expect(finding.summary).not.toContain('INFERRED');
  });

  it('is inferred past an alerting dependency when the callers also call it directly, and changed last', () => {
    // Every host runs host-agent: payments alerts first, but checkout and orders call host-agent
    // directly as well as through payments.
    const hosts = (changes: ReturnType<typeof change>[]) =>
      agentBundle({
        services: [
          service('checkout', ['payments', 'host-agent'], { tier: 1 }),
          service('orders', ['payments', 'host-agent'], { tier: 1 }),
          service('payments', ['host-agent'], { tier: 1 }),
          service('host-agent', []),
        ],
        neighbourhood: [
          { service: 'checkout', distance: 0, relation: 'affected' },
          { service: 'orders', distance: 0, relation: 'affected' },
          { service: 'payments', distance: 0, relation: 'affected' },
          { service: 'host-agent', distance: 1, relation: 'dependency' },
        ],
        signals: [
          signal('sig_payments', 'payments', 0, { severity: 'critical' }),
          signal('sig_checkout', 'checkout', 1),
          signal('sig_orders', 'orders', 2),
        ],
        changes,
      });
    const agentChange = change('chg_agent_cfg', 'host-agent', -3, 'config');
    expect(inferOrigin(hosts([agentChange, change('chg_payments_old', 'payments', -90)]))).toMatchObject({
      service: 'host-agent',
      changeId: 'chg_agent_cfg',
      roots: ['payments'],
    });
    // A change on payments as recent explains payments' failure as well: it keeps the answer.
    expect(inferOrigin(hosts([agentChange, change('chg_payments', 'payments', -2)]))).toBeNull();
  });

  it('is not inferred for a single alerting service, with a change of its own or without', () => {
    const lone = (changes: ReturnType<typeof change>[]) =>
      agentBundle({ signals: [signal('sig_checkout', 'checkout', 0, { severity: 'critical' })], changes });
    const agentChange = change('chg_agent_cfg', 'host-agent', -12, 'config');
    const own = lone([agentChange, change('chg_checkout', 'checkout', -5)]);
    expect(inferOrigin(own)).toBeNull();
    expect(analyzeBlastRadius(own).data.origins).toEqual(['checkout']);
    // A lone alert cannot tell its own failure from its dependency's: the alerting service stays the
    // origin, and the dependency's change remains a suspect for the strategy to offer.
    expect(inferOrigin(lone([agentChange]))).toBeNull();
  });

  it('needs every alerting service to depend on it and an alert above warning', () => {
    const outsider = agentBundle({
      services: [
        service('checkout', ['host-agent']),
        service('orders', ['host-agent']),
        service('billing', []),
        service('host-agent', []),
      ],
    });
    expect(inferOrigin(outsider)).toBeNull();
    const warnings = agentBundle().signals.map((item) => ({ ...item, severity: 'warning' as const }));
    expect(inferOrigin(agentBundle({ signals: warnings }))).toBeNull();
  });

  it('without a recent change on it, is inferred only as what separate failures share', () => {
    // An old change or a rollback is no basis; three roots with nothing of their own to explain them
    // still point at the one dependency they share, and the answer says no change is recorded.
    for (const changes of [
      [change('chg_agent_old', 'host-agent', -180, 'config')],
      [change('chg_agent_rb', 'host-agent', -12, 'rollback')],
    ]) {
      const bundle = agentBundle({ changes });
      expect(inferOrigin(bundle)).toMatchObject({
        service: 'host-agent',
        basis: 'shared',
        changeId: null,
        roots: ['billing', 'checkout', 'orders'],
      });
      const finding = analyzeBlastRadius(bundle);
      expect(finding.claims[0]!.text).toMatch(
        /no change of their own explains them all.*No change on it is recorded/,
      );
      expect(finding.claims[0]!.evidenceIds).not.toContain(null);
      expect(validateFinding(finding, bundle)).toEqual([]);
    }
    // Each root with a change of its own explains itself: nothing is inferred.
    const own = agentBundle({
      changes: ['checkout', 'orders', 'billing'].map((name) => change(`chg_${name}`, name, -20)),
    });
    expect(inferOrigin(own)).toBeNull();
    // One of them unexplained is enough to look at what they share.
    const some = agentBundle({
      changes: ['checkout', 'orders'].map((name) => change(`chg_${name}`, name, -20)),
    });
    expect(inferOrigin(some)).toMatchObject({ service: 'host-agent', basis: 'shared' });
    // A single alerting chain is never inferred past without a change.
    expect(
      inferOrigin(
        agentBundle({
          changes: [],
          signals: [signal('sig_checkout', 'checkout', 0, { severity: 'critical' })],
        }),
      ),
    ).toBeNull();
  });

  it('is inferred from a change beside it that reaches the symptoms only through it', () => {
    const bundle = besideChangeBundle;
    const command = BILLING_COMMAND;
    const inferred = bundle([command, change('chg_api', 'api', -40)]);
    expect(inferOrigin(inferred)).toMatchObject({
      service: 'index',
      basis: 'neighbour-change',
      changeId: 'chg_billing_cap',
      changedService: 'billing',
      roots: ['placement'],
    });
    const finding = analyzeBlastRadius(inferred);
    expect(finding.claims[0]!.text).toContain(
      'on billing, which calls it and which no alerting service depends on',
    );
    expect(validateFinding(finding, inferred)).toEqual([]);
    // A change on the alerting root as recent explains it on its own.
    expect(inferOrigin(bundle([command, change('chg_placement', 'placement', 0)]))).toBeNull();
    // A changed service that an alerting service depends on is not beside the outage.
    const underApi = bundle([command]);
    underApi.services = underApi.services.map((entry) =>
      entry.name === 'api' ? { ...entry, dependsOn: [...entry.dependsOn, 'billing'] } : entry,
    );
    expect(inferOrigin(underApi)).toBeNull();
  });
});

describe('risk-blast-radius: signals outside the incident', () => {
  // checkout (alerting) → payments (silent here) → payments-db.
  const bundleWith = (neighbourSignals?: EvidenceBundle['neighbourSignals']) =>
    shopBundle({
      services: [
        service('checkout', ['payments'], { tier: 1 }),
        service('payments', ['payments-db'], { tier: 1 }),
        service('payments-db', [], { tier: 1, kind: 'resource' }),
      ],
      neighbourhood: [
        { service: 'checkout', distance: 0, relation: 'affected' },
        { service: 'payments', distance: 1, relation: 'dependency' },
        { service: 'payments-db', distance: 2, relation: 'dependency' },
      ],
      signals: [signal('sig_checkout', 'checkout', 0, { severity: 'critical' })],
      changes: [],
      ...(neighbourSignals ? { neighbourSignals } : {}),
    });

  it('reads them as labelled context and never lets them change the answer', () => {
    const alone = analyzeBlastRadius(bundleWith());
    const withContext = bundleWith([
      { incidentId: 'inc_other', signal: signal('sig_pay_other', 'payments', -3, { severity: 'critical' }) },
      { incidentId: null, signal: signal('sig_db_loose', 'payments-db', -4) },
      { incidentId: 'inc_old', signal: signal('sig_db_done', 'payments-db', -30, { status: 'resolved' }) },
    ]);
    const finding = analyzeBlastRadius(withContext);
    // Same origins, candidates and severity as without them: another incident's alerts do not join this one.
    expect(finding.data.origins).toEqual(alone.data.origins);
    expect(finding.data.candidates).toEqual(alone.data.candidates);
    expect(finding.data.recommendedSeverity).toBe(alone.data.recommendedSeverity);
    expect(finding.confidence).toBe(alone.confidence);
    expect(finding.data.outside).toEqual([
      { service: 'payments', signals: 1, incidents: ['inc_other'] },
      { service: 'payments-db', signals: 1, incidents: [null] },
    ]);
    expect(finding.claims.at(-1)!.text).toBe(
      'Context from outside this incident, not counted in the answer: payments, payments-db, which checkout depends on, have firing alerts that another incident holds or none does; check whether that fault came first.',
    );
    expect(validateFinding(finding, withContext)).toEqual([]);
    expect(groundFinding(finding, groundingContext(withContext)).unsupported).toEqual([]);
  });
});

describe('risk-blast-radius: severity', () => {
  it('never lets a critical alert end below SEV3, and never recommends below the recorded severity', () => {
    // A critical alert on a tier-3 internal service: SEV4 by tiers alone.
    const internal = (severity: 'SEV1' | 'SEV4') =>
      shopBundle({
        services: [service('batch', [], { tier: 3 })],
        neighbourhood: [{ service: 'batch', distance: 0, relation: 'affected' }],
        signals: [signal('sig_batch', 'batch', 0, { severity: 'critical' })],
        changes: [],
        incident: { ...shopBundle().incident, severity, services: ['batch'] },
      });
    expect(blastRadius(internal('SEV4')).recommendedSeverity).toBe('SEV3');
    const finding = analyzeBlastRadius(internal('SEV1'));
    expect(finding.data.recommendedSeverity).toBe('SEV1');
    expect(finding.data.severity).toEqual({ recommended: 'SEV1', evidence: 'SEV3', recorded: 'SEV1' });
    expect(finding.summary).toMatch(/recommended SEV1\.$/);
    // An error alert there stays SEV4.
    const quiet = internal('SEV4');
    quiet.signals = [signal('sig_batch', 'batch', 0)];
    expect(blastRadius(quiet).recommendedSeverity).toBe('SEV4');
  });
});
