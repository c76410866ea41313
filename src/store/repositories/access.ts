import { sql } from 'kysely';
import type { AuditEntry } from '../../domain/analytics.js';
import { newId } from '../../domain/common.js';
import { sha256 } from '../../util/hash.js';
import { fromJson, type RepositoryContext, seal, toJson, unseal } from './base.js';

export type { AuditEntry };

export const SCOPES = ['ingest', 'read', 'respond', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export interface ApiToken {
  id: string;
  name: string;
  scopes: Scope[];
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

export interface StoredResponse {
  route: string;
  requestHash: string;
  statusCode: number;
  body: string;
}

export function tokenRepository({ db }: RepositoryContext) {
  return {
    async create(
      name: string,
      tokenHash: string,
      scopes: readonly Scope[],
      now: number = Date.now(),
    ): Promise<ApiToken> {
      const row = {
        id: newId('token', now),
        name,
        token_hash: tokenHash,
        scopes: toJson([...new Set(scopes)]),
        created_at: now,
        last_used_at: null,
        revoked_at: null,
      };
      await db.insertInto('api_tokens').values(row).execute();
      return {
        id: row.id,
        name,
        scopes: [...new Set(scopes)],
        createdAt: now,
        lastUsedAt: null,
        revokedAt: null,
      };
    },

    async findActiveByHash(tokenHash: string): Promise<ApiToken | undefined> {
      const row = await db
        .selectFrom('api_tokens')
        .selectAll()
        .where('token_hash', '=', tokenHash)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return (
        row && {
          id: row.id,
          name: row.name,
          scopes: fromJson(row.scopes, []),
          createdAt: row.created_at,
          lastUsedAt: row.last_used_at,
          revokedAt: row.revoked_at,
        }
      );
    },

    async list(): Promise<ApiToken[]> {
      const rows = await db.selectFrom('api_tokens').selectAll().orderBy('created_at').execute();
      return rows.map((row) => ({
        id: row.id,
        name: row.name,
        scopes: fromJson(row.scopes, []),
        createdAt: row.created_at,
        lastUsedAt: row.last_used_at,
        revokedAt: row.revoked_at,
      }));
    },

    /** Which of `ids` are tokens that still work (exist and are not revoked). */
    async activeIds(ids: readonly string[]): Promise<Set<string>> {
      if (ids.length === 0) return new Set();
      const rows = await db
        .selectFrom('api_tokens')
        .select('id')
        .where('id', 'in', [...ids])
        .where('revoked_at', 'is', null)
        .execute();
      return new Set(rows.map((row) => row.id));
    },

    async revoke(idOrName: string, now: number = Date.now()): Promise<number> {
      const result = await db
        .updateTable('api_tokens')
        .set({ revoked_at: now })
        .where((eb) => eb.or([eb('id', '=', idOrName), eb('name', '=', idOrName)]))
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    },

    async count(): Promise<number> {
      const row = await db
        .selectFrom('api_tokens')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },
  };
}
export type TokenRepository = ReturnType<typeof tokenRepository>;

/**
 * The key as stored: a digest, because a client may build its Idempotency-Key from anything (an
 * alert's text, a user's address) and the database keeps no sender text it does not need.
 */
function storedKey(key: string): string {
  return `sha256:${sha256(key)}`;
}

export function idempotencyRepository(context: RepositoryContext) {
  const { db } = context;
  return {
    async get(principal: string, key: string): Promise<StoredResponse | undefined> {
      const row = await db
        .selectFrom('idempotency')
        .selectAll()
        .where('principal', '=', principal)
        // Rows stored before keys were digested hold the key itself; they age out with the retention.
        .where('key', 'in', [storedKey(key), key])
        .executeTakeFirst();
      return (
        row && {
          route: row.route,
          requestHash: row.request_hash,
          statusCode: row.status_code,
          body: unseal(context, row.response_body, 'idempotency.response_body'),
        }
      );
    },

    /** Stores a first response; returns false when another writer stored one for the key first. */
    async put(
      principal: string,
      key: string,
      response: StoredResponse,
      now: number = Date.now(),
    ): Promise<boolean> {
      const result = await db
        .insertInto('idempotency')
        .values({
          principal,
          key: storedKey(key),
          route: response.route,
          request_hash: response.requestHash,
          status_code: response.statusCode,
          // A replayed answer can echo a note or a decision's reason: sealed like them.
          response_body: seal(context, response.body, 'idempotency.response_body'),
          created_at: now,
        })
        .onConflict((conflict) => conflict.columns(['principal', 'key']).doNothing())
        .executeTakeFirst();
      return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
    },

    async purgeOlderThan(cutoff: number): Promise<number> {
      const result = await db.deleteFrom('idempotency').where('created_at', '<', cutoff).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
export type IdempotencyRepository = ReturnType<typeof idempotencyRepository>;

export function auditRepository({ db, dialect }: RepositoryContext) {
  return {
    async record(entry: Omit<AuditEntry, 'id'>): Promise<void> {
      await db
        .insertInto('audit_log')
        .values({
          id: newId('event', entry.at),
          principal: entry.principal,
          action: entry.action,
          target: entry.target,
          at: entry.at,
          detail: toJson(entry.detail),
        })
        .execute();
    },

    async list(
      options: {
        limit?: number;
        since?: number;
        until?: number;
        principal?: string;
        target?: string;
        /** Entries whose action contains this text, e.g. `/notes` or `DELETE`. */
        action?: string;
      } = {},
    ): Promise<AuditEntry[]> {
      let query = db.selectFrom('audit_log').selectAll();
      if (options.since !== undefined) query = query.where('at', '>=', options.since);
      if (options.until !== undefined) query = query.where('at', '<', options.until);
      if (options.principal !== undefined) query = query.where('principal', '=', options.principal);
      if (options.target !== undefined) query = query.where('target', '=', options.target);
      if (options.action !== undefined) {
        // A plain substring test: LIKE would read % and _ in the filter as wildcards.
        const found =
          dialect === 'postgres'
            ? sql<number>`strpos(action, ${options.action})`
            : sql<number>`instr(action, ${options.action})`;
        query = query.where(found, '>', 0);
      }
      const rows = await query
        .orderBy('at', 'desc')
        .orderBy('id', 'desc')
        .limit(options.limit ?? 100)
        .execute();
      return rows.map((row) => ({
        id: row.id,
        principal: row.principal,
        action: row.action,
        target: row.target,
        at: row.at,
        detail: fromJson(row.detail, {}),
      }));
    },
  };
}
export type AuditRepository = ReturnType<typeof auditRepository>;
