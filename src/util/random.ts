/**
 * Bytes from the platform CSPRNG, drawn 4 KiB at a time. Asking the CSPRNG for a few bytes at a time
 * (ulid takes one per character of an id; every sealed value takes a 12-byte nonce) costs a call each,
 * 3 % of the server's CPU profile under ingest load. Each byte is handed out once, so the values are
 * as unpredictable as the source's.
 */
const pool = new Uint8Array(4096);
let at = pool.length;

/** Refills the pool when fewer than `count` bytes are left in it. */
function reserve(count: number): void {
  if (at + count > pool.length) {
    globalThis.crypto.getRandomValues(pool);
    at = 0;
  }
}

/** `count` fresh random bytes (count ≤ 4096). */
export function randomBytesPooled(count: number): Uint8Array {
  if (count > pool.length) throw new RangeError(`at most ${pool.length} pooled random bytes at once`);
  reserve(count);
  const out = pool.slice(at, at + count);
  at += count;
  return out;
}

/** A random number in [0, 1) with 8 bits of resolution: one pooled byte / 256 (ulid's own mapping). */
export function randomByteFraction(): number {
  reserve(1);
  return pool[at++]! / 256;
}
