import { describe, expect, it } from 'vitest';
import { describeJoin } from './incidents.js';

describe('describeJoin', () => {
  it('draws calls with → and the way back with ←, a sibling turning at the changed dependency', () => {
    expect(
      describeJoin({ kind: 'topology', rule: 'service-topology', relation: 'caller', path: ['web', 'api'] }),
    ).toBe('service-topology: web → api');
    expect(
      describeJoin({
        kind: 'topology',
        rule: 'service-topology',
        relation: 'dependency',
        path: ['db', 'api'],
      }),
    ).toBe('service-topology: db ← api');
    expect(
      describeJoin({
        kind: 'topology',
        rule: 'service-topology',
        relation: 'sibling',
        path: ['exchange', 'aad-keys', 'teams'],
        shared: 'aad-keys',
        change: 'chg_1',
      }),
    ).toBe('service-topology: exchange → aad-keys ← teams (aad-keys changed: chg_1)');
  });
});
