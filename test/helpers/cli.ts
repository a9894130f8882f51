import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

/**
 * Running the built `govshare` command as an operator does (`npm test` builds first): real
 * processes, real signals, real ports on 127.0.0.1.
 */
export const MAIN = join(process.cwd(), 'dist/src/cli/main.js');

export interface Proc {
  readonly child: ChildProcess;
  stdout: string;
  stderr: string;
  readonly exited: Promise<number | null>;
}

/** The environment for a command: `undefined` removes a variable. */
export function env(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, GOVSHARE_LOG_LEVEL: 'warn', ...extra };
  // The suite's own DATABASE_URL must not leak into embedded-database cases.
  if (!('DATABASE_URL' in extra)) delete e.DATABASE_URL;
  for (const [k, v] of Object.entries(extra)) if (v === undefined) delete e[k];
  return e;
}

/** Starts a long-running command (serve), collecting its output. */
export function start(args: string[], extra: Record<string, string | undefined>): Proc {
  const child = spawn(process.execPath, [MAIN, ...args], { env: env(extra), stdio: ['ignore', 'pipe', 'pipe'] });
  const p: Proc = {
    child,
    stdout: '',
    stderr: '',
    exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))),
  };
  child.stdout!.on('data', (d: Buffer) => (p.stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (p.stderr += d.toString()));
  return p;
}

/** Runs a command to its end. */
export function run(args: string[], extra: Record<string, string | undefined>): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { env: env(extra), encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function waitReady(port: number, proc: Proc, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (proc.child.exitCode !== null) throw new Error(`server exited ${proc.child.exitCode}: ${proc.stderr}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/readyz`);
      if (r.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`not ready within ${timeoutMs} ms: ${proc.stderr}`);
}

/** A key file as an operator makes one: 32 random bytes in base64, owner-only unless `mode` says otherwise. */
export function keyFile(path: string, mode = 0o600): string {
  writeFileSync(path, `${randomBytes(32).toString('base64')}\n`, { mode });
  return path;
}
