import { afterAll, beforeAll, expect } from 'vitest';
import type { Store } from '../store.js';

/** A migrated, empty store and the means to throw it away again. */
export interface StoreUnderTest {
  store: Store;
  cleanup(): Promise<void>;
}

/** Every call must yield a store of its own: specs rely on nothing written by another block. */
export type StoreFactory = () => Promise<StoreUnderTest>;

/**
 * Opens one store for the enclosing `describe` and closes it afterwards. Tests sharing it keep to
 * keys, services or names of their own so that they stay independent of their order.
 */
export function useStore(init: StoreFactory): () => Store {
  let current: StoreUnderTest | undefined;
  beforeAll(async () => {
    current = await init();
  });
  afterAll(async () => {
    await current?.cleanup();
    current = undefined;
  });
  return () => {
    if (!current) throw new Error('the conformance store is only open inside its describe block');
    return current.store;
  };
}

/** For assertions about a whole table (ordering, global counts, purges) that other tests would disturb. */
export async function withFreshStore<T>(init: StoreFactory, work: (store: Store) => Promise<T>): Promise<T> {
  const { store, cleanup } = await init();
  try {
    return await work(store);
  } finally {
    await cleanup();
  }
}

let counter = 0;

/** A name no other test in the run uses, so tests sharing a store cannot see each other's rows. */
export function unique(prefix: string): string {
  counter += 1;
  return `${prefix}-${counter}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Resolves to what `work` rejected with; fails the test when it did not reject. */
export async function rejection(work: Promise<unknown>): Promise<unknown> {
  try {
    await work;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

// Driver codes rather than message text: messages differ between versions and locales.
const UNIQUE_VIOLATION_CODES = ['23505', 'SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_CONSTRAINT_PRIMARYKEY'];

export async function expectUniqueViolation(work: Promise<unknown>): Promise<void> {
  const error = await rejection(work);
  const code = (error as { code?: unknown } | null)?.code;
  expect(UNIQUE_VIOLATION_CODES, `expected a unique-key violation, got: ${String(error)}`).toContain(code);
}
