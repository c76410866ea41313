import { describe, expect, it } from 'vitest';
import {
  connection,
  dependencyGraph,
  dependsWithin,
  namedDependencies,
  neighbourhood,
  nextOrigin,
  originSiblingPath,
  pathTo,
  siblingPath,
  siblingsOf,
} from './topology.js';

// web → api → orders → payments → payments-db, plus a gateway that calls both orders and search, and
// a shared database that orders and search both call.
const graph = dependencyGraph([
  { service: 'web', dependsOn: 'api' },
  { service: 'api', dependsOn: 'orders' },
  { service: 'orders', dependsOn: 'payments' },
  { service: 'payments', dependsOn: 'payments-db' },
  { service: 'gateway', dependsOn: 'orders' },
  { service: 'gateway', dependsOn: 'search' },
  { service: 'orders', dependsOn: 'shared-db' },
  { service: 'search', dependsOn: 'shared-db' },
]);

describe('pathTo', () => {
  it('finds callers and dependencies within the hop budget, shortest first', () => {
    expect(pathTo(graph, 'web', new Set(['orders']), 2)).toEqual({
      relation: 'caller',
      path: ['web', 'api', 'orders'],
    });
    expect(pathTo(graph, 'payments-db', new Set(['orders']), 2)).toEqual({
      relation: 'dependency',
      path: ['payments-db', 'payments', 'orders'],
    });
    expect(pathTo(graph, 'orders', new Set(['orders', 'api']), 2)).toEqual({
      relation: 'same',
      path: ['orders'],
    });
    expect(pathTo(graph, 'web', new Set(['payments']), 2)).toBeNull();
    expect(pathTo(graph, 'web', new Set(['payments']), 3)?.path).toEqual([
      'web',
      'api',
      'orders',
      'payments',
    ]);
  });

  it('never turns: siblings behind one caller or over one dependency are not connected', () => {
    // orders and search share the gateway (a caller) and shared-db (a dependency): two hops apart,
    // but along a path that changes direction.
    expect(pathTo(graph, 'search', new Set(['orders']), 2)).toBeNull();
    expect(pathTo(graph, 'search', new Set(['orders']), 4)).toBeNull();
  });

  it('names no path for a service the catalog does not know', () => {
    expect(pathTo(graph, 'unknown', new Set(['orders']), 2)).toBeNull();
    expect(pathTo(graph, 'unknown', new Set(['unknown']), 2)).toEqual({
      relation: 'same',
      path: ['unknown'],
    });
  });
});

describe('neighbourhood', () => {
  it('holds what lies within the hops in either direction, itself included', () => {
    expect([...neighbourhood(graph, 'orders', 1)].sort()).toEqual(
      ['api', 'gateway', 'orders', 'payments', 'shared-db'].sort(),
    );
    expect(neighbourhood(graph, 'web', 2)).toEqual(new Set(['web', 'api', 'orders']));
  });
});

describe('siblingPath', () => {
  const changed = (names: Record<string, string>) => (service: string) => names[service];

  it('turns at a shared dependency only when that dependency changed', () => {
    expect(siblingPath(graph, 'search', new Set(['orders']), 2, changed({ 'shared-db': 'chg_1' }))).toEqual({
      path: ['search', 'shared-db', 'orders'],
      shared: 'shared-db',
      change: 'chg_1',
    });
    expect(siblingPath(graph, 'search', new Set(['orders']), 2, changed({}))).toBeNull();
    // A change elsewhere does not connect them.
    expect(siblingPath(graph, 'search', new Set(['orders']), 2, changed({ payments: 'chg_2' }))).toBeNull();
  });

  it('keeps to the hop budget and never counts the shared dependency as the target', () => {
    // web → api → orders → shared-db ← search: four edges.
    expect(siblingPath(graph, 'web', new Set(['search']), 2, changed({ 'shared-db': 'chg_1' }))).toBeNull();
    expect(
      siblingPath(graph, 'web', new Set(['search']), 4, changed({ 'shared-db': 'chg_1' }))?.path,
    ).toEqual(['web', 'api', 'orders', 'shared-db', 'search']);
    expect(
      siblingPath(graph, 'search', new Set(['shared-db']), 2, changed({ 'shared-db': 'chg_1' })),
    ).toBeNull();
  });
});

describe('originSiblingPath', () => {
  it("turns at a silent dependency the joining service shares with the incident's origin", () => {
    expect(originSiblingPath(graph, 'search', 'orders', new Set(['orders']))).toEqual({
      path: ['search', 'shared-db', 'orders'],
      shared: 'shared-db',
    });
    expect(siblingsOf(graph, 'search')).toEqual(new Set(['orders']));
  });

  it('needs the origin itself, a silent shared dependency, and nothing alerting under the joiner', () => {
    // orders holds the incident but is not its origin: payments is.
    expect(originSiblingPath(graph, 'search', 'payments', new Set(['orders', 'payments']))).toBeNull();
    // shared-db alerts in the incident: that is a plain dependency path, not a turn.
    expect(originSiblingPath(graph, 'search', 'orders', new Set(['orders', 'shared-db']))).toBeNull();
    // A service already in the incident, the origin itself, or an incident without an origin.
    expect(originSiblingPath(graph, 'orders', 'orders', new Set(['orders']))).toBeNull();
    expect(originSiblingPath(graph, 'search', null, new Set(['orders']))).toBeNull();
    // The joiner's own dependency alerts in the incident: it is explained from below, not a sibling.
    const under = dependencyGraph([
      { service: 'a', dependsOn: 'hub' },
      { service: 'b', dependsOn: 'hub' },
      { service: 'b', dependsOn: 'c' },
    ]);
    expect(originSiblingPath(under, 'b', 'a', new Set(['a', 'c']))).toBeNull();
    expect(originSiblingPath(under, 'b', 'a', new Set(['a']))?.path).toEqual(['b', 'hub', 'a']);
  });
});

describe('dependsWithin', () => {
  it('counts only silent services against the budget', () => {
    expect(dependsWithin(graph, 'web', 'payments', 2, new Set())).toBeNull();
    expect(dependsWithin(graph, 'web', 'payments', 2, new Set(['api']))).toEqual([
      'web',
      'api',
      'orders',
      'payments',
    ]);
    expect(dependsWithin(graph, 'web', 'payments', 2, new Set(['api', 'orders']))).not.toBeNull();
    expect(dependsWithin(graph, 'payments', 'web', 4, new Set(['api', 'orders']))).toBeNull();
  });

  it('terminates on a cycle', () => {
    const cyclic = dependencyGraph([
      { service: 'a', dependsOn: 'b' },
      { service: 'b', dependsOn: 'a' },
    ]);
    expect(dependsWithin(cyclic, 'a', 'c', 3, new Set(['a', 'b']))).toBeNull();
    expect(dependsWithin(cyclic, 'a', 'b', 1, new Set())).toEqual(['a', 'b']);
  });
});

describe('nextOrigin', () => {
  it('moves down to an erroring dependency of the current origin', () => {
    const alerting = new Set(['web', 'api', 'orders']);
    expect(nextOrigin(graph, 'web', { service: 'orders', severity: 'critical' }, 2, alerting)).toEqual({
      origin: 'orders',
      path: ['web', 'api', 'orders'],
    });
  });

  it('stays on a caller, on a warning, and on a service the origin does not call', () => {
    const alerting = new Set(['orders', 'web', 'shared-db', 'search']);
    expect(nextOrigin(graph, 'orders', { service: 'web', severity: 'critical' }, 2, alerting).origin).toBe(
      'orders',
    );
    expect(
      nextOrigin(graph, 'orders', { service: 'shared-db', severity: 'warning' }, 2, alerting).origin,
    ).toBe('orders');
    expect(nextOrigin(graph, 'orders', { service: 'search', severity: 'critical' }, 2, alerting).origin).toBe(
      'orders',
    );
  });

  it('starts at the first service', () => {
    expect(nextOrigin(graph, null, { service: 'api', severity: 'warning' }, 2, new Set())).toEqual({
      origin: 'api',
    });
  });
});

describe('connection', () => {
  it('connects incidents when one origin depends on the other, the deeper one named', () => {
    const symptom = { id: 'b', origin: 'web', services: ['web', 'api'] };
    const cause = { id: 'a', origin: 'payments', services: ['payments'] };
    expect(connection(graph, symptom, cause, 2)).toMatchObject({ deeper: cause, shallower: symptom });
    expect(connection(graph, cause, symptom, 2)).toMatchObject({ deeper: cause, shallower: symptom });
  });

  it('does not connect two outages that share only a caller or a busy dependency', () => {
    const orders = { id: 'a', origin: 'orders', services: ['orders', 'gateway', 'shared-db'] };
    const search = { id: 'b', origin: 'search', services: ['search'] };
    expect(connection(graph, orders, search, 2)).toBeNull();
  });
});

describe('namedDependencies', () => {
  const graph = dependencyGraph([
    { service: 'gateway', dependsOn: 'checkout-api' },
    { service: 'gateway', dependsOn: 'search-api' },
    { service: 'gateway', dependsOn: 'catalog-service' },
  ]);

  it('reads the dependency a route, upstream or destination label names', () => {
    expect(namedDependencies(graph, 'gateway', { route: '/checkout' })).toEqual(['checkout-api']);
    expect(namedDependencies(graph, 'gateway', { upstream: 'outbound|8080||search-api.prod.svc' })).toEqual([
      'search-api',
    ]);
    expect(namedDependencies(graph, 'gateway', { destination_service: 'catalog' })).toEqual([
      'catalog-service',
    ]);
  });

  it('ignores generic words, other labels, and services with no dependencies', () => {
    expect(namedDependencies(graph, 'gateway', { route: '/api/v1/health' })).toEqual([]);
    expect(namedDependencies(graph, 'gateway', { team: 'checkout' })).toEqual([]);
    expect(namedDependencies(graph, 'checkout-api', { route: '/search' })).toEqual([]);
  });
});
