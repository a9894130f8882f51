import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, type TestPlatform, userWithRoles, agencyInput } from './helpers/platform.js';

let t: TestPlatform;
beforeAll(async () => {
  t = await createTestPlatform();
});
afterAll(async () => t?.close());

describe('smoke', () => {
  it('serves health and creates an agency as operator', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    const ready = await t.app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode, ready.body).toBe(200);
    const op = await userWithRoles(t, 'op1', ['operator']);
    const r = await t.app.inject({ method: 'POST', url: '/api/v1/agencies', headers: op.headers, payload: agencyInput(1) });
    expect(r.statusCode, r.body).toBe(201);
    const id = r.json().id;
    const g = await t.app.inject({ method: 'GET', url: `/api/v1/agencies/${id}`, headers: op.headers });
    expect(g.json().nameZh).toBe('测试单位1');
  });
});
