import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { storeWithIncident } from '../store/memory.test-support.js';
import type { Store } from '../store/store.js';
import { addNote, changeSeverity, transitionIncident, verifyChain } from './service.js';

let store: Store;
let id: string;
let at: number;

beforeEach(async () => {
  ({ store, incidentId: id, at } = await storeWithIncident('checkout'));
});
afterEach(async () => {
  await store.close();
});

const verify = () => store.transaction((scope) => verifyChain(scope, id));

describe('the incident chain', () => {
  it('appends a transition, a note and a severity change, and the chain still verifies', async () => {
    await store.transaction((scope) =>
      transitionIncident(scope, id, 'ACKNOWLEDGED', { principal: 'alice', at: at + 1000 }),
    );
    await store.transaction((scope) => addNote(scope, id, 'rolling back 4.2.0', 'alice', at + 2000));
    const raised = await store.transaction((scope) =>
      changeSeverity(scope, id, 'SEV1', { principal: 'alice', at: at + 3000, reason: 'checkout is down' }),
    );
    expect(raised.severity).toBe('SEV1');
    const types = (await store.incidents.events(id)).map((event) => event.type);
    expect(types.slice(-3)).toEqual(['status_changed', 'note_added', 'severity_changed']);
    expect(await verify()).toMatchObject({ valid: true, events: types.length });
  });

  it('shows an event edited after the fact, at its sequence number', async () => {
    await store.transaction((scope) => addNote(scope, id, 'first look: the deploy', 'alice', at + 1000));
    const note = (await store.incidents.events(id)).at(-1)!;
    await store.db
      .updateTable('incident_events')
      .set({ principal: 'mallory' })
      .where('incident_id', '=', id)
      .where('seq', '=', note.seq)
      .execute();
    const verification = await verify();
    expect(verification.valid).toBe(false);
    expect(verification.brokenAt?.seq).toBe(note.seq);
  });

  it('refuses a move the lifecycle does not allow and writes nothing', async () => {
    const before = (await store.incidents.events(id)).length;
    await expect(
      store.transaction((scope) =>
        transitionIncident(scope, id, 'CLOSED', { principal: 'alice', at: at + 1 }),
      ),
    ).rejects.toMatchObject({ code: 'illegal_transition' });
    expect(await store.incidents.events(id)).toHaveLength(before);
  });
});
