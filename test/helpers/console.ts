/**
 * The harness of the console's end-to-end tests: a real `govshare serve` on the embedded database
 * in a temporary directory, accounts made ready through the real API (password changed, an
 * authenticator enrolled where the policy asks for one), and Debian's Chromium driven by
 * playwright-core, watched for CSP violations and script errors.
 *
 * Needs /usr/bin/chromium and the CJK font: `apt-get install -y chromium fonts-wqy-microhei`
 * (.ci/run installs them). `describeConsole` skips locally without Chromium and fails under CI=true.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { currentStep, totpCode } from '../../src/lib/totp.js';
import { freePort, run, start, waitReady, type Proc } from './cli.js';
import { STRONG_PASSWORD } from './platform.js';

export const CHROMIUM = '/usr/bin/chromium';
export const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'console');
/** Where `docShot` writes when GOVSHARE_DOC_SHOTS=1: the user guides' pictures (committed). */
export const DOC_IMAGES = join(process.cwd(), 'docs', 'guides', 'images');
const haveChromium = existsSync(CHROMIUM);

/** `describe` for a console suite: runs with Chromium, skips without it locally, fails without it in CI. */
export function describeConsole(name: string, body: () => void): void {
  if (!haveChromium && !process.env.CI) {
    console.warn(`${name}: skipped, ${CHROMIUM} is missing. Install it with: apt-get install -y chromium fonts-wqy-microhei`);
  }
  describe.runIf(!haveChromium && !!process.env.CI)(`${name} under CI`, () => {
    it('needs Chromium', () => {
      expect.fail(`${CHROMIUM} is missing; CI must install it: apt-get install -y chromium fonts-wqy-microhei`);
    });
  });
  describe.runIf(haveChromium)(name, body);
}

export interface ConsoleUser {
  readonly username: string;
  readonly password: string;
  readonly totpSecret: string | null;
  /** The last authenticator step used, so each sign-in uses a code not used before. */
  lastStep: number;
}

type Json = Record<string, unknown>;

/** A running platform for a console suite. */
export class ConsoleServer {
  private server: Proc | null = null;
  readonly base: string;
  private readonly tokens = new Map<string, string>();

  private constructor(
    readonly dir: string,
    readonly vars: Record<string, string>,
    readonly port: number,
  ) {
    this.base = `http://127.0.0.1:${port}`;
  }

  /** Initialises a platform in a temporary directory and starts `govshare serve`; `vars` adds settings. */
  static async start(vars: Record<string, string> = {}): Promise<ConsoleServer> {
    const dir = mkdtempSync(join(tmpdir(), 'govshare-console-e2e-'));
    const port = await freePort();
    const all = { GOVSHARE_DATA_DIR: join(dir, 'data'), GOVSHARE_PORT: String(port), GOVSHARE_EXCHANGE_PORT: String(await freePort()), ...vars };
    const s = new ConsoleServer(dir, all, port);
    s.cli(['init']);
    s.server = start(['serve'], all);
    await waitReady(port, s.server);
    return s;
  }

  /** Runs a `govshare` command against this platform's data; fails the test when it fails. `--json` output is parsed. */
  cli(args: string[]): Json {
    const r = run(args, this.vars);
    expect(r.code, `govshare ${args.join(' ')}: ${r.stderr}`).toBe(0);
    return args[0] === '--json' ? (JSON.parse(r.stdout) as Json) : {};
  }

  /** Adds an agency (`govshare agency add`) and returns it. */
  agency(code: string, name: string, uscc: string, region = '430400', level = 'prefecture'): Json {
    return this.cli(['--json', 'agency', 'add', '--code', code, '--name', name, '--uscc', uscc, '--region', region, '--level', level]);
  }

  /**
   * Adds a user and finishes the first-login setup through the API (password → STRONG_PASSWORD,
   * an authenticator when the policy requires one), so the browser signs in straight away.
   */
  async user(username: string, displayName: string, roles: readonly string[], agencyCode?: string): Promise<ConsoleUser> {
    const made = this.cli(['--json', 'user', 'add', username, '--display-name', displayName, '--roles', roles.join(','), ...(agencyCode ? ['--agency', agencyCode] : [])]);
    const oneTime = String(made.password);
    let r = await this.post('/auth/login', { username, password: oneTime });
    const cookie = sessionCookie(r);
    r = await this.post('/auth/password', { currentPassword: oneTime, newPassword: STRONG_PASSWORD }, cookie);
    expect(r.status, await r.text()).toBe(200);
    const me = (await (await fetch(`${this.base}/api/v1/auth/me`, { headers: { cookie } })).json()) as { setupRequired: string[] };
    let totpSecret: string | null = null;
    let lastStep = 0;
    if (me.setupRequired.includes('enrolTotp')) {
      r = await this.post('/auth/totp/enrol', undefined, cookie);
      totpSecret = ((await r.json()) as { secret: string }).secret;
      lastStep = currentStep(Date.now()) - 1;
      r = await this.post('/auth/totp/confirm', { code: totpCode(totpSecret, lastStep) }, cookie);
      expect(r.status, await r.text()).toBe(200);
    }
    await this.post('/auth/logout', undefined, cookie);
    return { username, password: STRONG_PASSWORD, totpSecret, lastStep };
  }

  /** A bearer token for a user (`govshare token create`), made once and kept. */
  token(username: string): string {
    let t = this.tokens.get(username);
    if (!t) {
      t = String(this.cli(['--json', 'token', 'create', '--user', username, '--expires', '1d']).token);
      this.tokens.set(username, t);
    }
    return t;
  }

  /** An API call as `username` (bearer token); fails the test on an error answer. */
  async api(username: string, method: string, path: string, body?: unknown): Promise<Json> {
    const r = await fetch(`${this.base}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token(username)}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
    return (text ? JSON.parse(text) : {}) as Json;
  }

  private post(path: string, body: unknown, cookie?: string): Promise<Response> {
    return fetch(`${this.base}/api/v1${path}`, {
      method: 'POST',
      headers: { ...(cookie ? { cookie } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  async stop(): Promise<void> {
    if (this.server) {
      this.server.child.kill('SIGTERM');
      await this.server.exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function sessionCookie(r: Response): string {
  const m = /gs_session=([^;]*)/.exec(r.headers.get('set-cookie') ?? '');
  if (!m?.[1]) throw new Error(`no session cookie (status ${r.status})`);
  return `gs_session=${m[1]}`;
}

/** Chromium as the console tests run it: headless, 1366×768, Chinese, China time. */
export async function launchBrowser(dir: string): Promise<BrowserContext> {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launchPersistentContext(join(dir, 'chromium-profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-quic'],
    viewport: { width: 1366, height: 768 },
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',
  });
}

/** What went wrong in a page: CSP violations and uncaught script errors. Assert both empty at the end. */
export interface PageWatch {
  readonly violations: string[];
  readonly pageErrors: string[];
}

/** A new page watched for CSP violations and script errors. */
export async function watchedPage(context: BrowserContext): Promise<{ page: Page; watch: PageWatch }> {
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const watch: PageWatch = { violations: [], pageErrors: [] };
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) watch.violations.push(m.text());
  });
  page.on('pageerror', (e) => watch.pageErrors.push(e.message));
  await page.exposeFunction('gsReportViolation', (v: string) => watch.violations.push(v));
  // Runs in the page (a string: the test is compiled without the DOM's types).
  await page.addInitScript({
    content: `document.addEventListener('securitypolicyviolation', (e) => window.gsReportViolation(e.violatedDirective + ' ' + e.sourceFile + ':' + e.lineNumber + ':' + e.columnNumber + ' ' + e.sample));`,
  });
  return { page, watch };
}

/**
 * Signs in through the sign-in page (in Chinese) and waits for the shell. An account with an
 * authenticator gets a code of a step not used before (the platform refuses a reused code), so a
 * second sign-in of the same account may wait up to 30 s.
 */
export async function signIn(page: Page, base: string, user: ConsoleUser): Promise<void> {
  await page.goto(`${base}/`);
  await page.getByLabel('用户名').fill(user.username);
  await page.getByLabel('密码', { exact: true }).fill(user.password);
  if (user.totpSecret) {
    let step = currentStep(Date.now());
    while (step <= user.lastStep) {
      await new Promise((r) => setTimeout(r, 1000));
      step = currentStep(Date.now());
    }
    user.lastStep = step;
    await page.getByLabel('动态验证码').fill(totpCode(user.totpSecret, step));
  }
  await page.getByRole('button', { name: /登\s*录/ }).click();
  await page.getByTestId('current-user').waitFor();
}

/** Signs out with the header's button and waits for the sign-in page. */
export async function signOut(page: Page): Promise<void> {
  await page.getByRole('button', { name: '退出登录' }).click();
  await page.getByTestId('login-notice').waitFor();
}

/** A screenshot of the whole page as a test artifact (test-artifacts/console/, not committed). */
export async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/**
 * A screenshot for the user guides: always the artifact, and with GOVSHARE_DOC_SHOTS=1 also a JPEG
 * of the visible window in docs/guides/images/<name>.jpg (run the suite that way to refresh them).
 */
export async function docShot(page: Page, name: string): Promise<void> {
  await shot(page, name);
  if (process.env.GOVSHARE_DOC_SHOTS === '1') {
    mkdirSync(DOC_IMAGES, { recursive: true });
    await page.screenshot({ path: join(DOC_IMAGES, `${name}.jpg`), type: 'jpeg', quality: 70 });
  }
}
