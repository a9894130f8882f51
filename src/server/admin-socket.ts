import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { join } from 'node:path';
import { GsError, isGsError, type ErrorCode } from '../lib/errors.js';
import { ERRORS } from '../lib/errors.js';

/**
 * The local admin socket. With the embedded database only the server process may open the data
 * directory, so admin commands (`govshare agency add`, `user add`, `token create`, …) run inside
 * the server instead: the CLI sends the operation name and its input over a Unix socket in the
 * data directory, created with mode 0600 — only the account that runs the server (or root) can
 * connect, the same people who could read the data files directly.
 */

// Unix socket paths are limited to 107 bytes on Linux.
const MAX_SOCKET_PATH = 100;

export function adminSocketPath(dataDir: string): string | null {
  const path = join(dataDir, 'admin.sock');
  return Buffer.byteLength(path) <= MAX_SOCKET_PATH ? path : null;
}

export type OperationRunner = (name: string, input: unknown, osUser: string) => Promise<unknown>;

interface WireError {
  readonly code: string;
  readonly params: Record<string, unknown>;
  readonly message: string;
}

export async function listenAdminSocket(path: string, run: OperationRunner): Promise<{ close(): Promise<void> }> {
  if (existsSync(path)) unlinkSync(path); // left by a crashed server; we hold the data-dir lock
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        let status = 200;
        let body: unknown;
        try {
          const name = decodeURIComponent((req.url ?? '').replace(/^\/ops\//, ''));
          const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { input?: unknown; osUser?: unknown };
          const osUser = typeof parsed.osUser === 'string' ? parsed.osUser.slice(0, 64) : 'unknown';
          body = { result: await run(name, parsed.input ?? {}, osUser) };
        } catch (e) {
          const err: GsError = isGsError(e) ? e : new GsError('GS_ERR_SERVER_INTERNAL', { requestId: 'admin-socket' });
          status = err.status;
          const wire: WireError = { code: err.code, params: { ...err.params }, message: isGsError(e) ? err.message : String(e) };
          body = { error: wire };
        }
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      })();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  chmodSync(path, 0o600);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        try {
          unlinkSync(path);
        } catch {
          // already gone
        }
      }),
  };
}

/** Runs an operation in the server that holds the data directory. */
export function callAdminSocket(path: string, name: string, input: unknown, osUser: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify({ input, osUser });
    const req = request(
      { socketPath: path, method: 'POST', path: `/ops/${encodeURIComponent(name)}`, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          try {
            const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { result?: unknown; error?: WireError };
            if (body.error) {
              const code = (body.error.code in ERRORS ? body.error.code : 'GS_ERR_SERVER_INTERNAL') as ErrorCode;
              reject(new GsError(code, body.error.params));
            } else {
              resolve(body.result);
            }
          } catch (e) {
            reject(new GsError('GS_ERR_ADMIN_SOCKET', { path, reason: `bad reply: ${(e as Error).message}` }));
          }
        });
      },
    );
    req.on('error', (e) => reject(new GsError('GS_ERR_ADMIN_SOCKET', { path, reason: e.message })));
    req.setTimeout(60_000, () => req.destroy(new Error('no reply within 60 s')));
    req.end(payload);
  });
}
