import type { Change } from '../../domain/change.js';
import type { EvidenceBundle } from '../../domain/evidence.js';
import type { Service } from '../../domain/service.js';
import type { Signal } from '../../domain/signal.js';

export const T0 = Date.UTC(2026, 10, 26, 10, 0, 0);
const MINUTE = 60_000;

const STEP = 5 * MINUTE;

/** A series: `baseline` points a day before T0 (5-minute steps), then `window` points from T0 − 2 steps. */
export function series(baseline: number[], window: number[]): { at: number; value: number }[] {
  return [
    ...baseline.map((value, index) => ({ at: T0 - 24 * 60 * MINUTE + index * STEP, value })),
    ...window.map((value, index) => ({ at: T0 + (index - 2) * STEP, value })),
  ];
}

/** A normal baseline: 98, 100, 102, 99, 101 repeated (median 100, MAD 1). */
export const NORMAL = Array.from({ length: 40 }, (_, index) => 100 + ((index * 7) % 5) - 2);

/** NORMAL's spread (1.4826 × its MAD of 1). */
export const NORMAL_SPREAD = 1.4826;

/** A latency signal on `serviceName` whose onset point sits `z` spreads off NORMAL's level. */
export function measured(
  id: string,
  serviceName: string,
  z: number,
  severity: 'critical' | 'info' = 'info',
): Signal {
  return signal(id, serviceName, 0, {
    severity,
    metric: {
      name: 'latency',
      datapoints: series(NORMAL, [100, 100, 100 + z * NORMAL_SPREAD, 100, 100]),
    },
  });
}

export function service(name: string, dependsOn: string[], extra: Partial<Service> = {}): Service {
  return {
    name,
    kind: 'component',
    tier: 2,
    customerFacing: false,
    dependsOn,
    runbooks: [],
    createdAt: T0,
    updatedAt: T0,
    ...extra,
  };
}

export function signal(
  id: string,
  serviceName: string,
  minutes: number,
  extra: Partial<Signal> = {},
): Signal {
  return {
    id,
    source: 'prometheus',
    fingerprint: id,
    status: 'firing',
    severity: 'error',
    service: serviceName,
    environment: 'prod',
    region: null,
    title: `${serviceName} alert`,
    description: null,
    labels: {},
    annotations: {},
    metric: null,
    links: [],
    startsAt: T0 + minutes * MINUTE,
    endsAt: null,
    receivedAt: T0 + minutes * MINUTE,
    lastSeenAt: T0 + minutes * MINUTE,
    occurrences: 1,
    acknowledgedAt: null,
    suppressedBy: null,
    ...extra,
  };
}

export function change(
  id: string,
  serviceName: string,
  minutes: number,
  kind: Change['kind'] = 'deploy',
): Change {
  return {
    id,
    kind,
    service: serviceName,
    environment: 'prod',
    versionFrom: null,
    versionTo: null,
    author: null,
    summary: `${kind} ${serviceName}`,
    startedAt: T0 + minutes * MINUTE,
    finishedAt: null,
    links: [],
    externalId: null,
    source: 'test',
    createdAt: T0,
  };
}

/**
 * web (tier 1, customer-facing) → api → db, and mobile → api. Signals: db critical first, then api,
 * then web; mobile stays quiet.
 */
export function shopBundle(overrides: Partial<EvidenceBundle> = {}): EvidenceBundle {
  const services = [
    service('web', ['api'], { tier: 1, customerFacing: true }),
    service('mobile', ['api'], { tier: 1, customerFacing: true }),
    service('api', ['db'], { tier: 1 }),
    service('db', [], { tier: 1, kind: 'resource' }),
  ];
  const signals = [
    signal('sig_db', 'db', 0, { severity: 'critical' }),
    signal('sig_api', 'api', 1),
    signal('sig_web', 'web', 2, { severity: 'warning' }),
  ];
  return {
    id: 'bun_test',
    incidentId: 'inc_test',
    asOf: T0 + 10 * MINUTE,
    lookbackMs: 6 * 60 * MINUTE,
    incident: {
      id: 'inc_test',
      title: 'shop is failing',
      severity: 'SEV2',
      status: 'OPEN',
      services: ['api', 'db', 'web'],
      environment: 'prod',
      correlationKey: 'environment=prod,service=web',
      ruleId: null,
      startedAt: T0,
      detectedAt: T0 + 3 * MINUTE,
      acknowledgedAt: null,
      mitigatedAt: null,
      resolvedAt: null,
      closedAt: null,
      signalsResolvedAt: null,
      rootCause: null,
      resolution: null,
      rootService: null,
      mergedInto: null,
      signalCount: 3,
      updatedAt: T0,
    },
    signals,
    detections: [],
    changes: [
      change('chg_db_deploy', 'db', -10),
      change('chg_web_config', 'web', -5, 'config'),
      change('chg_api_rollback', 'api', 4, 'rollback'),
    ],
    services,
    neighbourhood: [
      { service: 'api', distance: 0, relation: 'affected' },
      { service: 'db', distance: 0, relation: 'affected' },
      { service: 'web', distance: 0, relation: 'affected' },
      { service: 'mobile', distance: 1, relation: 'dependent' },
    ],
    history: [],
    knowledge: [],
    hash: 'test',
    ...overrides,
  };
}

/** Three services on hosts that all run one agent; a pushed agent config crashes them all. */
export function hostAgentBundle(overrides: Partial<EvidenceBundle> = {}): EvidenceBundle {
  return shopBundle({
    services: [
      service('checkout', ['host-agent'], { tier: 1, customerFacing: true }),
      service('orders', ['host-agent'], { tier: 1 }),
      service('billing', ['host-agent'], { tier: 2 }),
      service('host-agent', [], { tier: 2 }),
    ],
    neighbourhood: [
      { service: 'billing', distance: 0, relation: 'affected' },
      { service: 'checkout', distance: 0, relation: 'affected' },
      { service: 'orders', distance: 0, relation: 'affected' },
      { service: 'host-agent', distance: 1, relation: 'dependency' },
    ],
    signals: [
      signal('sig_checkout', 'checkout', 0, { severity: 'critical' }),
      signal('sig_orders', 'orders', 1, { severity: 'critical' }),
      signal('sig_billing', 'billing', 2),
    ],
    changes: [{ ...change('chg_agent_cfg', 'host-agent', -12, 'config'), summary: 'push agent config v42' }],
    ...overrides,
  });
}

/**
 * api → placement → index, api → index; billing → index, silent, and nothing alerting calls it. A
 * capacity command filed against billing at the onset reaches api and placement only through index.
 */
export function besideChangeBundle(
  changes: EvidenceBundle['changes'],
  services: EvidenceBundle['services'] = [],
): EvidenceBundle {
  return shopBundle({
    services: [
      service('api', ['placement', 'index'], { tier: 1, customerFacing: true }),
      service('placement', ['index'], { tier: 1 }),
      service('billing', ['index']),
      service('index', []),
      ...services,
    ],
    neighbourhood: [
      { service: 'api', distance: 0, relation: 'affected' },
      { service: 'placement', distance: 0, relation: 'affected' },
      { service: 'index', distance: 1, relation: 'dependency' },
      { service: 'billing', distance: 2, relation: 'dependent' },
    ],
    signals: [
      signal('sig_api', 'api', 0, { severity: 'critical' }),
      signal('sig_placement', 'placement', 1, { severity: 'critical' }),
    ],
    changes,
  });
}

/** The capacity command of besideChangeBundle. */
export const BILLING_COMMAND = {
  ...change('chg_billing_cap', 'billing', 0, 'infra'),
  summary: 'remove billing capacity',
};
