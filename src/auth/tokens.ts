import { randomBytes, timingSafeEqual } from 'node:crypto';
import { OpxError } from '../domain/errors.js';
import { type ApiToken, SCOPES, type Scope } from '../store/repositories/access.js';
import type { Store, StoreScope } from '../store/store.js';
import { sha256 } from '../util/hash.js';

export interface Principal {
  /** Who acted, as recorded in events and the audit log: `token:<name>` or `admin:bootstrap`. */
  name: string;
  tokenId: string | null;
  scopes: readonly Scope[];
}

export function generateToken(): string {
  // 32 characters in all, so a token also fits PagerDuty's 32-character routing_key field.
  return `opx_${randomBytes(21).toString('base64url')}`;
}

/** Tokens are stored as SHA-256 digests: they are long random strings, so a slow KDF adds nothing. */
export function hashToken(token: string): string {
  return sha256(token);
}

export function parseScopes(values: readonly string[]): Scope[] {
  const out: Scope[] = [];
  for (const value of values
    .flatMap((item) => item.split(','))
    .map((item) => item.trim())
    .filter(Boolean)) {
    if (!(SCOPES as readonly string[]).includes(value)) {
      throw new OpxError(
        'invalid_request',
        `unknown scope ${JSON.stringify(value)}: use ${SCOPES.join(', ')}`,
        { path: 'scopes' },
      );
    }
    out.push(value as Scope);
  }
  if (out.length === 0)
    throw new OpxError('invalid_request', `give at least one scope: ${SCOPES.join(', ')}`, {
      path: 'scopes',
    });
  return [...new Set(out)];
}

export function hasScope(principal: Principal, needed: Scope): boolean {
  return principal.scopes.includes('admin') || principal.scopes.includes(needed);
}

export async function createToken(
  scope: StoreScope,
  name: string,
  scopes: readonly Scope[],
): Promise<{ token: string; record: ApiToken }> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(name)) {
    throw new OpxError('invalid_request', 'token name must be 1-100 letters, digits, ".", "_" or "-"', {
      path: 'name',
    });
  }
  // The name is what the audit log and the logs show: two live tokens of one name could not be told apart.
  if ((await scope.tokens.list()).some((token) => token.name === name && token.revokedAt === null)) {
    throw new OpxError(
      'conflict',
      `a token named "${name}" already exists; revoke it first (\`opx tokens revoke ${name}\`) or pick another name`,
      { path: 'name' },
    );
  }
  const token = generateToken();
  const record = await scope.tokens.create(name, hashToken(token), scopes);
  return { token, record };
}

/**
 * Makes sure an admin can get in. With OPX_ADMIN_TOKEN set, that token is the bootstrap admin. Without
 * it, the first start on an empty store generates one and returns it so the caller can print it once.
 */
export async function ensureBootstrapAdmin(
  store: Store,
  adminToken: string | undefined,
): Promise<string | undefined> {
  if (adminToken) return undefined;
  if ((await store.tokens.count()) > 0) return undefined;
  const { token } = await createToken(store, 'bootstrap-admin', ['admin']);
  return token;
}

/** Resolves bearer tokens to principals, caching hits briefly so auth does not queue behind writes. */
export class TokenVerifier {
  readonly #store: Store;
  readonly #adminHash: Buffer | undefined;
  readonly #cache = new Map<string, { principal: Principal | null; expires: number }>();
  static readonly CACHE_MS = 30_000;

  constructor(store: Store, adminToken: string | undefined) {
    this.#store = store;
    this.#adminHash = adminToken ? Buffer.from(hashToken(adminToken), 'hex') : undefined;
  }

  async verify(token: string): Promise<Principal | null> {
    const digest = hashToken(token);
    if (this.#adminHash && timingSafeEqual(Buffer.from(digest, 'hex'), this.#adminHash)) {
      return { name: 'admin:bootstrap', tokenId: null, scopes: ['admin'] };
    }
    const now = Date.now();
    const cached = this.#cache.get(digest);
    if (cached && cached.expires > now) return cached.principal;
    const record = await this.#store.tokens.findActiveByHash(digest);
    const principal = record
      ? { name: `token:${record.name}`, tokenId: record.id, scopes: record.scopes }
      : null;
    if (this.#cache.size > 10_000) this.#cache.clear();
    this.#cache.set(digest, { principal, expires: now + TokenVerifier.CACHE_MS });
    return principal;
  }

  /** Forget cached answers, e.g. after a revoke in this process. */
  invalidate(): void {
    this.#cache.clear();
  }
}
