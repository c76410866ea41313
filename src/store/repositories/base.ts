import type { Kysely } from 'kysely';
import { OpxError } from '../../domain/errors.js';
import type { Dialect } from '../connection.js';
import { type FieldCipher, isEncryptedText } from '../crypto.js';
import type { Database } from '../schema.js';

export interface RepositoryContext {
  db: Kysely<Database>;
  dialect: Dialect;
  /** Encrypts the sensitive columns (src/store/crypto.ts); without it they are written as given. */
  cipher?: FieldCipher | undefined;
  /**
   * Told when this scope queues a job or makes one due again, with when it falls due: the store
   * passes it on to this process's workers once the write has committed (Store.onJobQueued).
   */
  jobQueued?: ((runAt: number) => void) | undefined;
}

/** A sensitive column's value as stored: encrypted when the store has keys. */
export function seal(context: RepositoryContext, value: string, column: string): string;
export function seal(context: RepositoryContext, value: string | null, column: string): string | null;
export function seal(context: RepositoryContext, value: string | null, column: string): string | null {
  if (value === null || !context.cipher) return value;
  return context.cipher.encrypt(value, column);
}

/** A sensitive column's value as read: decrypted, or as stored when it predates encryption. */
export function unseal(context: RepositoryContext, value: string, column: string): string;
export function unseal(context: RepositoryContext, value: string | null, column: string): string | null;
export function unseal(context: RepositoryContext, value: string | null, column: string): string | null {
  if (value === null) return value;
  if (context.cipher) return context.cipher.decrypt(value, column);
  if (isEncryptedText(value))
    throw new OpxError('config_invalid', `${column} is encrypted and this store was opened without keys`);
  return value;
}

export function toJson(value: unknown): string {
  return JSON.stringify(value ?? null);
}

export function fromJson<T>(text: string | null | undefined, fallback: T): T {
  if (text === null || text === undefined || text === '') return fallback;
  return JSON.parse(text) as T;
}

export const flag = (value: boolean): number => (value ? 1 : 0);

/** SQLite and PostgreSQL both cap bound parameters per statement; chunk multi-row writes under that. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let index = 0; index < items.length; index += size) out.push(items.slice(index, index + size));
  return out;
}
