import { describe, expect, it } from 'vitest';
import * as v from './validators.js';

describe('checksum validators', () => {
  it('luhn and card numbers', () => {
    expect(v.luhn('4111111111111111')).toBe(true);
    expect(v.luhn('4111111111111112')).toBe(false);
    expect(v.creditCard('4111 1111 1111 1111')).toBe(true);
    expect(v.creditCard('4111-1111 1111-1111')).toBe(false); // mixed separators
    expect(v.creditCard('41111 11111 111111')).toBe(false); // not grouped in fours
    expect(v.creditCard('3782 822463 10005')).toBe(true); // Amex 4-6-5
    expect(v.creditCard('0000000000000000')).toBe(false);
    expect(v.creditCard('41111111111')).toBe(false); // 11 digits
    expect(v.knownCardPrefix('4111111111111111')).toBe(true);
    expect(v.knownCardPrefix('9111111111111111')).toBe(false);
  });

  it('US SSN rules', () => {
    expect(v.usSsn('123-45-6780')).toBe(true);
    expect(v.usSsn('000-12-3456')).toBe(false);
    expect(v.usSsn('666-12-3456')).toBe(false);
    expect(v.usSsn('912-12-3456')).toBe(false);
    expect(v.usSsn('123-00-3456')).toBe(false);
    expect(v.usSsn('123-45-0000')).toBe(false);
    expect(v.usSsn('123-45-678')).toBe(false);
  });

  it('ABA routing checksum', () => {
    expect(v.abaRouting('011000015')).toBe(true); // a Federal Reserve routing number
    expect(v.abaRouting('021000021')).toBe(true);
    expect(v.abaRouting('021000022')).toBe(false);
    expect(v.abaRouting('391000021')).toBe(false); // prefix 39 is not assigned
  });

  it('IBAN mod-97 and length', () => {
    expect(v.iban('GB82 WEST 1234 5698 7654 32')).toBe(true);
    expect(v.iban('gb82west12345698765432')).toBe(true);
    expect(v.iban('DE89370400440532013000')).toBe(true);
    expect(v.iban('GB82WEST12345698765433')).toBe(false); // check fails
    expect(v.iban('GB82WEST1234569876543')).toBe(false); // wrong length for GB
  });

  it('VIN, NHS, SIN', () => {
    expect(v.vin('1M8GDM9AXKP042788')).toBe(true);
    expect(v.vin('1M8GDM9A1KP042788')).toBe(false);
    expect(v.nhsNumber('943 476 5919')).toBe(true);
    expect(v.nhsNumber('943 476 5918')).toBe(false);
    expect(v.caSin('130 692 544')).toBe(true);
    expect(v.caSin('130 692 545')).toBe(false);
  });

  it('IP addresses', () => {
    expect(v.ipv6('2001:db8::8a2e:370:7334')).toBe(true);
    expect(v.ipv6('10:11:12')).toBe(false);
    expect(v.ipv6('::')).toBe(false);
    expect(v.ipv4('0.0.0.0')).toBe(false);
  });

  it('JWT header and phone shapes', () => {
    expect(v.jwt('eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig')).toBe(true);
    expect(v.jwt('eyJub3RhbGciOjF9.eyJzdWIiOiIxIn0.sig')).toBe(false);
    expect(v.phone('+1 (415) 555-0100')).toBe(true);
    expect(v.phone('2024-01-31 10')).toBe(false);
    expect(v.phone('1.2.3.4')).toBe(false);
    expect(v.phone('123')).toBe(false);
  });

  it('secret values reject placeholders and masks', () => {
    expect(v.secretValue('hunter22')).toBe(true);
    expect(v.secretValue('********')).toBe(false);
    expect(v.secretValue(['$', '{DB_PASSWORD}'].join(''))).toBe(false);
    expect(v.tokenValue('0b9a3e1c-8f0e-4c55-9a8f-2b7d1c3e4f5a')).toBe(false);
  });
});
