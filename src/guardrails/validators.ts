/**
 * Checksum and structure checks used by the recognizers. Each takes the matched text (separators
 * allowed where the format has them) and answers whether it can be a real identifier of that kind.
 */

import { isIP } from 'node:net';

const digitsOf = (value: string): string => value.replace(/\D/g, '');

/** Luhn (mod 10) over the digits of `value`; separators are ignored. */
export function luhn(value: string): boolean {
  const digits = digitsOf(value);
  if (digits.length < 2) return false;
  let sum = 0;
  for (let index = 0; index < digits.length; index += 1) {
    let digit = digits.charCodeAt(digits.length - 1 - index) - 48;
    if (index % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

/** A card number: 12–19 digits, one kind of separator used consistently (or none), and Luhn. */
export function creditCard(value: string): boolean {
  const digits = digitsOf(value);
  if (digits.length < 12 || digits.length > 19) return false;
  const separators = new Set(value.replace(/\d/g, ''));
  if (separators.size > 1) return false;
  // Separated numbers are printed in groups of four (Amex and Diners: 4-6-5, 4-6-4).
  if (separators.size === 1) {
    const groups = value.split(/[ .-]/).map((group) => group.length);
    const fours = groups.slice(0, -1).every((length) => length === 4) && (groups.at(-1) ?? 0) <= 4;
    const amex =
      groups.length === 3 && groups[0] === 4 && groups[1] === 6 && (groups[2] === 5 || groups[2] === 4);
    if (!fours && !amex) return false;
  }
  if (/^(\d)\1+$/.test(digits)) return false;
  return luhn(digits);
}

/** Issuer prefixes (IIN ranges) of the major card networks; a match here raises the score. */
export function knownCardPrefix(value: string): boolean {
  const digits = digitsOf(value);
  const length = digits.length;
  const prefix = (n: number) => Number(digits.slice(0, n));
  if (digits.startsWith('4')) return length === 13 || length === 16 || length === 19; // Visa
  if (prefix(2) >= 51 && prefix(2) <= 55) return length === 16; // Mastercard
  if (prefix(4) >= 2221 && prefix(4) <= 2720) return length === 16; // Mastercard 2-series
  if (prefix(2) === 34 || prefix(2) === 37) return length === 15; // American Express
  if (digits.startsWith('6011') || digits.startsWith('65') || (prefix(3) >= 644 && prefix(3) <= 649))
    return length >= 16; // Discover
  if (prefix(4) >= 3528 && prefix(4) <= 3589) return length >= 16; // JCB
  if (digits.startsWith('2131') || digits.startsWith('1800')) return length === 15; // JCB (old)
  if (prefix(3) >= 300 && prefix(3) <= 305) return length === 14; // Diners Club
  if (digits.startsWith('36') || digits.startsWith('38')) return length === 14; // Diners Club
  if (/^(?:50|5[6-9]|6\d)/.test(digits)) return length >= 12; // Maestro and domestic schemes
  if (digits.startsWith('0')) return length === 12; // Maestro (UK) test ranges
  return false;
}

/**
 * US Social Security Number rules published by the SSA: the area (first three digits) is not 000,
 * 666 or 900–999, the group (middle two) is not 00, the serial (last four) is not 0000.
 */
export function usSsn(value: string): boolean {
  const digits = digitsOf(value);
  if (digits.length !== 9) return false;
  const area = digits.slice(0, 3);
  if (area === '000' || area === '666' || area.startsWith('9')) return false;
  if (digits.slice(3, 5) === '00') return false;
  if (digits.slice(5) === '0000') return false;
  // Values that only ever appear as examples or placeholders.
  if (digits === '123456789' || digits === '078051120' || /^(\d)\1{8}$/.test(digits)) return false;
  return true;
}

/**
 * ABA routing transit number: nine digits whose first two are a Federal Reserve prefix
 * (00–12, 21–32, 61–72, 80) and whose weighted sum 3-7-1 is a multiple of 10.
 */
export function abaRouting(value: string): boolean {
  const digits = digitsOf(value);
  if (digits.length !== 9 || /^0+$/.test(digits)) return false;
  const prefix = Number(digits.slice(0, 2));
  const validPrefix =
    prefix <= 12 || (prefix >= 21 && prefix <= 32) || (prefix >= 61 && prefix <= 72) || prefix === 80;
  if (!validPrefix) return false;
  const d = [...digits].map(Number);
  const sum = 3 * (d[0]! + d[3]! + d[6]!) + 7 * (d[1]! + d[4]! + d[7]!) + (d[2]! + d[5]! + d[8]!);
  return sum % 10 === 0;
}

/** IBAN lengths per country (ISO 13616 registry); a listed country must have exactly this length. */
const IBAN_LENGTHS: Record<string, number> = {
  AD: 24,
  AE: 23,
  AL: 28,
  AT: 20,
  AZ: 28,
  BA: 20,
  BE: 16,
  BG: 22,
  BH: 22,
  BR: 29,
  BY: 28,
  CH: 21,
  CR: 22,
  CY: 28,
  CZ: 24,
  DE: 22,
  DK: 18,
  DO: 28,
  EE: 20,
  EG: 29,
  ES: 24,
  FI: 18,
  FO: 18,
  FR: 27,
  GB: 22,
  GE: 22,
  GI: 23,
  GL: 18,
  GR: 27,
  GT: 28,
  HR: 21,
  HU: 28,
  IE: 22,
  IL: 23,
  IQ: 23,
  IS: 26,
  IT: 27,
  JO: 30,
  KW: 30,
  KZ: 20,
  LB: 28,
  LC: 32,
  LI: 21,
  LT: 20,
  LU: 20,
  LV: 21,
  MC: 27,
  MD: 24,
  ME: 22,
  MK: 19,
  MR: 27,
  MT: 31,
  MU: 30,
  NL: 18,
  NO: 15,
  PK: 24,
  PL: 28,
  PS: 29,
  PT: 25,
  QA: 29,
  RO: 24,
  RS: 22,
  SA: 24,
  SC: 31,
  SE: 24,
  SI: 19,
  SK: 24,
  SM: 27,
  ST: 25,
  SV: 28,
  TL: 23,
  TN: 24,
  TR: 26,
  UA: 29,
  VA: 22,
  VG: 24,
  XK: 20,
};

/** IBAN: country code, two check digits, the account; length per country, and mod-97 equals 1. */
export function iban(value: string): boolean {
  const compact = value.replace(/[\s-]/g, '').toUpperCase();
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$/.test(compact)) return false;
  const expected = IBAN_LENGTHS[compact.slice(0, 2)];
  if (expected !== undefined && compact.length !== expected) return false;
  const rearranged = compact.slice(4) + compact.slice(0, 4);
  let remainder = 0;
  for (const char of rearranged) {
    const code = char.charCodeAt(0);
    const chunk = code >= 65 ? String(code - 55) : char;
    for (const digit of chunk) remainder = (remainder * 10 + (digit.charCodeAt(0) - 48)) % 97;
  }
  return remainder === 1;
}

/** An IPv4 address other than the unspecified 0.0.0.0 (a bind address, not a host). */
export function ipv4(value: string): boolean {
  return value !== '0.0.0.0';
}

/** A complete IPv6 address (node's own parser); needs `::` or all eight groups. */
export function ipv6(value: string): boolean {
  if (isIP(value) !== 6 || value === '::' || value === '::1') return false;
  return value.includes('::') || value.split(':').length === 8 || /\d+\.\d+\.\d+\.\d+$/.test(value);
}

const VIN_VALUES: Record<string, number> = Object.fromEntries(
  [...'ABCDEFGHJKLMNPRSTUVWXYZ'].map((letter) => [
    letter,
    Number('12345678123457923456789'[[...'ABCDEFGHJKLMNPRSTUVWXYZ'].indexOf(letter)]),
  ]),
);
const VIN_WEIGHTS = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];

/** North American VIN: 17 characters without I, O, Q and the check digit in position 9. */
export function vin(value: string): boolean {
  const upper = value.toUpperCase();
  if (!/^[A-HJ-NPR-Z0-9]{17}$/.test(upper)) return false;
  if (!/\d/.test(upper) || !/[A-Z]/.test(upper)) return false;
  let sum = 0;
  for (let index = 0; index < 17; index += 1) {
    const char = upper[index]!;
    const number = /\d/.test(char) ? Number(char) : (VIN_VALUES[char] ?? 0);
    sum += number * VIN_WEIGHTS[index]!;
  }
  const check = sum % 11 === 10 ? 'X' : String(sum % 11);
  return upper[8] === check;
}

/** UK NHS number: ten digits, mod-11 check digit (weights 10..2). */
export function nhsNumber(value: string): boolean {
  const digits = digitsOf(value);
  if (digits.length !== 10 || /^(\d)\1+$/.test(digits)) return false;
  let sum = 0;
  for (let index = 0; index < 9; index += 1) sum += Number(digits[index]) * (10 - index);
  const check = 11 - (sum % 11);
  if (check === 10) return false;
  return (check === 11 ? 0 : check) === Number(digits[9]);
}

/** Canadian Social Insurance Number: nine digits, Luhn, first digit not 0 or 8. */
export function caSin(value: string): boolean {
  const digits = digitsOf(value);
  return digits.length === 9 && !/^[08]/.test(digits) && luhn(digits);
}

/** A JWT: the header decodes from base64url to a JSON object that names an algorithm. */
export function jwt(value: string): boolean {
  const [header] = value.split('.');
  if (!header) return false;
  try {
    const decoded = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as unknown;
    return typeof decoded === 'object' && decoded !== null && 'alg' in decoded;
  } catch {
    return false;
  }
}

/**
 * A phone number candidate: 7–15 digits, balanced parentheses, and not shaped like a date, a time,
 * a version or a decimal number.
 */
export function phone(value: string): boolean {
  const main = value.replace(/\s*(?:x|ext\.?)\s*\d{1,5}$/i, '');
  const digits = digitsOf(main);
  if (digits.length < 7 || digits.length > 15) return false;
  const open = (main.match(/\(/g) ?? []).length;
  const close = (main.match(/\)/g) ?? []).length;
  if (open !== close || open > 2) return false;
  if (/^(?:19|20)\d\d[-./](?:0?[1-9]|1[0-2])[-./]\d{1,2}\b/.test(main)) return false; // 2024-01-31
  if (/^\d{1,2}[-./]\d{1,2}[-./](?:19|20)\d\d$/.test(main)) return false; // 31/01/2024
  if (/[ .-]{2}/.test(main.replace(/\) /g, ')'))) return false;
  // Dots only: require phone-like groups (not 1.2.3 versions or decimals).
  if (main.includes('.') && /^[\d.]+$/.test(main) && !/^\d{2,4}(?:\.\d{2,4}){2,4}$/.test(main)) return false;
  // A single space or dash splitting two long runs reads as two numbers, not one phone.
  if (/^\d{5,}[ -]\d{5,}$/.test(main)) return false;
  return true;
}

/** A secret-looking value: not a placeholder, a mask, a template reference or a plain word/number. */
export function secretValue(value: string): boolean {
  const bare = value.replace(/^["']|["']$/g, '');
  if (bare.length < 4) return false;
  if (/^[*xX•#.-]+$/.test(bare)) return false; // ***** or xxxx
  if (/^(?:<[^>]*>|\$\{[^}]*\}|\$[A-Z_]+|%[A-Z_]+%|\{\{[^}]*\}\})$/.test(bare)) return false;
  if (
    /^(?:null|none|nil|undefined|true|false|redacted|hidden|changeme|password|secret|\[redacted\]|\[filtered\])$/i.test(
      bare,
    )
  )
    return false;
  return true;
}

/** Base64 that decodes to printable `user:password` (HTTP Basic credentials). */
export function basicCredentials(value: string): boolean {
  if (value.replace(/=+$/, '').length % 4 === 1) return false;
  const decoded = Buffer.from(value, 'base64').toString('latin1');
  const colon = decoded.indexOf(':');
  return colon > 0 && colon < decoded.length - 1 && /^[\x20-\x7e]+$/.test(decoded);
}

/** A generic token value (API keys in env dumps, bearer tokens): long, mixed letters and digits. */
export function tokenValue(value: string): boolean {
  const bare = value.replace(/^["']|["']$/g, '');
  if (!secretValue(bare) || bare.length < 12) return false;
  if (!/\d/.test(bare) || !/[A-Za-z]/.test(bare)) return false;
  // A UUID or a bare hex digest is an identifier, not a credential.
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(bare)) return false;
  return true;
}

/** An AWS secret access key: 40 base64 characters with upper case, lower case and a digit (not a hex SHA). */
export function awsSecret(value: string): boolean {
  return value.length === 40 && /[A-Z]/.test(value) && /[a-z]/.test(value) && /\d/.test(value);
}

/** An OpenAI-style key body: long enough and mixed (not `sk-learn` or a slug). */
export function openAiKey(value: string): boolean {
  const body = value.replace(/^sk-(?:proj-|svcacct-|admin-)?/, '');
  return body.length >= 20 && /\d/.test(body) && /[A-Z]/.test(body) && /[a-z]/.test(body);
}
