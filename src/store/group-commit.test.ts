import { describe, expect, it } from 'vitest';
import { OpxError } from '../domain/errors.js';
import { GroupCommitWriter } from './group-commit.js';
import type { Store, StoreScope } from './store.js';

const driverError = (code: string) => Object.assign(new Error(`driver says ${code}`), { code });

/** A store whose transactions run the work and then commit, or fail at commit as `commit` decides. */
function fakeStore(commit: (transaction: number) => void) {
  let transactions = 0;
  const committed: unknown[] = [];
  const store = {
    async transaction<T>(work: (scope: StoreScope) => Promise<T>): Promise<T> {
      transactions += 1;
      const result = await work({} as StoreScope);
      commit(transactions);
      // A group's transaction returns its items' results as an array; a lone retry returns one.
      committed.push(...(Array.isArray(result) ? result : [result]));
      return result;
    },
  } as unknown as Store;
  return { store, committed, transactions: () => transactions };
}

/** Each caller's outcome, so a test sees every answer the writer gave. */
const settle = (promises: Promise<unknown>[]) => Promise.allSettled(promises);

describe('GroupCommitWriter', () => {
  it('rejects every caller of a group whose commit fails with a store fault, once, and acknowledges none', async () => {
    const full = driverError('SQLITE_FULL');
    const { store, committed, transactions } = fakeStore(() => {
      throw full;
    });
    const writer = new GroupCommitWriter(store);
    const outcomes = await settle([1, 2, 3].map((value) => writer.run(async () => value)));
    expect(outcomes).toEqual([1, 2, 3].map(() => ({ status: 'rejected', reason: full })));
    expect(committed).toEqual([]);
    // The fault is the store's: the items are not retried one by one against a full disk.
    expect(transactions()).toBe(1);
  });

  it('retries the neighbours of a bad request alone and answers each only after its own commit', async () => {
    const { store, committed } = fakeStore(() => undefined);
    const writer = new GroupCommitWriter(store);
    const bad = new OpxError('invalid_request', 'bad item');
    const outcomes = await settle([
      writer.run(async () => 'first'),
      writer.run(async () => {
        throw bad;
      }),
      writer.run(async () => 'third'),
    ]);
    expect(outcomes).toEqual([
      { status: 'fulfilled', value: 'first' },
      { status: 'rejected', reason: bad },
      { status: 'fulfilled', value: 'third' },
    ]);
    expect(committed).toEqual(['first', 'third']);
  });

  it('rejects every caller when the shared commit and each one alone fail (no 2xx for unsaved data)', async () => {
    const broken = driverError('SQLITE_CORRUPT');
    const { store, committed } = fakeStore(() => {
      throw broken;
    });
    const writer = new GroupCommitWriter(store);
    const outcomes = await settle([1, 2].map((value) => writer.run(async () => value)));
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected']);
    expect(committed).toEqual([]);
  });

  it('retries a busy database and acknowledges once the commit succeeds', async () => {
    const { store, committed } = fakeStore((transaction) => {
      if (transaction === 1) throw driverError('SQLITE_BUSY');
    });
    const writer = new GroupCommitWriter(store);
    await expect(writer.run(async () => 'saved')).resolves.toBe('saved');
    expect(committed).toEqual(['saved']);
  });
});
