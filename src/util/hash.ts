import { createHash } from 'node:crypto';
import { configure } from 'safe-stable-stringify';

// Keys sorted at every depth; otherwise what JSON.stringify writes (undefined properties left out,
// undefined in arrays as null, toJSON honoured). A cycle throws, as it does in JSON.stringify; a
// BigInt is left out where JSON.stringify would throw (nothing OPX hashes holds one).
const stable = configure({ deterministic: true, circularValue: TypeError, bigint: false });

/**
 * JSON with object keys sorted at every depth, so equal values always hash equally. It is the text
 * that evidence bundles, findings and incident events are hashed over, all plain JSON data (they are
 * verified again after a round trip through the database): for such data the bytes must never change.
 */
export function canonicalJson(value: unknown): string {
  return stable(value) as string;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
