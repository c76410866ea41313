import { describe, expect, it } from 'vitest';
import { OpxError } from '../domain/errors.js';
import { storeFault, storeUnavailable } from './faults.js';

const withCode = (code: string, message = 'driver error') => Object.assign(new Error(message), { code });

describe('storeFault', () => {
  it.each([
    ['SQLITE_BUSY', 'locked'],
    ['SQLITE_BUSY_SNAPSHOT', 'locked'],
    ['SQLITE_LOCKED', 'locked'],
    ['SQLITE_FULL', 'full'],
    ['SQLITE_IOERR', 'io'],
    ['SQLITE_IOERR_WRITE', 'io'],
    ['SQLITE_IOERR_FSYNC', 'io'],
    ['55P03', 'locked'],
    ['57014', 'cancelled'],
    ['53100', 'full'],
    ['53300', 'overloaded'],
    ['57P01', 'unreachable'],
    ['08006', 'unreachable'],
    ['ECONNREFUSED', 'unreachable'],
  ])('treats %s as a store fault (%s)', (code, reason) => {
    expect(storeFault(withCode(code))).toMatchObject({ reason, driverCode: code });
  });

  it.each([
    'SQLITE_CONSTRAINT_UNIQUE',
    'SQLITE_ERROR',
    'SQLITE_CORRUPT',
    '23505',
    '23503',
    '42P01',
    '22P02',
    'invalid_request',
  ])('leaves %s to the caller: it is about the request or a bug, not the store being unavailable', (code) => {
    expect(storeFault(withCode(code))).toBeUndefined();
  });

  it('finds the fault behind wrappers and in an AggregateError (a host with several addresses)', () => {
    const wrapped = new Error('transaction failed', { cause: withCode('SQLITE_FULL') });
    expect(storeFault(wrapped)?.reason).toBe('full');
    const aggregate = Object.assign(new AggregateError([withCode('ECONNREFUSED')], 'connect failed'), {});
    expect(storeFault(aggregate)?.reason).toBe('unreachable');
    expect(storeFault(new Error('Connection terminated unexpectedly'))?.reason).toBe('unreachable');
    expect(storeFault(new TypeError('x is undefined'))).toBeUndefined();
    expect(storeFault(undefined)).toBeUndefined();
  });

  it('becomes a retryable 503 store_unavailable that carries its Retry-After and names the driver code', () => {
    const cause = withCode('SQLITE_FULL', 'database or disk is full');
    const error = storeUnavailable(cause, storeFault(cause)!);
    expect(error).toBeInstanceOf(OpxError);
    expect(error).toMatchObject({ code: 'store_unavailable', status: 503, retryable: true, cause });
    expect(error.message).toMatch(/full \(SQLITE_FULL\)/);
    expect((error.details as { retryAfterSeconds: number }).retryAfterSeconds).toBeGreaterThanOrEqual(1);
  });
});
