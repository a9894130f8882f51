import { it } from 'vitest';
import pino from 'pino';
import { buildApp } from '../src/server/app.js';
import { createTestPlatform, userWithRoles, agencyInput } from './helpers/platform.js';
it('x', async () => {
  const t = await createTestPlatform();
  const app = await buildApp({ platform: t.platform, config: t.config, logger: pino({ level: 'silent' }) });
  try { app.get('/zz', async () => 'x'); console.log('no throw'); } catch (e) { console.log('threw', String(e)); }
  await app.close();
  const op = await userWithRoles(t, 'op1', ['operator']);
  for (const ct of ['text/plain', 'application/xml', 'application/x-www-form-urlencoded', 'application/json; charset=utf-8', 'APPLICATION/JSON']) {
    const r = await t.app.inject({ method: 'POST', url: '/api/v1/agencies', headers: { ...op.headers, 'content-type': ct }, payload: JSON.stringify(agencyInput(5)) });
    console.log(ct, r.statusCode, r.body);
  }
  let r = await t.app.inject({ method: 'POST', url: '/api/v1/agencies', headers: { ...op.headers }});
  console.log('nobody', r.statusCode, r.body);
  r = await t.app.inject({ method: 'POST', url: '/api/v1/agencies', headers: { ...op.headers, 'content-type': 'application/json' }, payload: '' });
  console.log('empty', r.statusCode, r.body);
  r = await t.app.inject({ method: 'GET', url: '/api/docs' });
  console.log('docs', r.statusCode, r.headers, r.body.slice(0, 200));
  r = await t.app.inject({ method: 'GET', url: '/api/v1/nope' });
  console.log('404', r.statusCode, r.body);
  await t.close();
}, 60000);
