import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyReply } from 'fastify';
import { PUBLIC } from './access.js';
import type { GsApp } from './app.js';

/**
 * Where `npm run build` puts the console (vite build of web/): dist/web beside dist/src. From the
 * built server that is ../../web; from the sources (tests) ../../dist/web — never web/ itself,
 * whose index.html is the unbuilt template.
 */
export const BUILT_CONSOLE_DIR = fileURLToPath(new URL(import.meta.url.includes('/dist/src/') ? '../../web/' : '../../dist/web/', import.meta.url));

/** index.html carries this placeholder where the server puts each answer's CSP nonce. */
const NONCE_PLACEHOLDER = '__CSP_NONCE__';

/**
 * The console's Content-Security-Policy. Scripts only from this origin (the build has no inline
 * script); styles from this origin and the style elements antd's CSS-in-JS adds, which carry the
 * per-answer nonce; images from here and data: URLs (the TOTP QR code); calls only to this origin;
 * no framing, no plugins, no <base>.
 */
export function consoleCsp(nonce: string): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    `style-src 'self' 'nonce-${nonce}'`,
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

const NOT_BUILT = [
  'govshare: the web console is not built. Run `npm run build` (it builds the server and the console into dist/), then restart `govshare serve`.',
  'govshare：控制台尚未构建。请运行 `npm run build`（构建服务端和控制台到 dist/），然后重新启动 `govshare serve`。',
  'The API is at /api/v1 (description: /api/v1/openapi.json).',
  '',
].join('\n');

/**
 * The first segments of the console's client-side routes (web/src/pages/nav.ts and registry.tsx): only these fall back to
 * index.html, so any other unknown path — an API path above all — stays the API's JSON 404.
 */
export const CONSOLE_PAGES = ['dashboard', 'catalog', 'inbox', 'requests', 'reviews', 'arbitration', 'grants', 'authoring', 'review', 'admin', 'audit'] as const;

function isConsolePath(path: string): boolean {
  const first = path.split('/')[1] ?? '';
  return (CONSOLE_PAGES as readonly string[]).includes(first);
}

/**
 * Serves the built console at `/`: content-hashed files under /assets as immutable, index.html
 * (never cached, with a fresh CSP nonce) for `/` and for the paths of the console's pages
 * (CONSOLE_PAGES). Routes registered elsewhere win over the `/*` fallback; nothing else falls back.
 */
export async function consoleRoutes(app: GsApp, dir: string = BUILT_CONSOLE_DIR): Promise<void> {
  const indexFile = join(dir, 'index.html');
  const index = existsSync(indexFile) ? readFileSync(indexFile, 'utf8') : null;
  const route = { config: { access: PUBLIC }, schema: { hide: true } } as const;

  const sendIndex = (reply: FastifyReply) => {
    if (index === null) return reply.status(503).header('content-type', 'text/plain; charset=utf-8').header('cache-control', 'no-store').send(NOT_BUILT);
    const nonce = randomBytes(18).toString('base64');
    return reply
      .header('content-type', 'text/html; charset=utf-8')
      .header('cache-control', 'no-cache')
      .header('content-security-policy', consoleCsp(nonce))
      .header('x-frame-options', 'DENY')
      .send(index.replaceAll(NONCE_PLACEHOLDER, nonce));
  };

  // serve: false — only reply.sendFile (ranges, ETag, content types); the routes are ours, so each
  // declares its access like every other route.
  await app.register(fastifyStatic, { root: dir, serve: false, wildcard: false });

  app.get('/', route, async (_req, reply) => sendIndex(reply));

  app.get('/assets/*', route, async (req, reply) => {
    if (index === null) return reply.callNotFound();
    const file = (req.params as { '*': string })['*'];
    return reply.sendFile(`assets/${file}`, { maxAge: '365d', immutable: true, dotfiles: 'deny' });
  });

  app.get('/*', route, async (req, reply) => {
    const path = req.url.split('?')[0] ?? '/';
    if (!isConsolePath(path)) return reply.callNotFound();
    return sendIndex(reply);
  });
}
