import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agencyInput, createTestPlatform, refused, userWithRoles, type TestPlatform } from '../../../test/helpers/platform.js';
import { deadUrl, startReceiver, startSmtp, type TestReceiver, type TestSmtp } from '../../../test/helpers/receivers.js';
import type { Actor } from '../../server/actor.js';
import { parseRetryDelays } from '../../server/config.js';
import { permissionsOf, type Role } from '../accounts/permissions.js';
import type { Agency } from '../agencies/schemas.js';
import { EmailSender } from './channels.js';
import type { Delivery } from './schemas.js';
import type { Audience, Notice, NotificationService } from './service.js';
import { DeliveryWorker } from './worker.js';

let t: TestPlatform;
let notifications: NotificationService;
let smtp: TestSmtp;
let receiver: TestReceiver;
let seq = 0;

const MAX_ATTEMPTS = 3;

beforeAll(async () => {
  smtp = await startSmtp();
  receiver = await startReceiver();
  t = await createTestPlatform({ smtpUrl: smtp.url, smtpFrom: 'govshare <noreply@gov.test>', deliveryMaxAttempts: MAX_ATTEMPTS, deliveryRetryDelays: '30s,2m', deliveryTimeoutMs: 400 });
  notifications = t.platform.notifications;
});
afterAll(async () => {
  await t?.close();
  await smtp?.close();
  await receiver?.close();
});

async function agency(): Promise<Agency> {
  return t.platform.agencies.create(t.cli, agencyInput(++seq));
}

async function account(roles: Role[], agencyId: string | null, email: string | null = null): Promise<{ id: string; actor: Actor }> {
  const username = `user${++seq}`;
  const { user } = await t.platform.accounts.create(t.cli, { username, displayName: username, roles, agencyId, email });
  return { id: user.id, actor: { type: 'user', userId: user.id, name: username, roles, agencyId, permissions: permissionsOf(roles) } };
}

function notice(audience: Audience[], over: Partial<Notice> = {}): Notice {
  return {
    kind: 'request.submitted',
    audience,
    subjectZh: '新的共享申请待审核',
    subject: 'A new share request to review',
    bodyZh: '市场监督管理局申请共享企业登记信息，请在 10 个工作日内答复。',
    body: 'The market regulator asks for the enterprise registry; answer within 10 working days.',
    target: { type: 'shareRequest', id: `req-${++seq}` },
    details: { requestId: `req-${seq}`, deadline: '2026-07-15' },
    ...over,
  };
}

/** Notifies in a transaction of its own, as a decision would. */
function notify(n: Notice): Promise<{ readonly recipients: number }> {
  return t.platform.db.transaction().execute((trx) => notifications.notify(n, trx));
}

async function deliveriesOf(targetId: string): Promise<Delivery[]> {
  const page = await notifications.listDeliveries({ limit: 500 });
  const ids = new Set((await t.platform.db.selectFrom('notifications').select('id').where('targetId', '=', targetId).execute()).map((r) => r.id));
  return page.items.filter((d) => ids.has(d.notificationId));
}

/** Runs the platform's worker until nothing is due. */
async function drain(worker: DeliveryWorker = t.platform.notificationDelivery): Promise<void> {
  while ((await worker.runOnce()).attempted > 0);
}

function verify(secret: string, headers: Record<string, unknown>, body: string): boolean {
  const expected = `sha256=${createHmac('sha256', secret).update(`${String(headers['x-govshare-timestamp'])}.${body}`).digest('hex')}`;
  return headers['x-govshare-signature'] === expected;
}

describe('notify', () => {
  it('writes nothing when the transaction of the decision rolls back', async () => {
    const a = await agency();
    const reviewer = await account(['reviewer'], a.id, 'reviewer@a.gov.test');
    await notifications.createWebhook(t.cli, { url: receiver.url, agencyId: a.id });
    const n = notice([{ agencyId: a.id, roles: ['reviewer'] }]);
    let reached = -1;
    await expect(
      t.platform.db.transaction().execute(async (trx) => {
        reached = (await notifications.notify(n, trx)).recipients;
        throw new Error('the decision failed');
      }),
    ).rejects.toThrow('the decision failed');
    expect(reached).toBe(1);
    expect((await notifications.inbox(reviewer.actor, { limit: 10 })).items).toEqual([]);
    expect(await t.platform.db.selectFrom('notifications').select('id').where('targetId', '=', n.target.id).execute()).toEqual([]);
    expect(await deliveriesOf(n.target.id)).toEqual([]);

    // The same notice committed: an inbox row, an e-mail and a webhook delivery.
    await notify(n);
    expect((await notifications.inbox(reviewer.actor, { limit: 10 })).items).toHaveLength(1);
    expect((await deliveriesOf(n.target.id)).map((d) => d.channel).sort()).toEqual(['email', 'webhook']);
    await drain();
  });

  it('reaches the active accounts of every audience once each, and no one else', async () => {
    const a = await agency();
    const b = await agency();
    const reviewer = await account(['reviewer'], a.id);
    const reviewerAndCataloger = await account(['reviewer', 'cataloger'], a.id);
    const gone = await account(['reviewer'], a.id);
    await t.platform.accounts.setActive(t.cli, gone.id, false, 'left the agency');
    const cataloger = await account(['cataloger'], a.id);
    const otherAgency = await account(['reviewer'], b.id);
    const supervisor = await account(['supervisor'], null);
    const goneSupervisor = await account(['supervisor'], null);
    await t.platform.accounts.setActive(t.cli, goneSupervisor.id, false, 'retired');

    const r = await notify(notice([{ agencyId: a.id, roles: ['reviewer'] }, { role: 'supervisor' }, { accountIds: [reviewer.id, cataloger.id, gone.id] }]));
    expect(r.recipients).toBe(4);
    for (const who of [reviewer, reviewerAndCataloger, cataloger, supervisor]) expect((await notifications.inbox(who.actor, { limit: 10 })).items, who.actor.name).toHaveLength(1);
    for (const who of [gone, otherAgency, goneSupervisor]) expect((await notifications.inbox(who.actor, { limit: 10 })).items, who.actor.name).toEqual([]);

    expect((await notify(notice([{ agencyId: b.id, roles: ['cataloger', 'viewer'] }]))).recipients).toBe(0);
    expect((await notify(notice([]))).recipients).toBe(0);
  });

  it('refuses a notice of an unknown kind or without text (a programming error)', async () => {
    await refused(notify(notice([{ role: 'supervisor' }], { kind: 'request.lost' as Notice['kind'] })), 'GS_ERR_NOTIFICATION_NOTICE_INVALID');
    await refused(notify(notice([{ role: 'supervisor' }], { subjectZh: ' ' })), 'GS_ERR_NOTIFICATION_NOTICE_INVALID');
    await refused(notify(notice([{ accountIds: ['not-a-uuid'] }])), 'GS_ERR_NOTIFICATION_NOTICE_INVALID');
  });
});

describe('the inbox', () => {
  it('shows each account its own notifications, newest first, unread and read, paged', async () => {
    const a = await agency();
    const me = await account(['requester'], a.id);
    const colleague = await account(['requester'], a.id);
    for (let i = 1; i <= 3; i++) await notify(notice([{ accountIds: [me.id] }], { subjectZh: `通知${i}`, subject: `Notice ${i}` }));
    await notify(notice([{ accountIds: [colleague.id] }], { subjectZh: '同事的通知' }));

    const first = await notifications.inbox(me.actor, { limit: 2 });
    expect(first.items.map((i) => i.subjectZh)).toEqual(['通知3', '通知2']);
    expect(first.next).not.toBeNull();
    const second = await notifications.inbox(me.actor, { limit: 2, before: Number(first.next) });
    expect(second.items.map((i) => i.subjectZh)).toEqual(['通知1']);
    expect(second.next).toBeNull();
    expect(await notifications.unreadCount(me.actor)).toBe(3);

    const read = await notifications.markRead(me.actor, first.items[1]!.id);
    expect(read).toMatchObject({ subjectZh: '通知2', read: true, kind: 'request.submitted', target: { type: 'shareRequest' } });
    expect((await notifications.inbox(me.actor, { unread: true, limit: 10 })).items.map((i) => i.subjectZh)).toEqual(['通知3', '通知1']);
    expect(await notifications.unreadCount(me.actor)).toBe(2);

    // Someone else's notification does not exist for me.
    const theirs = (await notifications.inbox(colleague.actor, { limit: 10 })).items[0]!;
    await refused(notifications.markRead(me.actor, theirs.id), 'GS_ERR_NOTIFICATION_NOT_FOUND');
    expect((await notifications.inbox(colleague.actor, { limit: 10 })).items[0]!.read).toBe(false);

    expect(await notifications.markAllRead(me.actor)).toBe(2);
    expect(await notifications.unreadCount(me.actor)).toBe(0);
    expect(await notifications.unreadCount(colleague.actor)).toBe(1);
  });
});

describe('e-mail', () => {
  it('arrives at the SMTP server: Chinese first, English below, to the account address', async () => {
    const a = await agency();
    await account(['reviewer'], a.id, 'li.ming@a.gov.test');
    const before = smtp.messages.length;
    const n = notice([{ agencyId: a.id, roles: ['reviewer'] }]);
    await notify(n);
    await drain();
    const [mail] = (await smtp.waitFor(before + 1)).slice(before);
    expect(mail!.subject).toBe('新的共享申请待审核 | A new share request to review');
    expect(mail!.to).toMatchObject({ text: 'li.ming@a.gov.test' });
    expect(mail!.from?.value[0]).toMatchObject({ name: 'govshare', address: 'noreply@gov.test' });
    const text = mail!.text ?? '';
    expect(text.indexOf(n.bodyZh)).toBeGreaterThanOrEqual(0);
    expect(text.indexOf(n.body)).toBeGreaterThan(text.indexOf(n.bodyZh));
    expect(mail!.headers.get('x-govshare-event')).toBe('request.submitted');
    const [d] = await deliveriesOf(n.target.id);
    expect(d).toMatchObject({ channel: 'email', status: 'delivered', address: 'li.ming@a.gov.test', attempts: 1 });
    expect(d!.history).toHaveLength(1);
    expect(d!.history[0]).toMatchObject({ outcome: 'delivered', error: null });
    expect(d!.history[0]!.smtpResponse).toMatch(/^250/);
  });

  it('is not sent to accounts that turned it off, nor to those without an address', async () => {
    const a = await agency();
    const quiet = await account(['reviewer'], a.id, 'quiet@a.gov.test');
    await account(['reviewer'], a.id, null);
    const loud = await account(['reviewer'], a.id, 'loud@a.gov.test');
    expect(await notifications.setPreferences(quiet.actor, { email: false })).toEqual({ email: false, emailAddress: 'quiet@a.gov.test', emailAvailable: true });
    expect(await notifications.preferences(loud.actor)).toMatchObject({ email: true });
    const n = notice([{ agencyId: a.id, roles: ['reviewer'] }]);
    expect((await notify(n)).recipients).toBe(3);
    expect((await deliveriesOf(n.target.id)).map((d) => d.address)).toEqual(['loud@a.gov.test']);
    // The inbox gets it all the same.
    expect(await notifications.unreadCount(quiet.actor)).toBe(1);
    await drain();
  });

  it('with the SMTP server down: notify returns at once, the worker retries with backoff, then marks it failed; visible and retried by hand', async () => {
    const a = await agency();
    await account(['reviewer'], a.id, 'wang.fang@a.gov.test');
    const down = new DeliveryWorker({
      db: t.platform.db,
      keys: t.platform.keys,
      email: new EmailSender({ url: await deadUrl('smtp'), from: 'noreply@gov.test', timeoutMs: 400 }),
      timeoutMs: 400,
      maxAttempts: MAX_ATTEMPTS,
      retryDelaysMs: parseRetryDelays('30s,2m'),
      pollMs: 60_000,
      now: t.clock.now,
    });
    const connections = smtp.connections;
    const n = notice([{ agencyId: a.id, roles: ['reviewer'] }]);
    expect((await notify(n)).recipients).toBe(1);
    // notify sent nothing: the delivery waits for the worker.
    let [d] = await deliveriesOf(n.target.id);
    expect(d).toMatchObject({ status: 'pending', attempts: 0, history: [] });

    expect(await down.runOnce()).toMatchObject({ attempted: 1, retrying: 1 });
    [d] = await deliveriesOf(n.target.id);
    expect(d).toMatchObject({ status: 'pending', attempts: 1 });
    expect(d!.lastError).toMatch(/ECONNREFUSED/);
    const firstEnd = new Date(d!.history[0]!.finishedAt).getTime();
    expect(new Date(d!.nextAttemptAt!).getTime() - firstEnd).toBe(30_000);
    // Not due yet.
    expect((await down.runOnce()).attempted).toBe(0);
    t.clock.advance(31_000);
    expect(await down.runOnce()).toMatchObject({ attempted: 1, retrying: 1 });
    [d] = await deliveriesOf(n.target.id);
    expect(new Date(d!.nextAttemptAt!).getTime() - new Date(d!.history[1]!.finishedAt).getTime()).toBe(120_000);
    t.clock.advance(121_000);
    expect(await down.runOnce()).toMatchObject({ attempted: 1, failed: 1 });
    t.clock.advance(3_600_000);
    expect((await down.runOnce()).attempted).toBe(0);
    await down.stop();

    // The operator sees it, with every attempt (logged in now: the clock moved past idle sessions).
    const operator = await userWithRoles(t, `ops${++seq}`, ['operator']);
    const r = await t.app.inject({ method: 'GET', url: '/api/v1/notification-deliveries?status=failed&channel=email', headers: operator.headers });
    expect(r.statusCode).toBe(200);
    const failed = r.json<{ items: Delivery[] }>().items.find((x) => x.id === d!.id);
    expect(failed).toMatchObject({ status: 'failed', attempts: MAX_ATTEMPTS, nextAttemptAt: null, address: 'wang.fang@a.gov.test' });
    expect(failed!.history.map((h) => h.outcome)).toEqual(['failed', 'failed', 'failed']);
    expect(failed!.history.every((h) => /ECONNREFUSED/.test(h.error ?? ''))).toBe(true);

    // Retried by hand, it goes through the (working) server of the platform.
    const retried = await t.app.inject({ method: 'POST', url: `/api/v1/notification-deliveries/${d!.id}/retry`, headers: operator.headers });
    expect(retried.statusCode, retried.body).toBe(200);
    expect(retried.json()).toMatchObject({ status: 'pending', attempts: 0 });
    const before = smtp.messages.length;
    await drain();
    expect((await smtp.waitFor(before + 1)).at(-1)!.to).toMatchObject({ text: 'wang.fang@a.gov.test' });
    const done = await notifications.getDelivery(d!.id);
    expect(done).toMatchObject({ status: 'delivered', attempts: 1 });
    expect(done.history).toHaveLength(MAX_ATTEMPTS + 1);
    // The broken server never reached the real one; the retry did.
    expect(smtp.connections).toBeGreaterThan(connections);
    const again = await t.app.inject({ method: 'POST', url: `/api/v1/notification-deliveries/${d!.id}/retry`, headers: operator.headers });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ code: 'GS_ERR_NOTIFICATION_DELIVERY_STATE' });
    const audit = await t.platform.audit.search({ targetId: d!.id, limit: 10 });
    expect(audit.map((e) => e.action)).toEqual(['notification.delivery.retry']);
  });
});

describe('webhooks', () => {
  it('delivers a signed JSON body that verifies with the secret shown at creation', async () => {
    const a = await agency();
    const { webhook, secret } = await notifications.createWebhook(t.cli, { url: receiver.url, agencyId: a.id, description: '审批系统' });
    // The secret is stored sealed with the master key, never in clear.
    const row = await t.platform.db.selectFrom('webhooks').select('secretSealed').where('id', '=', webhook.id).executeTakeFirstOrThrow();
    expect(row.secretSealed.startsWith('gsk1.')).toBe(true);
    expect(row.secretSealed).not.toContain(secret);

    const before = receiver.requests.length;
    const n = notice([{ agencyId: a.id, roles: ['reviewer'] }], { kind: 'grant.expiring', details: { grantId: 'g-1', expiresOn: '2026-08-01' } });
    await notify(n);
    await drain();
    const got = receiver.requests.slice(before);
    expect(got).toHaveLength(1);
    const req = got[0]!;
    expect(req.method).toBe('POST');
    expect(req.headers['content-type']).toMatch(/^application\/json/);
    expect(req.headers['x-govshare-event']).toBe('grant.expiring');
    const [d] = await deliveriesOf(n.target.id);
    expect(req.headers['x-govshare-delivery']).toBe(d!.id);
    expect(verify(secret, req.headers, req.body)).toBe(true);
    expect(verify('gswh_not-the-secret', req.headers, req.body)).toBe(false);
    const body = JSON.parse(req.body) as Record<string, unknown>;
    expect(body).toEqual({
      id: d!.notificationId,
      kind: 'grant.expiring',
      occurredAt: expect.any(String),
      target: n.target,
      subject: n.subject,
      subjectZh: n.subjectZh,
      details: { grantId: 'g-1', expiresOn: '2026-08-01' },
    });
    expect(d).toMatchObject({ status: 'delivered', webhookId: webhook.id });
    expect(d!.history[0]).toMatchObject({ outcome: 'delivered', httpStatus: 204 });
  });

  it('goes to the webhooks that want the kind: agency ones for agency audiences, platform-level ones for the supervisor', async () => {
    const a = await agency();
    const b = await agency();
    await account(['supervisor'], null);
    const all = (await notifications.createWebhook(t.cli, { url: `${receiver.url}?all`, agencyId: a.id })).webhook;
    const revocationsOnly = (await notifications.createWebhook(t.cli, { url: `${receiver.url}?revoked`, agencyId: a.id, kinds: ['grant.revoked'] })).webhook;
    const off = (await notifications.createWebhook(t.cli, { url: `${receiver.url}?off`, agencyId: a.id, active: false })).webhook;
    const otherAgency = (await notifications.createWebhook(t.cli, { url: `${receiver.url}?b`, agencyId: b.id })).webhook;
    const platformLevel = (await notifications.createWebhook(t.cli, { url: `${receiver.url}?platform`, agencyId: null, kinds: ['request.overdue'] })).webhook;

    const hooksOf = async (n: Notice) => (await deliveriesOf(n.target.id)).filter((d) => d.channel === 'webhook').map((d) => d.webhookId).sort();
    const submitted = notice([{ agencyId: a.id, roles: ['reviewer'] }]);
    await notify(submitted);
    expect(await hooksOf(submitted)).toEqual([all.id]);
    const revoked = notice([{ agencyId: a.id, roles: ['reviewer'] }], { kind: 'grant.revoked' });
    await notify(revoked);
    expect(await hooksOf(revoked)).toEqual([all.id, revocationsOnly.id].sort());
    const overdue = notice([{ role: 'supervisor' }], { kind: 'request.overdue' });
    await notify(overdue);
    expect(await hooksOf(overdue)).toEqual([platformLevel.id]);
    expect([off.id, otherAgency.id]).not.toContain((await hooksOf(submitted))[0]);
    await drain();
  });

  it('retries a receiver that answers 500 or hangs, then marks the delivery failed with each attempt recorded', async () => {
    const a = await agency();
    await notifications.createWebhook(t.cli, { url: receiver.url, agencyId: a.id });
    receiver.mode = 'error';
    const broken = notice([{ agencyId: a.id, roles: ['reviewer'] }]);
    await notify(broken);
    expect(await t.platform.notificationDelivery.runOnce()).toMatchObject({ attempted: 1, retrying: 1 });
    receiver.mode = 'hang';
    t.clock.advance(31_000);
    expect(await t.platform.notificationDelivery.runOnce()).toMatchObject({ attempted: 1, retrying: 1 });
    receiver.mode = 'error';
    t.clock.advance(121_000);
    expect(await t.platform.notificationDelivery.runOnce()).toMatchObject({ attempted: 1, failed: 1 });
    receiver.mode = 'ok';
    const [d] = await deliveriesOf(broken.target.id);
    expect(d).toMatchObject({ status: 'failed', attempts: 3 });
    expect(d!.history.map((h) => [h.outcome, h.httpStatus])).toEqual([
      ['failed', 500],
      ['failed', null],
      ['failed', 500],
    ]);
    expect(d!.history[0]!.error).toBe('HTTP 500: receiver broken');
    expect(d!.history[1]!.error).toBe('no answer within 400 ms');

    // Retried by hand (the receiver works again): delivered, with the same delivery id.
    const before = receiver.requests.length;
    await notifications.retryDelivery(t.cli, d!.id);
    await drain();
    expect(receiver.requests.slice(before).map((r) => r.headers['x-govshare-delivery'])).toEqual([d!.id]);
    expect((await notifications.getDelivery(d!.id)).status).toBe('delivered');
  });

  it('lets two workers run at once and delivers each delivery exactly once', async () => {
    const a = await agency();
    await notifications.createWebhook(t.cli, { url: receiver.url, agencyId: a.id });
    const targets: string[] = [];
    for (let i = 0; i < 25; i++) {
      const n = notice([{ agencyId: a.id, roles: ['reviewer'] }]);
      targets.push(n.target.id);
      await notify(n);
    }
    const second = new DeliveryWorker({ db: t.platform.db, keys: t.platform.keys, email: null, timeoutMs: 2000, maxAttempts: 3, retryDelaysMs: [30_000], pollMs: 60_000, now: t.clock.now });
    const before = receiver.requests.length;
    await Promise.all([drain(), drain(second), drain(), drain(second)]);
    await second.stop();
    const ids = receiver.requests.slice(before).map((r) => String(r.headers['x-govshare-delivery']));
    expect(ids).toHaveLength(25);
    expect(new Set(ids).size).toBe(25);
    const mine = (await Promise.all(targets.map(deliveriesOf))).flat();
    expect(mine.every((d) => d.status === 'delivered' && d.history.length === 1)).toBe(true);
  });
});
