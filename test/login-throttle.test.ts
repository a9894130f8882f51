import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, type TestPlatform } from './helpers/platform.js';

let t: TestPlatform;
beforeAll(async () => {
  t = await createTestPlatform({ loginAttemptsPerMinute: 3 });
});
afterAll(async () => t?.close());

const attempt = (username: string, remoteAddress = '203.0.113.7') =>
  t.app.inject({ method: 'POST', url: '/api/v1/auth/login', remoteAddress, payload: { username, password: 'not-the-password-1A' } });

describe('login throttling per client address', () => {
  it('refuses the 4th attempt in a minute from one address with 429 and Retry-After, whatever the account', async () => {
    for (const name of ['a.one', 'b.two', 'c.three']) expect((await attempt(name)).statusCode).toBe(401);
    const r = await attempt('d.four');
    expect(r.statusCode).toBe(429);
    expect(r.json()).toMatchObject({ code: 'GS_ERR_AUTH_RATE_LIMITED' });
    expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(r.headers['retry-after'])).toBeLessThanOrEqual(60);
    // other addresses are not affected
    expect((await attempt('d.four', '198.51.100.9')).statusCode).toBe(401);
    // the refusal is audited
    const events = await t.platform.audit.search({ action: 'auth.login', outcome: 'denied', limit: 10 });
    expect(events.some((e) => e.targetId === '203.0.113.7' && e.details.reason === 'rateLimited')).toBe(true);
  });

  it('lets the address try again once the minute has passed', async () => {
    t.clock.advance(61_000);
    expect((await attempt('a.one')).statusCode).toBe(401);
  });
});
