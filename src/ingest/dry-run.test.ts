import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_RULES } from '../detect/rules.js';
import type { NormalizedRuleInput } from '../domain/rule.js';
import { storeWithIncident } from '../store/memory.test-support.js';
import type { Store } from '../store/store.js';
import { dryRunRules } from './dry-run.js';

let store: Store;
let at: number;
const HOUR = 3_600_000;
const options = () => ({ since: at - HOUR, until: at + HOUR, reopenGraceMs: 0, autoResolve: true });

beforeEach(async () => {
  // One critical signal on checkout, which the shipped rules paged for (SEV2).
  ({ store, at } = await storeWithIncident('checkout'));
});
afterEach(async () => {
  await store.close();
});

/** The shipped rules with critical signals opening SEV3 instead of SEV2. */
const quieter: NormalizedRuleInput[] = DEFAULT_RULES.map((rule) =>
  rule.name === 'critical-signal' ? { ...rule, severity: 'SEV3' } : rule,
) as NormalizedRuleInput[];

describe('dryRunRules', () => {
  it('replays the stored signals through a candidate rule set and compares it with what happened', async () => {
    const report = await dryRunRules(store, quieter, options());
    expect(report.signals).toBe(1);
    expect(report.truncated).toBe(false);
    expect(report.actual).toEqual({ opened: 1, merged: 0, pages: 1 });
    expect(report.candidate).toMatchObject({ opened: 1, merged: 0, pages: 0 });
    expect(report.candidate.incidents).toMatchObject([
      { severity: 'SEV3', services: ['checkout'], signals: 1 },
    ]);
  });

  it('writes nothing to the store it reads', async () => {
    const before = await store.incidents.list({ limit: 100 });
    await dryRunRules(store, quieter, options());
    expect(await store.incidents.list({ limit: 100 })).toEqual(before);
    expect(await store.signals.count()).toBe(1);
  });

  it('refuses an empty window and a rule set that names a rule twice', async () => {
    await expect(dryRunRules(store, quieter, { ...options(), until: at - HOUR })).rejects.toMatchObject({
      code: 'invalid_request',
      path: 'until',
    });
    await expect(dryRunRules(store, [...quieter, quieter[1]!], options())).rejects.toMatchObject({
      code: 'invalid_request',
      path: 'rules',
    });
  });
});
