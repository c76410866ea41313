/**
 * Encryption at rest for the columns that hold free text an attacker with a copy of the database
 * should not read: raw payloads, notes, model prompts and answers, recommendation reasons, and the
 * investigation state in checkpoints.
 *
 * AES-256-GCM with a random 96-bit nonce per value. Each value names the id of its key, so keys
 * rotate without downtime: new writes use the first key, reads use whichever key a value names, and
 * `opx keys reencrypt` moves old rows to the new key. The column a value belongs to is bound in as
 * associated data, so a value copied into another column does not decrypt.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { OpxError } from '../domain/errors.js';
import { randomBytesPooled } from '../util/random.js';

/** Text values: `enc:v1:<key id>:<base64url(nonce ‖ tag ‖ ciphertext)>`. */
const TEXT_PREFIX = 'enc:v1:';
const TEXT_PREFIX_BYTES = Buffer.from(TEXT_PREFIX, 'ascii');
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID = /^[A-Za-z0-9_.-]{1,32}$/;

export interface EncryptionKey {
  id: string;
  key: Buffer;
}

export class FieldCipher {
  readonly #keys: Map<string, Buffer>;
  readonly activeKeyId: string;

  constructor(keys: readonly EncryptionKey[]) {
    if (keys.length === 0) throw new OpxError('config_invalid', 'encryption needs at least one key');
    this.#keys = new Map();
    for (const { id, key } of keys) {
      if (!KEY_ID.test(id))
        throw new OpxError(
          'config_invalid',
          `encryption key id ${JSON.stringify(id)} must be 1-32 of A-Z a-z 0-9 _ . -`,
        );
      if (key.length !== 32)
        throw new OpxError(
          'config_invalid',
          `encryption key ${id} must be 32 bytes (base64), not ${key.length}`,
        );
      if (this.#keys.has(id)) throw new OpxError('config_invalid', `encryption key id ${id} is listed twice`);
      this.#keys.set(id, key);
    }
    this.activeKeyId = keys[0]!.id;
  }

  get keyIds(): string[] {
    return [...this.#keys.keys()];
  }

  #key(id: string): Buffer {
    const key = this.#keys.get(id);
    if (!key)
      throw new OpxError(
        'config_invalid',
        `a stored value is encrypted with key ${JSON.stringify(id)}, which is not configured (OPX_ENCRYPTION_KEYS); keep old keys listed until \`opx keys reencrypt\` has run`,
      );
    return key;
  }

  #seal(plaintext: Buffer, context: string): { nonce: Buffer; tag: Buffer; body: Buffer } {
    const fresh = randomBytesPooled(NONCE_BYTES);
    const nonce = Buffer.from(fresh.buffer, fresh.byteOffset, fresh.length);
    const cipher = createCipheriv('aes-256-gcm', this.#key(this.activeKeyId), nonce);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return { nonce, tag: cipher.getAuthTag(), body };
  }

  #open(keyId: string, nonce: Buffer, tag: Buffer, body: Buffer, context: string): Buffer {
    const decipher = createDecipheriv('aes-256-gcm', this.#key(keyId), nonce);
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(body), decipher.final()]);
    } catch {
      throw new OpxError(
        'internal',
        `a stored ${context} value failed authentication with key ${keyId}: it was altered or belongs elsewhere`,
      );
    }
  }

  #pack(plaintext: Buffer, context: string): string {
    const { nonce, tag, body } = this.#seal(plaintext, context);
    return `${TEXT_PREFIX}${this.activeKeyId}:${Buffer.concat([nonce, tag, body]).toString('base64url')}`;
  }

  #unpack(value: string, context: string): Buffer {
    const separator = value.indexOf(':', TEXT_PREFIX.length);
    const keyId = value.slice(TEXT_PREFIX.length, separator);
    const packed = Buffer.from(value.slice(separator + 1), 'base64url');
    return this.#open(
      keyId,
      packed.subarray(0, NONCE_BYTES),
      packed.subarray(NONCE_BYTES, NONCE_BYTES + TAG_BYTES),
      packed.subarray(NONCE_BYTES + TAG_BYTES),
      context,
    );
  }

  encrypt(plaintext: string, context: string): string {
    return this.#pack(Buffer.from(plaintext, 'utf8'), context);
  }

  decrypt(value: string, context: string): string {
    return value.startsWith(TEXT_PREFIX) ? this.#unpack(value, context).toString('utf8') : value;
  }

  /**
   * Binary values are sealed into the same ASCII form as text: LangGraph's SQLite saver reads some
   * values back through `CAST(value AS TEXT)`, which would mangle raw ciphertext.
   */
  encryptBytes(plaintext: Uint8Array, context: string): Uint8Array {
    return Buffer.from(this.#pack(Buffer.from(plaintext), context), 'ascii');
  }

  decryptBytes(value: Uint8Array, context: string): Uint8Array {
    const data = Buffer.from(value);
    if (!data.subarray(0, TEXT_PREFIX.length).equals(TEXT_PREFIX_BYTES)) return value;
    return this.#unpack(data.toString('ascii'), context);
  }

  /** The key id a stored text value names; undefined when it is plaintext. */
  static keyIdOf(value: string): string | undefined {
    if (!value.startsWith(TEXT_PREFIX)) return undefined;
    return value.slice(TEXT_PREFIX.length, value.indexOf(':', TEXT_PREFIX.length));
  }
}

export function isEncryptedText(value: string): boolean {
  return value.startsWith(TEXT_PREFIX);
}

/** Reads `id:base64key` pairs, separated by commas or new lines; `#` starts a comment line. */
export function parseKeys(text: string, origin: string): EncryptionKey[] {
  const keys: EncryptionKey[] = [];
  for (const item of text.split(/[\n,]/)) {
    const entry = item.trim();
    if (entry === '' || entry.startsWith('#')) continue;
    const colon = entry.indexOf(':');
    if (colon <= 0)
      throw new OpxError(
        'config_invalid',
        `${origin}: each key is "id:base64key" (generate one with \`opx keys generate\`)`,
      );
    keys.push({ id: entry.slice(0, colon), key: Buffer.from(entry.slice(colon + 1), 'base64') });
  }
  if (keys.length === 0) throw new OpxError('config_invalid', `${origin} holds no key`);
  return keys;
}

/** A fresh key entry: the id is the UTC date, which also tells an operator how old it is. */
export function generateKeyEntry(now = new Date()): string {
  const id = `k${now.toISOString().slice(0, 10).replaceAll('-', '')}${randomBytes(2).toString('hex')}`;
  return `${id}:${randomBytes(32).toString('base64')}`;
}

/**
 * The cipher a configuration names: OPX_ENCRYPTION_KEYS, else the key file, else
 * `<dataDir>/encryption.keys`, created with one new key on first use (readable by its owner only).
 */
export function loadCipher(config: {
  encryptionKeys?: string | undefined;
  encryptionKeyFile?: string | undefined;
  dataDir: string;
}): FieldCipher {
  if (config.encryptionKeys !== undefined)
    return new FieldCipher(parseKeys(config.encryptionKeys, 'OPX_ENCRYPTION_KEYS'));
  const file = config.encryptionKeyFile ?? path.join(config.dataDir, 'encryption.keys');
  if (!existsSync(file)) {
    if (config.encryptionKeyFile !== undefined)
      throw new OpxError('config_invalid', `the encryption key file ${file} does not exist`);
    mkdirSync(path.dirname(file), { recursive: true });
    try {
      writeFileSync(
        file,
        `# OPX encryption keys: the first encrypts new values; keep older ones until \`opx keys reencrypt\`.\n${generateKeyEntry()}\n`,
        { mode: 0o600, flag: 'wx' },
      );
      chmodSync(file, 0o600);
    } catch (error) {
      // Another process sharing the data directory created it first: use that one.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  return new FieldCipher(parseKeys(readFileSync(file, 'utf8'), file));
}
