import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { exitCodeFor } from '../cli/exit-codes.js';
import { ERRORS, GsError, type ErrorCode } from './errors.js';

const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');

describe('error registry', () => {
  const codes = Object.keys(ERRORS) as ErrorCode[];

  it('names every code GS_ERR_<AREA>_<PROBLEM> with a 4xx/5xx status and both languages', () => {
    for (const code of codes) {
      expect(code).toMatch(/^GS_ERR_[A-Z]+_[A-Z_]+$/);
      const def = ERRORS[code];
      expect(def.status).toBeGreaterThanOrEqual(400);
      expect(def.status).toBeLessThan(600);
      expect(def.message.length).toBeGreaterThan(5);
      expect(def.messageZh).toMatch(/[\u4e00-\u9fff]/);
    }
  });

  it('documents every code in docs/errors.md with its HTTP status and CLI exit code', () => {
    for (const code of codes) {
      const row = doc.split('\n').find((l) => l.startsWith(`| \`${code}\` |`));
      expect(row, `${code} is missing from docs/errors.md`).toBeDefined();
      const cells = row!.split('|').map((c) => c.trim());
      expect(Number(cells[2]), `${code} HTTP status in docs`).toBe(ERRORS[code].status);
      expect(Number(cells[3]), `${code} exit code in docs`).toBe(exitCodeFor(new GsError(code)));
    }
  });

  it('documents no code that is not in the registry (codes are never silently dropped)', () => {
    const documented = [...doc.matchAll(/\| `(GS_ERR_[A-Z_]+)` \|/g)].map((m) => m[1]);
    for (const code of documented) expect(codes).toContain(code);
  });

  it('fills message templates from parameters', () => {
    const e = new GsError('GS_ERR_AGENCY_USCC_INVALID', { uscc: 'X', reason: 'bad' });
    expect(e.message).toBe('USCC X is not valid: bad');
    expect(e.messageZh).toBe('统一社会信用代码 X 不合法：bad');
    expect(e.status).toBe(400);
  });
});
