import { describe, expect, it } from 'vitest';
import { ApiError } from './api';
import { errorMessage } from './errors';
import { isTotpCode, passwordProblems } from './validation';

const err = (status: number, code: string, details: Record<string, unknown> = {}, message = 'English message', messageZh = '中文消息') =>
  new ApiError(status, { code, message, messageZh, details });

describe('error messages', () => {
  it('says the account is locked, how many failures and until when (China time)', () => {
    const m = errorMessage('zh-CN', err(423, 'GS_ERR_AUTH_LOCKED', { attempts: 5, until: '2026-12-03T04:15:00.000Z' }));
    expect(m).toContain('连续 5 次登录失败');
    expect(m).toContain('12:15');
    expect(errorMessage('en', err(423, 'GS_ERR_AUTH_LOCKED', { attempts: 5, until: '2026-12-03T04:15:00.000Z' }))).toContain('locked after 5 failed attempts');
  });

  it('tells an idle timeout from the end of the maximum duration', () => {
    expect(errorMessage('zh-CN', err(401, 'GS_ERR_AUTH_SESSION_EXPIRED', { reason: 'idle timeout' }))).toContain('较长时间没有操作');
    expect(errorMessage('en', err(401, 'GS_ERR_AUTH_SESSION_EXPIRED', { reason: 'absolute timeout' }))).toContain('maximum duration');
    expect(errorMessage('en', err(401, 'GS_ERR_AUTH_SESSION_EXPIRED', { reason: 'logout' }))).toBe('Your session has ended. Please sign in again.');
  });

  it('fills details into explained codes', () => {
    expect(errorMessage('en', err(429, 'GS_ERR_AUTH_RATE_LIMITED', { retryAfterSeconds: 42 }))).toContain('try again in 42 s');
  });

  it("shows the API's own message in the chosen language for a code it does not explain", () => {
    expect(errorMessage('zh-CN', err(409, 'GS_ERR_CATALOG_SOMETHING'))).toBe('中文消息 (GS_ERR_CATALOG_SOMETHING)');
    expect(errorMessage('en', err(409, 'GS_ERR_CATALOG_SOMETHING'))).toBe('English message (GS_ERR_CATALOG_SOMETHING)');
  });

  it('a failure that is not an API answer is a network problem', () => {
    expect(errorMessage('zh-CN', new TypeError('Failed to fetch'))).toContain('无法连接平台');
  });
});

describe('form hints', () => {
  it('mirror the password rule', () => {
    expect(passwordProblems('Correct-Horse-9-Battery', 'zhang.san')).toEqual([]);
    expect(passwordProblems('short', 'zhang.san')).toEqual(['validation.passwordLength', 'validation.passwordClasses']);
    expect(passwordProblems('zhang.san-Password1', 'zhang.san')).toEqual(['validation.passwordUsername']);
  });

  it('know a TOTP code is six digits', () => {
    expect(isTotpCode('012345')).toBe(true);
    expect(isTotpCode('12345')).toBe(false);
    expect(isTotpCode('12345a')).toBe(false);
  });
});
