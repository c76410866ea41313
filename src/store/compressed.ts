import { brotliCompressSync, brotliDecompressSync, constants } from 'node:zlib';
import { OpxError } from '../domain/errors.js';

/**
 * Large JSON values (an evidence bundle is 100–300 KB, mostly the past incidents it carries) are
 * stored as `br:` followed by the base64 of their Brotli compression at quality 1: about an eighth of
 * the size, and cheaper to compress and then seal than sealing the JSON as it is. The prefix cannot
 * begin JSON, so a value stored before compression is returned unchanged. The text is then sealed
 * like any other column value (src/store/crypto.ts), so key rotation re-seals it as text.
 */
const PREFIX = 'br:';

export function compressText(text: string): string {
  const bytes = Buffer.from(text, 'utf8');
  const packed = brotliCompressSync(bytes, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: 1,
      [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
      [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
    },
  });
  return `${PREFIX}${packed.toString('base64')}`;
}

/** The text `compressText` was given; any other value (JSON stored before compression) as it is. */
export function expandText(value: string, column: string): string {
  if (!value.startsWith(PREFIX)) return value;
  try {
    return brotliDecompressSync(Buffer.from(value.slice(PREFIX.length), 'base64')).toString('utf8');
  } catch {
    throw new OpxError('internal', `a stored ${column} value is not valid compressed text: it was altered`);
  }
}
