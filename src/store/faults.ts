import { OpxError } from '../domain/errors.js';

/** Why the store refused a write for now, and how long a client should wait before trying again. */
export interface StoreFault {
  reason: 'locked' | 'full' | 'io' | 'unreachable' | 'overloaded' | 'cancelled';
  /** The driver's code (SQLITE_FULL, 53100, ECONNREFUSED) for the message and the log. */
  driverCode: string;
  retryAfterSeconds: number;
}

// A lock is usually held for a moment; space, connections and an unreachable server take longer to
// come back, and a crowd of clients retrying every second would only add load.
const LOCK_RETRY_SECONDS = 1;
const RESOURCE_RETRY_SECONDS = 5;

/** SQLite primary result codes; extended codes (SQLITE_IOERR_WRITE, SQLITE_BUSY_SNAPSHOT) share the prefix. */
const SQLITE_FAULTS: [prefix: string, reason: StoreFault['reason']][] = [
  ['SQLITE_BUSY', 'locked'],
  ['SQLITE_LOCKED', 'locked'],
  ['SQLITE_FULL', 'full'],
  ['SQLITE_IOERR', 'io'],
  ['SQLITE_CANTOPEN', 'io'],
  ['SQLITE_PROTOCOL', 'locked'],
];

/** PostgreSQL SQLSTATEs: https://www.postgresql.org/docs/current/errcodes-appendix.html */
const POSTGRES_FAULTS: Record<string, StoreFault['reason']> = {
  '55P03': 'locked', // lock_not_available: lock_timeout expired
  '40001': 'locked', // serialization_failure, still failing after the writer's retries
  '40P01': 'locked', // deadlock_detected, likewise
  '57014': 'cancelled', // query_canceled: statement_timeout
  '53000': 'overloaded', // insufficient_resources
  '53100': 'full', // disk_full
  '53200': 'overloaded', // out_of_memory
  '53300': 'overloaded', // too_many_connections
  '57P01': 'unreachable', // admin_shutdown
  '57P02': 'unreachable', // crash_shutdown
  '57P03': 'unreachable', // cannot_connect_now (starting up, recovering)
  '58030': 'io', // io_error
};

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);

// node-postgres reports a dropped connection, a client it already saw drop, and a pool wait that timed
// out with a message only.
const NETWORK_MESSAGES = [
  /^Connection terminated/,
  /^Client has encountered a connection error and is not queryable/,
  /timeout exceeded when trying to connect/,
];

function classify(error: unknown): StoreFault | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    const sqlite = SQLITE_FAULTS.find(([prefix]) => code === prefix || code.startsWith(`${prefix}_`));
    if (sqlite) return fault(sqlite[1], code);
    const postgres = POSTGRES_FAULTS[code];
    if (postgres) return fault(postgres, code);
    // Class 08: connection exceptions (the server went away mid-session).
    if (/^08[0-9A-Z]{3}$/.test(code)) return fault('unreachable', code);
    if (NETWORK_CODES.has(code)) return fault('unreachable', code);
  }
  const message = (error as { message?: unknown }).message;
  if (typeof message === 'string' && NETWORK_MESSAGES.some((pattern) => pattern.test(message)))
    return fault('unreachable', 'connection lost');
  return undefined;
}

function fault(reason: StoreFault['reason'], driverCode: string): StoreFault {
  return {
    reason,
    driverCode,
    retryAfterSeconds: reason === 'locked' ? LOCK_RETRY_SECONDS : RESOURCE_RETRY_SECONDS,
  };
}

/**
 * The store fault behind `error`, if it is one: a lock held past the timeout, a full disk, an I/O
 * error, a database that cannot be reached or takes no more connections. These say nothing about the
 * request, and the same request can succeed later; anything else (a constraint, a bug) is not one.
 * Causes are followed, because Kysely and OPX wrap driver errors.
 */
export function storeFault(error: unknown): StoreFault | undefined {
  const seen = new Set<unknown>();
  for (let current = error; current !== undefined && !seen.has(current); ) {
    seen.add(current);
    const found = classify(current);
    if (found) return found;
    const nested = current as { cause?: unknown; errors?: unknown };
    // Node reports a refused connection to a host with several addresses as an AggregateError.
    if (Array.isArray(nested.errors)) {
      for (const inner of nested.errors) {
        const innerFault = classify(inner);
        if (innerFault) return innerFault;
      }
    }
    current = typeof current === 'object' && current !== null ? nested.cause : undefined;
  }
  return undefined;
}

const EXPLANATION: Record<StoreFault['reason'], string> = {
  locked: 'the database is locked by another writer',
  full: 'the database or its disk is full',
  io: 'the database cannot read or write its files',
  unreachable: 'the database cannot be reached',
  overloaded: 'the database has no resources left for this request',
  cancelled: 'the database cancelled the statement (timeout)',
};

/**
 * A store fault as the 503 clients see: retryable, with the wait in `details.retryAfterSeconds` (the
 * HTTP edge sends it as Retry-After). The failed transaction did not commit: for a one-transaction write
 * such as ingestion nothing of the request was stored, and sending it again is safe.
 */
export function storeUnavailable(error: unknown, found: StoreFault): OpxError {
  return new OpxError(
    'store_unavailable',
    `${EXPLANATION[found.reason]} (${found.driverCode}); the write did not commit, retry after ${found.retryAfterSeconds} s`,
    { retryable: true, details: { retryAfterSeconds: found.retryAfterSeconds }, cause: error },
  );
}
