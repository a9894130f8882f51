/**
 * `govshare requests …` and `govshare grants …` as the local administrator runs them: the built
 * command on an initialised embedded data directory, or on the PostgreSQL server of DATABASE_URL.
 * The agencies, the business system and the published resources are set up in-process first (no
 * CLI registers business systems), partly on a clock 40 days back so that the sweep has an
 * overdue request and an ended grant to deal with.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServerDatabaseUrl } from '../src/db/test-database.js';
import { chinaDateOf } from '../src/lib/working-calendar.js';
import type { AttachmentView } from '../src/modules/attachments/schemas.js';
import type { Grant } from '../src/modules/grants/schemas.js';
import type { Delivery, Webhook, WebhookCreated } from '../src/modules/notifications/schemas.js';
import type { HistoryEntry, ShareRequest, ShareRequestCreate, Statistics } from '../src/modules/requests/schemas.js';
import { cliContext } from '../src/server/actor.js';
import { loadConfig } from '../src/server/config.js';
import { Platform } from '../src/server/platform.js';
import { PERMISSIONS } from '../src/modules/accounts/permissions.js';
import { catalogContent } from './helpers/catalog.js';
import { freePort, run, start, waitReady } from './helpers/cli.js';
import { agencyInput } from './helpers/platform.js';

const DAY = 86_400_000;
let dir: string;
let vars: Record<string, string | undefined>;
let drop: (() => Promise<void>) | undefined;
let resource: string;
let systemId: string;
let consumerId: string;
/** Filed 40 days ago and never decided: overdue. */
let overdueNumber: number;
/** Granted 40 days ago until 20 days ago: the sweep expires it. */
let endedGrantId: string;

const ask = (over: Partial<Record<keyof ShareRequestCreate, unknown>> = {}): ShareRequestCreate => ({
  resource,
  systemId,
  items: ['统一社会信用代码', '企业名称', '注册资本', '成立日期'],
  purpose: { business: '企业开办“一网通办”', basis: '《优化营商环境条例》第十九条' },
  dataUsers: '行政审批窗口工作人员',
  shareMethod: 'pull',
  validUntil: '2099-12-31',
  frequency: '实时',
  ...over,
}) as ShareRequestCreate;

function json(name: string, value: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value, null, 2));
  return path;
}

/** Runs a command that must succeed. */
function ok(args: string[]): string {
  const r = run(args, vars);
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

/** Runs a command that must fail with `exit` and `code`, on one line and without a stack trace. */
function fails(args: string[], exit: number, code?: string): string {
  const r = run(args, vars);
  expect(r.code, `${args.join(' ')}: ${r.stdout}${r.stderr}`).toBe(exit);
  if (code) expect(r.stderr).toContain(`[${code}]`);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  return r.stderr;
}

const parsed = <T>(args: string[]): T => JSON.parse(ok(['--json', ...args])) as T;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'govshare-requests-cli-'));
  const server = await createServerDatabaseUrl();
  drop = server?.drop;
  vars = { GOVSHARE_DATA_DIR: join(dir, 'data'), ...(server ? { DATABASE_URL: server.url } : {}) };
  const init = run(['init'], vars);
  expect(init.code, init.stderr).toBe(0);

  let offset = -40 * DAY;
  const config = loadConfig({ env: { ...vars, GOVSHARE_LOG_LEVEL: 'silent' } as NodeJS.ProcessEnv });
  const { platform: p } = await Platform.open(config, { migrate: false, mayGenerateKey: false, now: () => new Date(Date.now() + offset) });
  try {
    const cli = cliContext('test', new Set(PERMISSIONS));
    const consumer = await p.agencies.create(cli, agencyInput(31, { code: 'HYSP', nameZh: '衡阳市行政审批服务局' }));
    const provider = await p.agencies.create(cli, agencyInput(32, { code: 'HYSJ', nameZh: '衡阳市市场监督管理局' }));
    consumerId = consumer.id;
    systemId = (await p.systems.register(cli, { agencyId: consumer.id, name: '一网通办系统', purpose: '企业开办', ownerContact: { name: '李四' } })).id;
    const e = await p.catalog.create(cli, { agencyId: provider.id, content: catalogContent({}) });
    await p.catalog.submit(cli, e.id);
    resource = (await p.catalog.publish(cli, e.id, { confirmLegalBasis: true })).resourceCode!;

    const overdue = await p.requests.file(cli, { ...ask({ shareMethod: 'file' }), consumerAgencyId: consumer.id });
    overdueNumber = overdue.number;
    const ended = await p.requests.file(cli, { ...ask({ shareMethod: 'push', validUntil: chinaDateOf(new Date(Date.now() - 20 * DAY)) }), consumerAgencyId: consumer.id });
    endedGrantId = (await p.requests.approve(cli, ended.id, {})).grantId!;
    offset = 0;
  } finally {
    await p.close();
  }
}, 180_000);
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await drop?.();
});

describe('govshare requests and grants', () => {
  let narrowedNumber: number;
  let narrowedGrant: string;
  let overruledGrant: string;

  it('files from a JSON file, approves with narrower terms, shows everything and tells the history', () => {
    const filed = ok(['requests', 'file', '--file', json('request.json', ask()), '--consumer', 'HYSP']);
    const m = /share request (\d+) filed: review 待提供方审核, due (\d{4}-\d\d-\d\d)/.exec(filed);
    expect(m, filed).not.toBeNull();
    narrowedNumber = Number(m![1]);

    const terms = json('terms.json', {
      items: ['统一社会信用代码', '企业名称'],
      rowFilter: [{ item: '统一社会信用代码', op: 'prefix', values: ['91430400'] }],
      masking: { 企业名称: 'partial' },
      volumePerDay: 50_000,
    });
    const approved = ok(['requests', 'approve', String(narrowedNumber), '--terms', terms, '--comment', '最小必要']);
    expect(approved).toMatch(new RegExp(`share request ${narrowedNumber} \\(${resource.replace('/', '\\/')}\\) is now granted 已授权, decision narrowed; grant [0-9a-f-]{36}`));

    const shown = ok(['requests', 'show', String(narrowedNumber)]);
    expect(shown).toMatch(/^status\s+granted 已授权$/m);
    expect(shown).toMatch(/^consumer\s+HYSP 衡阳市行政审批服务局$/m);
    expect(shown).toMatch(/^decision\s+narrowed by cli:\S+, \d{4}-\d\d-\d\d \d\d:\d\d — 最小必要$/m);
    expect(shown).toMatch(/^row filter\s+统一社会信用代码 以 91430400 开头$/m);
    expect(shown).toMatch(/^masking\s+企业名称: partial$/m);
    expect(shown).toMatch(/^quota\s+50000\/day$/m);
    expect(shown).toMatch(/^clock\s+pause$/m);
    // The id works as well as the number.
    const id = /^id\s+(\S+)$/m.exec(shown)![1]!;
    const full = parsed<{ request: ShareRequest; grant: Grant }>(['requests', 'show', id]);
    expect(full.request).toMatchObject({ number: narrowedNumber, status: 'granted', decision: { kind: 'narrowed', comment: '最小必要' }, consumer: { code: 'HYSP' } });
    expect(full.grant).toMatchObject({ status: 'active', items: ['统一社会信用代码', '企业名称'], volumePerDay: 50_000 });
    narrowedGrant = full.grant.id;

    const history = ok(['requests', 'history', String(narrowedNumber)]);
    const actions = history.trim().split('\n').slice(1).map((l) => l.split(/\s{2,}/)[2]);
    expect(actions).toEqual(['file', 'narrow', 'grant.issue']);
    expect(history).toMatch(/narrow\s+review → granted\s+最小必要/);

    const listed = ok(['requests', 'list', '--status', 'granted']);
    expect(listed).toMatch(new RegExp(`^${narrowedNumber}\\s+granted\\s+已授权\\s+\\S+\\s+企业登记信息\\s+HYSP 衡阳市行政审批服务局\\s+HYSJ 衡阳市市场监督管理局\\s+pull\\s+-$`, 'm'));
  }, 300_000);

  it('refuses with its legal basis; the dispute is arbitrated once, finally', () => {
    const filed = parsed<ShareRequest>(['requests', 'file', '--file', json('comparison.json', { ...ask({ shareMethod: 'comparison' }), consumerAgencyId: consumerId })]);
    const n = String(filed.number);
    expect(fails(['requests', 'refuse', n, '--reason', '比对接口尚未建设', '--law', '《政务数据共享条例》'], 2)).toContain("required option '--article <text>' not specified");
    expect(ok(['requests', 'refuse', n, '--reason', '比对接口尚未建设', '--law', '《政务数据共享条例》', '--article', '第十四条'])).toContain(`share request ${n} (${resource}) is now refused 不予共享, decision refused.`);
    expect(ok(['requests', 'dispute', n, '--reason', '系统缺失不是法定不予共享理由'])).toContain('is now disputed 争议待协调');
    expect(fails(['requests', 'arbitrate', n, '--comment', '应予共享'], 2)).toContain('give exactly one of --uphold and --overrule');
    const terms = json('overrule.json', { items: ['统一社会信用代码', '成立日期'], conditions: '接口建成前按月推送' });
    const overruled = parsed<ShareRequest>(['requests', 'arbitrate', n, '--overrule', '--comment', '应予共享，可先以文件方式过渡', '--terms', terms]);
    expect(overruled).toMatchObject({ status: 'granted', arbitration: { outcome: 'overruled' } });
    overruledGrant = overruled.grantId!;
    fails(['requests', 'dispute', n, '--reason', '再议'], 7, 'GS_ERR_SHARE_REQUEST_STATE');

    const shown = ok(['requests', 'show', n]);
    expect(shown).toMatch(/^decision\s+refused by cli:\S+, .* — 比对接口尚未建设 · legal basis 《政务数据共享条例》 第十四条$/m);
    expect(shown).toMatch(/^dispute\s+系统缺失不是法定不予共享理由/m);
    expect(shown).toMatch(/^arbitration\s+overruled — 应予共享，可先以文件方式过渡/m);
    expect(shown).toMatch(/^conditions\s+接口建成前按月推送$/m);
    expect(parsed<HistoryEntry[]>(['requests', 'history', n]).map((e) => e.action)).toEqual(['file', 'refuse', 'dispute', 'arbitrate', 'grant.issue']);
  }, 300_000);

  it('sweep escalates the overdue request and expires the ended grant, once', () => {
    const overdue = ok(['requests', 'list', '--overdue']);
    expect(overdue).toMatch(new RegExp(`^${overdueNumber}\\s+review\\s+待提供方审核\\s.*\\s+file\\s+\\d{4}-\\d\\d-\\d\\d 逾期 OVERDUE$`, 'm'));
    expect(overdue.trim().split('\n')).toHaveLength(2);

    expect(ok(['requests', 'sweep'])).toContain("deadline sweep: 0 reviewers' deadlines reminded, 1 overdue requests escalated; 1 grants expired, 0 consumers reminded to renew.");
    expect(parsed(['requests', 'sweep'])).toEqual({ reminded: 0, escalated: 0, grantsExpired: 0, grantsReminded: 0 });
    expect(ok(['requests', 'show', String(overdueNumber)])).toMatch(/^deadline\s+review due \d{4}-\d\d-\d\d 逾期 OVERDUE · reminded .* · escalated \d{4}-/m);
    expect(parsed<HistoryEntry[]>(['requests', 'history', String(overdueNumber)]).map((e) => e.action)).toEqual(['file', 'escalate']);
    expect(parsed<Grant[]>(['grants', 'list', '--status', 'expired']).map((g) => g.id)).toEqual([endedGrantId]);
  }, 300_000);

  it('stats: per provider and consumer, with the approval rate and working days', () => {
    const s = parsed<Statistics>(['requests', 'stats', '--agency', 'HYSJ']);
    // The overdue one pending; the ended one approved as asked; one narrowed; one refused (then overruled).
    expect(s.providers).toEqual([expect.objectContaining({ agency: expect.objectContaining({ code: 'HYSJ' }), total: 4, pending: 1, granted: 2, narrowed: 1, refused: 1, overdue: 1, disputed: 1 })]);
    expect(s.providers[0]!.approvalRate).toBeCloseTo(2 / 3);
    expect(s.consumers).toEqual([]);
    const human = ok(['requests', 'stats']);
    expect(human).toMatch(/providers \(提供方\):\nagency\s+name\s+total.*\nHYSJ\s+衡阳市市场监督管理局\s+4\s+1\s+2\s+1\s+1\s+1\s+66\.7%\s+0\s+0$/m);
    expect(human).toMatch(/consumers \(使用方\):\n.*\nHYSP\s+衡阳市行政审批服务局\s+4\s/);
    expect(fails(['requests', 'stats', '--from', '2026-02-30'], 7, 'GS_ERR_REQUEST_INVALID')).toContain('from');
    fails(['requests', 'stats', '--agency', 'NOPE'], 6, 'GS_ERR_AGENCY_NOT_FOUND');
  }, 300_000);

  it('grants: list, show with events, suspend, reinstate, revoke, renew', () => {
    const active = parsed<Grant[]>(['grants', 'list', '--agency', 'HYSP', '--side', 'consumer', '--status', 'active']);
    expect(active.map((g) => g.id).sort()).toEqual([narrowedGrant, overruledGrant].sort());
    expect(ok(['grants', 'list', '--resource', resource, '--status', 'active,expired']).trim().split('\n')).toHaveLength(4);

    fails(['grants', 'suspend', narrowedGrant], 2);
    expect(ok(['grants', 'suspend', narrowedGrant, '--reason', '安全检查'])).toContain(`grant ${narrowedGrant} (${resource}, 一网通办系统) is now suspended 已暂停.`);
    fails(['grants', 'suspend', narrowedGrant, '--reason', '再次'], 7, 'GS_ERR_GRANT_STATE');
    expect(ok(['grants', 'reinstate', narrowedGrant, '--reason', '检查完毕'])).toContain('is now active 有效.');
    expect(ok(['grants', 'revoke', narrowedGrant, '--reason', '数据被用于申请用途以外'])).toContain('is now revoked 已撤销.');
    const shown = ok(['grants', 'show', narrowedGrant]);
    expect(shown).toMatch(/^grant status\s+revoked 已撤销 — 数据被用于申请用途以外 \(cli:\S+, /m);
    expect(shown).toMatch(/suspend\s+active → suspended\s+安全检查/);
    expect(shown).toMatch(/reinstate\s+suspended → active\s+检查完毕/);
    expect(shown).toMatch(/revoke\s+active → revoked\s+数据被用于申请用途以外/);
    fails(['grants', 'show', 'no-such-grant'], 6, 'GS_ERR_GRANT_NOT_FOUND');

    // What the exchange would decide: the revoked pull grant is refused by its code, the overruled comparison grant is in force.
    expect(fails(['grants', 'check', '--system', systemId, '--resource', resource, '--method', 'pull'], 7, 'GS_ERR_GRANT_REVOKED')).toContain(narrowedGrant);
    const inForce = ok(['grants', 'check', '--system', systemId, '--resource', resource, '--method', 'comparison']);
    expect(inForce).toMatch(new RegExp(`^grant\\s+${overruledGrant}$`, 'm'));
    expect(inForce).toMatch(/^granted items\s+统一社会信用代码、成立日期$/m);
    fails(['grants', 'check', '--system', systemId, '--resource', resource, '--method', 'email'], 7, 'GS_ERR_REQUEST_INVALID');

    expect(ok(['grants', 'renew', overruledGrant, '--until', '2100-06-30'])).toMatch(/renewal filed as share request \d+: review 待提供方审核, due \d{4}-/);
    fails(['grants', 'renew', overruledGrant, '--until', '2099-01-01'], 7, 'GS_ERR_SHARE_REQUEST_INVALID');
  }, 300_000);

  it('refuses bad input with a code naming what is wrong, never a stack trace', () => {
    expect(fails(['requests', 'file', '--file', json('broken.json', '{ "resource": "x", items: [')], 7, 'GS_ERR_SHARE_REQUEST_FILE')).toContain('broken.json: not valid JSON');
    expect(fails(['requests', 'file', '--file', join(dir, 'missing.json')], 7, 'GS_ERR_SHARE_REQUEST_FILE')).toContain('no such file');
    expect(fails(['requests', 'file', '--file', json('ok.json', ask()), '--consumer', 'NOPE'], 6, 'GS_ERR_AGENCY_NOT_FOUND')).toContain('NOPE');
    expect(fails(['requests', 'file', '--file', json('ok.json', ask())], 7, 'GS_ERR_REQUEST_INVALID')).toContain('body.consumerAgencyId');
    expect(fails(['requests', 'file', '--file', json('items.json', ask({ shareMethod: 'file', items: ['企业名称', '经营范围'] })), '--consumer', 'HYSP'], 7, 'GS_ERR_SHARE_REQUEST_ITEMS_UNKNOWN')).toContain('经营范围');
    expect(fails(['requests', 'file', '--file', json('method.json', ask({ shareMethod: 'email' })), '--consumer', 'HYSP'], 7, 'GS_ERR_REQUEST_INVALID')).toContain('body.shareMethod');

    expect(fails(['requests', 'approve', String(overdueNumber), '--terms', json('wide.json', { items: ['法定代表人身份证号'] })], 7, 'GS_ERR_SHARE_REQUEST_TERMS_INVALID')).toContain('terms.items');
    expect(fails(['requests', 'approve', String(overdueNumber), '--terms', json('typo.json', { item: ['企业名称'] })], 7, 'GS_ERR_REQUEST_INVALID')).toContain('terms.item');
    fails(['requests', 'show', '99999'], 6, 'GS_ERR_SHARE_REQUEST_NOT_FOUND');
    expect(fails(['requests', 'list', '--status', 'pending'], 7, 'GS_ERR_REQUEST_INVALID')).toContain('status.0');
    expect(fails(['requests', 'list', '--side', 'provider'], 7, 'GS_ERR_REQUEST_INVALID')).toContain('--agency');
    fails(['requests', 'conformance', String(overdueNumber), '--pass', '--fail'], 2);
    fails(['requests', 'conformance', String(overdueNumber), '--pass'], 7, 'GS_ERR_SHARE_REQUEST_STATE');
  }, 300_000);

  it('works through a running server’s admin socket', async () => {
    const port = await freePort();
    const server = start(['serve'], { ...vars, GOVSHARE_PORT: String(port), GOVSHARE_EXCHANGE_PORT: String(await freePort()), GOVSHARE_REQUEST_REMINDER_DAYS: '0' });
    try {
      await waitReady(port, server);
      // Five filed: none of the bad inputs left one behind.
      expect(parsed<ShareRequest[]>(['requests', 'list', '--agency', 'HYSP', '--side', 'consumer']).map((r) => r.status).sort()).toEqual(['granted', 'granted', 'granted', 'review', 'review']);
      expect(ok(['requests', 'ask-info', String(overdueNumber), '--question', '请补充系统等保测评报告'])).toContain('is now infoRequested 待补充材料');
      expect(ok(['requests', 'show', String(overdueNumber)])).toMatch(/^clock\s+pause, paused with 0 working days left$/m);
      expect(ok(['requests', 'reply', String(overdueNumber), '--answer', '已上传'])).toContain('is now review 待提供方审核');
      expect(ok(['requests', 'withdraw', String(overdueNumber), '--reason', '改为线下办理'])).toContain('is now withdrawn 已撤回');
      fails(['requests', 'file', '--file', json('items.json', ask({ shareMethod: 'file', items: ['经营范围'] })), '--consumer', 'HYSP'], 7, 'GS_ERR_SHARE_REQUEST_ITEMS_UNKNOWN');
      expect(parsed<HistoryEntry[]>(['requests', 'history', String(overdueNumber)]).map((e) => e.action)).toEqual(['file', 'escalate', 'ask-info', 'reply', 'withdraw']);
    } finally {
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
    }
  }, 300_000);

  it('attachments and webhooks through a running server: upload for the consumer, attach, download; a dead webhook fails, is retried and removed', async () => {
    const port = await freePort();
    const deadPort = await freePort();
    const server = start(['serve'], { ...vars, GOVSHARE_PORT: String(port), GOVSHARE_EXCHANGE_PORT: String(await freePort()), GOVSHARE_DELIVERY_MAX_ATTEMPTS: '1', GOVSHARE_DELIVERY_POLL_MS: '200' });
    try {
      await waitReady(port, server);
      const pdf = Buffer.from('%PDF-1.7\n保密协议 — 衡阳市行政审批服务局\n%%EOF\n', 'utf8');
      const agreementPath = join(dir, '保密协议.pdf');
      writeFileSync(agreementPath, pdf);
      const agreement = parsed<AttachmentView>(['attachments', 'upload', agreementPath, '--agency', 'HYSP']);
      expect(agreement).toMatchObject({ fileName: '保密协议.pdf', contentType: 'application/pdf', bytes: pdf.length, sha256: createHash('sha256').update(pdf).digest('hex'), agency: { code: 'HYSP' } });
      expect(ok(['attachments', 'show', agreement.id])).toMatch(/^agency\s+HYSP 衡阳市行政审批服务局$/m);

      // A sensitive item needs the security agreement, and only the consumer's own upload may be attached.
      const sensitive = ask({ shareMethod: 'push', items: ['统一社会信用代码', '法定代表人身份证号'] });
      fails(['requests', 'file', '--file', json('sensitive.json', sensitive), '--consumer', 'HYSP'], 7, 'GS_ERR_SHARE_REQUEST_AGREEMENT_REQUIRED');
      const platformFile = parsed<AttachmentView>(['attachments', 'upload', agreementPath, '--name', '平台副本.pdf']);
      expect(platformFile).toMatchObject({ fileName: '平台副本.pdf', agency: null });
      fails(['requests', 'file', '--file', json('foreign.json', { ...sensitive, attachments: [{ id: platformFile.id, kind: 'securityAgreement' }] }), '--consumer', 'HYSP'], 7, 'GS_ERR_ATTACHMENT_NOT_LINKABLE');
      const filed = parsed<ShareRequest>(['requests', 'file', '--file', json('agreed.json', { ...sensitive, attachments: [{ id: agreement.id, kind: 'securityAgreement' }] }), '--consumer', 'HYSP']);
      expect(filed.status).toBe('review');
      expect(filed.attachments).toEqual([expect.objectContaining({ id: agreement.id, kind: 'securityAgreement', sha256: agreement.sha256 })]);

      // The provider asks; the consumer answers with a second file.
      const reportPath = join(dir, 'report.txt');
      writeFileSync(reportPath, '等保测评报告（三级）\n');
      const report = parsed<AttachmentView>(['attachments', 'upload', reportPath, '--agency', 'HYSP']);
      expect(report.contentType).toBe('text/plain');
      ok(['requests', 'ask-info', String(filed.number), '--question', '请补充等保测评报告']);
      fails(['requests', 'reply', String(filed.number), '--answer', '见附件', '--attachment', `${report.id}:contract`], 2);
      expect(ok(['requests', 'reply', String(filed.number), '--answer', '见附件', '--attachment', report.id])).toContain('is now review 待提供方审核');
      const after = parsed<{ request: ShareRequest }>(['requests', 'show', String(filed.number)]).request;
      expect(after.attachments.map((a) => [a.id, a.kind]).sort()).toEqual([[agreement.id, 'securityAgreement'], [report.id, 'other']].sort());

      const out = join(dir, 'downloaded.pdf');
      expect(ok(['attachments', 'download', agreement.id, '--out', out])).toContain(`sha256 ${agreement.sha256}`);
      expect(readFileSync(out).equals(pdf)).toBe(true);
      expect(fails(['attachments', 'download', agreement.id, '--out', out], 2)).toContain('exists');
      expect(fails(['attachments', 'upload', join(dir, 'missing.pdf')], 2)).toContain('no such file');
      fails(['attachments', 'upload', agreementPath, '--agency', 'NOPE'], 6, 'GS_ERR_AGENCY_NOT_FOUND');
      fails(['attachments', 'show', '00000000-0000-4000-8000-000000000000'], 6, 'GS_ERR_ATTACHMENT_NOT_FOUND');

      // Webhooks: registered with its secret shown once, switched off and on, a test delivery to a dead address fails and is retried.
      const hookUrl = `http://127.0.0.1:${deadPort}/govshare`;
      const added = ok(['webhooks', 'add', hookUrl, '--agency', 'HYSP', '--kinds', 'request.decided,grant.revoked', '--description', '审批局回调']);
      const hookId = /webhook ([0-9a-f-]{36}) registered/.exec(added)![1]!;
      expect(added).toMatch(/^signing secret \(shown this once; keep it with the receiver\): \S{20,}$/m);
      const listed = parsed<Webhook[]>(['webhooks', 'list', '--agency', 'HYSP']);
      expect(listed).toEqual([expect.objectContaining({ id: hookId, url: hookUrl, kinds: ['request.decided', 'grant.revoked'], active: true, description: '审批局回调' })]);
      expect(parsed<Webhook[]>(['webhooks', 'list', '--platform'])).toEqual([]);
      expect(ok(['webhooks', 'update', hookId, '--deactivate'])).toMatch(/^active\s+no 停用$/m);
      fails(['webhooks', 'test', hookId], 7, 'GS_ERR_WEBHOOK_INACTIVE');
      expect(parsed<Webhook>(['webhooks', 'update', hookId, '--activate', '--all-kinds'])).toMatchObject({ active: true, kinds: null, version: 3 });
      fails(['webhooks', 'update', hookId], 2);
      const queued = parsed<Delivery>(['webhooks', 'test', hookId]);
      expect(queued).toMatchObject({ kind: 'webhook.test', channel: 'webhook', address: hookUrl });
      let failed: Delivery | undefined;
      for (let i = 0; i < 100 && failed === undefined; i++) {
        const d = parsed<Delivery>(['deliveries', 'show', queued.id]);
        if (d.status === 'failed') failed = d;
        else await new Promise((r) => setTimeout(r, 300));
      }
      expect(failed, 'the test delivery to a closed port ends failed after one attempt').toBeDefined();
      expect(failed!.history).toEqual([expect.objectContaining({ attempt: 1, outcome: 'failed', httpStatus: null, error: expect.any(String) })]);
      expect(ok(['deliveries', 'show', queued.id])).toMatch(/^status\s+failed 投递失败$/m);
      expect(parsed<{ items: Delivery[] }>(['deliveries', 'list', '--status', 'failed', '--channel', 'webhook']).items.map((d) => d.id)).toContain(queued.id);
      expect(parsed<{ items: Delivery[] }>(['deliveries', 'list', '--webhook', hookId]).items.map((d) => d.id)).toEqual([queued.id]);
      expect(ok(['deliveries', 'retry', queued.id])).toContain(`delivery ${queued.id} queued again for ${hookUrl}`);
      fails(['deliveries', 'list', '--status', 'lost'], 2);
      fails(['deliveries', 'retry', '00000000-0000-4000-8000-000000000000'], 6, 'GS_ERR_NOTIFICATION_DELIVERY_NOT_FOUND');

      expect(fails(['webhooks', 'add', 'ftp://127.0.0.1/x', '--agency', 'HYSP'], 7, 'GS_ERR_WEBHOOK_URL_INVALID')).toContain('http:// or https://');
      expect(fails(['webhooks', 'add', hookUrl, '--kinds', 'request.lost'], 2)).toContain('unknown notice kind request.lost');
      const platformHook = parsed<WebhookCreated>(['webhooks', 'add', hookUrl]);
      expect(platformHook.webhook.agencyId).toBeNull();
      expect(ok(['webhooks', 'remove', hookId])).toContain('removed');
      expect(ok(['webhooks', 'remove', platformHook.webhook.id])).toContain('removed');
      fails(['webhooks', 'show', hookId], 6, 'GS_ERR_WEBHOOK_NOT_FOUND');
      expect(parsed<Webhook[]>(['webhooks', 'list'])).toEqual([]);
    } finally {
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
    }
  }, 300_000);
});
