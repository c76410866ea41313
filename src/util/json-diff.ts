import { canonicalJson } from './hash.js';

export interface JsonDifference {
  /** Where the outputs differ, as `findings[5].data.recommendations[0].title`. */
  path: string;
  stored: unknown;
  replayed: unknown;
}

const MAX_DIFFERENCES = 100;

/** Structural differences between two JSON values, by path (at most MAX_DIFFERENCES). */
export function jsonDifferences(stored: unknown, replayed: unknown, path = ''): JsonDifference[] {
  const out: JsonDifference[] = [];
  const walk = (left: unknown, right: unknown, at: string) => {
    if (out.length >= MAX_DIFFERENCES) return;
    const bothObjects =
      typeof left === 'object' && left !== null && typeof right === 'object' && right !== null;
    if (!bothObjects || Array.isArray(left) !== Array.isArray(right)) {
      if (canonicalJson(left) !== canonicalJson(right)) out.push({ path: at, stored: left, replayed: right });
      return;
    }
    if (Array.isArray(left) && Array.isArray(right)) {
      for (let index = 0; index < Math.max(left.length, right.length); index += 1)
        walk(left[index], right[index], `${at}[${index}]`);
      return;
    }
    const a = left as Record<string, unknown>;
    const b = right as Record<string, unknown>;
    for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort())
      walk(a[key], b[key], at === '' ? key : `${at}.${key}`);
  };
  walk(stored, replayed, path);
  return out;
}
