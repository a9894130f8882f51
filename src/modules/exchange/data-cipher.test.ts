import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { blindIndex, decryptValue, encryptValue, keyIdOf, type DataKey } from './data-cipher.js';

const aes: DataKey = { id: 7, algorithm: 'aes-256-gcm', key: randomBytes(32) };
const sm4: DataKey = { id: 8, algorithm: 'sm4-cbc-hmac-sha256', key: randomBytes(32) };

describe('data cipher', () => {
  it('still reads a value stored under SM4 before its keys were derived once per data key (format 2 unchanged)', () => {
    const k: DataKey = { id: 8, algorithm: 'sm4-cbc-hmac-sha256', key: Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex') };
    const stored = Buffer.from('AgAAAAgt/Sn6C+ohPxlQVJKuecbcuKwqabZ0KHaHCmq8uS1gtxYtGZbNk3GxUWfG4/9En+XbNpdr0q4wDIZTDAZOmjzz5v8CHZArgy/sks3LCkDlJg==', 'base64');
    expect(decryptValue(k, stored, 'R/c5')).toBe('430402199001010011 张三');
    expect(() => decryptValue({ ...k, key: Buffer.alloc(32) }, stored, 'R/c5')).toThrow(/authentication failed/);
  });

  it.each([aes, sm4])('round-trips with $algorithm, naming its key, and refuses another column or an altered byte', (k) => {
    const stored = encryptValue(k, '430402199001010011 张三', 'R/c5');
    expect(keyIdOf(stored)).toBe(k.id);
    expect(stored.includes(Buffer.from('张三'))).toBe(false);
    expect(decryptValue(k, stored, 'R/c5')).toBe('430402199001010011 张三');
    // Two encryptions of one value differ (random nonce / IV).
    expect(encryptValue(k, 'x', 'R/c5').equals(encryptValue(k, 'x', 'R/c5'))).toBe(false);
    expect(() => decryptValue(k, stored, 'R/c6')).toThrow(/authentication failed/);
    const altered = Buffer.from(stored);
    altered[altered.length - 20]! ^= 1;
    expect(() => decryptValue(k, altered, 'R/c5')).toThrow(/authentication failed/);
  });

  it('opens values of several columns under one key, each only in its own column, and refuses a truncated value', () => {
    const values = ['R/c1', 'R/c2', 'S/c1'].map((aad) => ({ aad, stored: encryptValue(aes, `value of ${aad}`, aad) }));
    for (const { aad, stored } of values) expect(decryptValue(aes, stored, aad)).toBe(`value of ${aad}`);
    expect(() => decryptValue(aes, values[0]!.stored, 'R/c2')).toThrow(/authentication failed/);
    expect(() => decryptValue(aes, values[0]!.stored.subarray(0, 20), 'R/c1')).toThrow(/truncated value/);
    // The same key material under another key object (a key read again) opens the same values.
    expect(decryptValue({ ...aes }, values[1]!.stored, 'R/c2')).toBe('value of R/c2');
  });

  it('refuses a value encrypted under another key', () => {
    const stored = encryptValue(aes, 'x', 'R/c1');
    expect(() => decryptValue({ ...aes, id: 9 }, stored, 'R/c1')).toThrow(/not encrypted under data key 9/);
  });

  it('gives a blind index equal for equal values of one resource and unrelated across resources', () => {
    const key = randomBytes(32);
    expect(blindIndex(key, 'A', 'v').equals(blindIndex(key, 'A', 'v'))).toBe(true);
    expect(blindIndex(key, 'A', 'v').equals(blindIndex(key, 'B', 'v'))).toBe(false);
    expect(blindIndex(key, 'A', 'v').equals(blindIndex(randomBytes(32), 'A', 'v'))).toBe(false);
    expect(blindIndex(key, 'A', 'v')).toHaveLength(32);
  });
});
