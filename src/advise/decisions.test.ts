import { afterEach, describe, expect, it } from 'vitest';
import { verifyChain } from '../incidents/service.js';
import { storeWithIncident } from '../store/memory.test-support.js';
import type { Store } from '../store/store.js';
import { decideRecommendation } from './decisions.js';

describe('decideRecommendation', () => {
  let store: Store | undefined;
  afterEach(async () => {
    await store?.close();
  });

  const withRecommendation = async () => {
    const setup = await storeWithIncident();
    store = setup.store;
    await store.transaction((scope) =>
      scope.investigations.addRecommendations([
        {
          id: 'rec_1',
          incidentId: setup.incidentId,
          investigationId: null,
          kind: 'rollback',
          title: 'Roll back checkout 2.4.1',
          rationale: 'the 5xx started with the deploy',
          risk: 'low',
          confidence: 0.8,
          trust: 0.7,
          citations: ['service:checkout'],
          rank: 0,
          status: 'proposed',
          decidedBy: null,
          decidedAt: null,
          decisionReason: null,
          createdAt: setup.at,
        },
      ]),
    );
    return setup;
  };

  it('records a human decision with its reason on the recommendation and the incident chain', async () => {
    const { incidentId } = await withRecommendation();
    const decided = await store!.transaction((scope) =>
      decideRecommendation(scope, 'rec_1', {
        status: 'approved',
        principal: 'token:alice',
        reason: ' rolling back ',
      }),
    );
    expect(decided).toMatchObject({
      status: 'approved',
      decidedBy: 'token:alice',
      decisionReason: 'rolling back',
    });
    expect(await store!.investigations.recommendation('rec_1')).toMatchObject({ status: 'approved' });
    const events = await store!.incidents.events(incidentId);
    expect(events.at(-1)).toMatchObject({
      type: 'recommendation_approved',
      principal: 'token:alice',
      data: { recommendationId: 'rec_1', kind: 'rollback', reason: 'rolling back' },
    });
    expect((await verifyChain(store!, incidentId)).valid).toBe(true);
  });

  it('refuses a second decision, a blank reason and an unknown recommendation', async () => {
    await withRecommendation();
    const decide = (id: string, status: 'approved' | 'rejected', reason: string) =>
      store!.transaction((scope) =>
        decideRecommendation(scope, id, { status, principal: 'token:bob', reason }),
      );
    await expect(decide('rec_1', 'rejected', '   ')).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(decide('rec_nope', 'rejected', 'no')).rejects.toMatchObject({ code: 'not_found' });
    await decide('rec_1', 'rejected', 'not this one');
    await expect(decide('rec_1', 'approved', 'changed my mind')).rejects.toMatchObject({
      code: 'conflict',
      message: expect.stringContaining('already rejected by token:bob'),
    });
  });
});
