/**
 * The console port serving the built web console: index.html and its client-side routes, hashed
 * assets, cache and security headers, and the API untouched by the fallback.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type GsApp } from '../src/server/app.js';
import { createTestPlatform, type TestPlatform } from './helpers/platform.js';

let t: TestPlatform;
let dir: string;
let built: GsApp;
let notBuilt: GsApp;

beforeAll(async () => {
  t = await createTestPlatform();
  dir = mkdtempSync(join(tmpdir(), 'govshare-console-static-'));
  mkdirSync(join(dir, 'site', 'assets'), { recursive: true });
  writeFileSync(join(dir, 'site', 'index.html'), '<!doctype html><meta name="csp-nonce" content="__CSP_NONCE__"><script type="module" src="/assets/index-AbC123.js"></script>');
  writeFileSync(join(dir, 'site', 'assets', 'index-AbC123.js'), 'console.log("控制台");');
  const build = async (consoleDir: string) => {
    const app = await buildApp({ platform: t.platform, config: t.config, logger: pino({ level: 'silent' }), consoleDir });
    await app.ready();
    return app;
  };
  built = await build(join(dir, 'site'));
  notBuilt = await build(join(dir, 'missing'));
});

afterAll(async () => {
  await built?.close();
  await notBuilt?.close();
  await t?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the web console on the console port', () => {
  it('answers / with index.html, never cached, under a strict CSP with a fresh nonce each time', async () => {
    const a = await built.inject({ url: '/' });
    const b = await built.inject({ url: '/' });
    expect(a.statusCode).toBe(200);
    expect(a.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(a.headers['cache-control']).toBe('no-cache');
    expect(a.headers['x-frame-options']).toBe('DENY');
    expect(a.headers['x-content-type-options']).toBe('nosniff');
    expect(a.headers['referrer-policy']).toBe('no-referrer');
    const csp = String(a.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    const nonce = /'nonce-([^']+)'/.exec(csp)?.[1];
    expect(nonce).toBeTruthy();
    expect(a.body).toContain(`content="${nonce}"`);
    expect(a.body).not.toContain('__CSP_NONCE__');
    expect(b.headers['content-security-policy']).not.toBe(csp);
  });

  it("answers index.html for the console pages' client-side routes, and 404 for any other path", async () => {
    const r = await built.inject({ url: '/catalog/entries/103001%2F000001?x=1' });
    expect(r.statusCode).toBe(200);
    expect(r.body).toContain('/assets/index-AbC123.js');
    expect((await built.inject({ url: '/inbox' })).body).toContain('/assets/index-AbC123.js');
    for (const url of ['/favicon.ico', '/nothing-here', '/catalogue']) {
      const missing = await built.inject({ url });
      expect(missing.statusCode, url).toBe(404);
      expect(missing.json()).toMatchObject({ code: 'GS_ERR_REQUEST_NOT_FOUND' });
    }
  });

  it('serves hashed assets as immutable for a year', async () => {
    const r = await built.inject({ url: '/assets/index-AbC123.js' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toContain('javascript');
    expect(r.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(r.body).toContain('控制台');
    expect((await built.inject({ url: '/assets/nope.js' })).statusCode).toBe(404);
    // A way out of the assets folder is refused, never answered with the file.
    const escape = await built.inject({ url: '/assets/..%2f..%2fpackage.json' });
    expect([400, 403, 404]).toContain(escape.statusCode);
    expect(escape.body).not.toContain('govshare');
  });

  it('leaves the API, its description and the health checks alone', async () => {
    const api404 = await built.inject({ url: '/api/v1/no-such-route' });
    expect(api404.statusCode).toBe(404);
    expect(api404.json()).toMatchObject({ code: 'GS_ERR_REQUEST_NOT_FOUND' });
    expect((await built.inject({ url: '/api/nothing' })).json()).toMatchObject({ code: 'GS_ERR_REQUEST_NOT_FOUND' });
    const me = await built.inject({ url: '/api/v1/auth/me' });
    expect(me.statusCode).toBe(401);
    expect(me.headers['cache-control']).toBe('no-store');
    const doc = await built.inject({ url: '/api/v1/openapi.json' });
    expect(doc.statusCode).toBe(200);
    expect(Object.keys((doc.json() as { paths: Record<string, unknown> }).paths).some((p) => p === '/' || p.startsWith('/assets'))).toBe(false);
    expect((await built.inject({ url: '/healthz' })).json()).toEqual({ status: 'ok' });
  });

  it('without a build, / says to run npm run build instead of failing', async () => {
    const r = await notBuilt.inject({ url: '/' });
    expect(r.statusCode).toBe(503);
    expect(r.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(r.body).toContain('npm run build');
    expect((await notBuilt.inject({ url: '/catalog' })).body).toContain('控制台尚未构建');
    expect((await notBuilt.inject({ url: '/api/v1/auth/me' })).statusCode).toBe(401);
  });
});
