import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agencyInput, createTestPlatform, userWithRoles, type LoggedIn, type TestPlatform } from '../../../test/helpers/platform.js';
import type { Agency } from '../agencies/schemas.js';
import type { Delivery, InboxItem, Webhook, WebhookCreated } from './schemas.js';

let t: TestPlatform;
let home: Agency;
let other: Agency;
let homeAdmin: LoggedIn;
let otherAdmin: LoggedIn;
let reviewer: LoggedIn;
let operator: LoggedIn;
let auditor: LoggedIn;

const V1 = '/api/v1';

beforeAll(async () => {
  t = await createTestPlatform();
  home = await t.platform.agencies.create(t.cli, agencyInput(1));
  other = await t.platform.agencies.create(t.cli, agencyInput(2));
  homeAdmin = await userWithRoles(t, 'home-nodeadmin', ['nodeAdmin'], home.id);
  otherAdmin = await userWithRoles(t, 'other-nodeadmin', ['nodeAdmin'], other.id);
  reviewer = await userWithRoles(t, 'home-reviewer', ['reviewer'], home.id);
  operator = await userWithRoles(t, 'the-operator', ['operator']);
  auditor = await userWithRoles(t, 'the-auditor', ['auditor']);
});
afterAll(async () => t?.close());

function call(who: LoggedIn, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: Record<string, unknown>) {
  return t.app.inject({ method, url: `${V1}${url}`, headers: who.headers, ...(payload ? { payload } : {}) });
}

describe('webhooks over HTTP', () => {
  it("lets a node admin manage its own agency's webhooks and keeps other agencies' out of reach", async () => {
    let r = await call(homeAdmin, 'POST', '/webhooks', { url: 'https://approvals.home.gov.test/hooks/govshare', kinds: ['request.submitted', 'request.decided'], description: '审批系统' });
    expect(r.statusCode, r.body).toBe(201);
    const created = r.json<WebhookCreated>();
    expect(created.webhook).toMatchObject({ agencyId: home.id, kinds: ['request.submitted', 'request.decided'], active: true, createdBy: 'home-nodeadmin' });
    expect(created.secret).toMatch(/^gswh_/);
    const id = created.webhook.id;

    r = await call(homeAdmin, 'GET', `/webhooks/${id}`);
    expect(r.statusCode).toBe(200);
    expect(r.body).not.toContain(created.secret);
    expect((await call(homeAdmin, 'GET', '/webhooks')).json<{ items: Webhook[] }>().items.map((w) => w.id)).toEqual([id]);

    // Another agency's node admin: it does not exist for them, and they cannot register for it.
    expect((await call(otherAdmin, 'GET', '/webhooks')).json<{ items: Webhook[] }>().items).toEqual([]);
    for (const [method, url, payload] of [
      ['GET', `/webhooks/${id}`, undefined],
      ['PATCH', `/webhooks/${id}`, { active: false }],
      ['DELETE', `/webhooks/${id}`, undefined],
      ['POST', `/webhooks/${id}/test`, undefined],
      ['GET', `/webhooks/${id}/deliveries`, undefined],
    ] as const) {
      r = await call(otherAdmin, method, url, payload);
      expect(r.statusCode, `${method} ${url}`).toBe(404);
      expect(r.json()).toMatchObject({ code: 'GS_ERR_WEBHOOK_NOT_FOUND' });
    }
    r = await call(otherAdmin, 'POST', '/webhooks', { url: 'https://x.gov.test/', agencyId: home.id });
    expect(r.statusCode).toBe(403);
    expect(r.json()).toMatchObject({ code: 'GS_ERR_AUTH_WRONG_AGENCY' });
    r = await call(otherAdmin, 'POST', '/webhooks', { url: 'https://x.gov.test/', agencyId: null });
    expect(r.statusCode).toBe(403);
    r = await call(otherAdmin, 'GET', `/webhooks?agencyId=${home.id}`);
    expect(r.statusCode).toBe(403);

    // A reviewer holds no webhook:manage.
    r = await call(reviewer, 'GET', '/webhooks');
    expect(r.statusCode).toBe(403);
    expect(r.json()).toMatchObject({ code: 'GS_ERR_AUTH_FORBIDDEN', details: { permission: 'webhook:manage' } });

    r = await call(homeAdmin, 'PATCH', `/webhooks/${id}`, { kinds: null, active: false, expectedVersion: 1 });
    expect(r.statusCode, r.body).toBe(200);
    expect(r.json()).toMatchObject({ kinds: null, active: false, version: 2 });
    r = await call(homeAdmin, 'PATCH', `/webhooks/${id}`, { active: true, expectedVersion: 1 });
    expect(r.json()).toMatchObject({ code: 'GS_ERR_REQUEST_CONFLICT' });
    r = await call(homeAdmin, 'POST', `/webhooks/${id}/test`);
    expect(r.statusCode).toBe(409);
    expect(r.json()).toMatchObject({ code: 'GS_ERR_WEBHOOK_INACTIVE' });
    await call(homeAdmin, 'PATCH', `/webhooks/${id}`, { active: true });

    // A test delivery is queued, and the node admin sees it among the webhook's deliveries.
    r = await call(homeAdmin, 'POST', `/webhooks/${id}/test`);
    expect(r.statusCode).toBe(202);
    const test = r.json<Delivery>();
    expect(test).toMatchObject({ kind: 'webhook.test', channel: 'webhook', webhookId: id, status: 'pending', address: 'https://approvals.home.gov.test/hooks/govshare' });
    expect((await call(homeAdmin, 'GET', `/webhooks/${id}/deliveries`)).json<{ items: Delivery[] }>().items.map((d) => d.id)).toEqual([test.id]);

    r = await call(homeAdmin, 'DELETE', `/webhooks/${id}`);
    expect(r.statusCode).toBe(204);
    expect((await call(homeAdmin, 'GET', `/webhooks/${id}`)).statusCode).toBe(404);
    // Its pending delivery was given up, with the reason; it cannot be retried.
    r = await call(operator, 'GET', `/notification-deliveries/${test.id}`);
    expect(r.json()).toMatchObject({ status: 'failed', lastError: 'the webhook was deleted' });
    r = await call(operator, 'POST', `/notification-deliveries/${test.id}/retry`);
    expect(r.statusCode).toBe(409);

    const audit = await t.platform.audit.search({ targetId: id, limit: 20 });
    expect(audit.map((e) => e.action).sort()).toEqual(['webhook.create', 'webhook.delete', 'webhook.test', 'webhook.update', 'webhook.update']);
  });

  it('refuses an address that is not http(s), with the field named', async () => {
    for (const url of ['ftp://files.gov.test/drop', 'javascript:alert(1)', 'not a url', 'file:///etc/passwd', 'https://user:secret@hooks.gov.test/']) {
      const r = await call(homeAdmin, 'POST', '/webhooks', { url });
      expect(r.statusCode, url).toBe(400);
      const body = r.json<{ code: string; messageZh: string; details: { fields: { field: string; rule: string }[] } }>();
      expect(body.code).toBe('GS_ERR_WEBHOOK_URL_INVALID');
      expect(body.details.fields[0]!.field).toBe('body.url');
      expect(body.messageZh).toMatch(/^Webhook 地址不可用：/);
    }
    let r = await call(homeAdmin, 'POST', '/webhooks', { url: 'https://hooks.gov.test/', kinds: ['request.lost'] });
    expect(r.statusCode).toBe(400);
    r = await call(operator, 'POST', '/webhooks', { url: 'https://hooks.gov.test/', agencyId: '00000000-0000-4000-8000-000000000000' });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ code: 'GS_ERR_WEBHOOK_AGENCY_INVALID' });
    const hook = (await call(homeAdmin, 'POST', '/webhooks', { url: 'http://10.0.0.7:8080/hook' })).json<WebhookCreated>().webhook;
    r = await call(homeAdmin, 'PATCH', `/webhooks/${hook.id}`, { url: 'gopher://x' });
    expect(r.json()).toMatchObject({ code: 'GS_ERR_WEBHOOK_URL_INVALID' });
  });

  it("lets the operator manage every agency's webhooks and the platform-level ones", async () => {
    let r = await call(operator, 'POST', '/webhooks', { url: 'https://supervision.gov.test/hook', kinds: ['request.overdue', 'request.disputed'] });
    expect(r.statusCode).toBe(201);
    const platformLevel = r.json<WebhookCreated>().webhook;
    expect(platformLevel.agencyId).toBeNull();
    r = await call(operator, 'POST', '/webhooks', { url: 'https://other.gov.test/hook', agencyId: other.id });
    const otherHook = r.json<WebhookCreated>().webhook;
    expect(otherHook.agencyId).toBe(other.id);
    const all = (await call(operator, 'GET', '/webhooks?limit=500')).json<{ items: Webhook[] }>().items.map((w) => w.id);
    expect(all).toEqual(expect.arrayContaining([platformLevel.id, otherHook.id]));
    expect((await call(operator, 'GET', `/webhooks?agencyId=${other.id}`)).json<{ items: Webhook[] }>().items.map((w) => w.id)).toEqual([otherHook.id]);
    expect((await call(operator, 'PATCH', `/webhooks/${otherHook.id}`, { description: '由运维代为登记' })).statusCode).toBe(200);
    // The agency's node admin sees the one the operator registered for it, not the platform's.
    expect((await call(otherAdmin, 'GET', `/webhooks/${otherHook.id}`)).statusCode).toBe(200);
    expect((await call(otherAdmin, 'GET', `/webhooks/${platformLevel.id}`)).statusCode).toBe(404);

    // Deliveries are the operator's view.
    await call(operator, 'POST', `/webhooks/${platformLevel.id}/test`);
    r = await call(operator, 'GET', '/notification-deliveries?status=pending&channel=webhook');
    expect(r.statusCode).toBe(200);
    expect(r.json<{ items: Delivery[] }>().items.some((d) => d.webhookId === platformLevel.id)).toBe(true);
    expect((await call(operator, 'GET', '/notification-deliveries?status=delivered')).json<{ items: Delivery[] }>().items).toEqual([]);
    expect((await call(homeAdmin, 'GET', '/notification-deliveries')).statusCode).toBe(403);
    expect((await call(operator, 'GET', '/notification-deliveries?status=lost')).statusCode).toBe(400);
    expect((await call(operator, 'GET', '/notification-deliveries/00000000-0000-4000-8000-000000000000')).json()).toMatchObject({ code: 'GS_ERR_NOTIFICATION_DELIVERY_NOT_FOUND' });
  });
});

describe('the inbox over HTTP', () => {
  it('shows, counts and marks read only your own notifications; the auditor has none', async () => {
    const notify = (accountIds: string[], subjectZh: string) =>
      t.platform.db.transaction().execute((trx) =>
        t.platform.notifications.notify({ kind: 'request.decided', audience: [{ accountIds }], subjectZh, subject: 'Decided', bodyZh: '申请已批准。', body: 'The request was approved.', target: { type: 'shareRequest', id: subjectZh } }, trx),
      );
    await notify([reviewer.userId], '决定一');
    await notify([reviewer.userId, homeAdmin.userId], '决定二');

    let r = await call(reviewer, 'GET', '/notifications/unread-count');
    expect(r.json()).toEqual({ unread: 2 });
    r = await call(reviewer, 'GET', '/notifications?limit=1');
    const page1 = r.json<{ items: InboxItem[]; next: string | null }>();
    expect(page1.items.map((i) => i.subjectZh)).toEqual(['决定二']);
    r = await call(reviewer, 'GET', `/notifications?limit=1&before=${page1.next}`);
    expect(r.json<{ items: InboxItem[] }>().items.map((i) => i.subjectZh)).toEqual(['决定一']);

    r = await call(reviewer, 'POST', `/notifications/${page1.items[0]!.id}/read`);
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ read: true, subjectZh: '决定二' });
    expect((await call(reviewer, 'GET', '/notifications?unread=true')).json<{ items: InboxItem[] }>().items.map((i) => i.subjectZh)).toEqual(['决定一']);
    // The node admin's copy of 决定二 is theirs: still unread, and not the reviewer's to mark.
    const theirs = (await call(homeAdmin, 'GET', '/notifications')).json<{ items: InboxItem[] }>().items;
    expect(theirs.map((i) => [i.subjectZh, i.read])).toEqual([['决定二', false]]);
    r = await call(reviewer, 'POST', `/notifications/${theirs[0]!.id}/read`);
    expect(r.statusCode).toBe(404);
    expect(r.json()).toMatchObject({ code: 'GS_ERR_NOTIFICATION_NOT_FOUND' });

    r = await call(reviewer, 'POST', '/notifications/read-all');
    expect(r.json()).toEqual({ marked: 1 });
    expect((await call(reviewer, 'GET', '/notifications/unread-count')).json()).toEqual({ unread: 0 });
    expect((await call(homeAdmin, 'GET', '/notifications/unread-count')).json()).toEqual({ unread: 1 });

    r = await call(auditor, 'GET', '/notifications');
    expect(r.statusCode).toBe(403);
    expect(r.json()).toMatchObject({ details: { permission: 'notification:read' } });
  });

  it('keeps the e-mail preference per account', async () => {
    let r = await call(reviewer, 'GET', '/notifications/preferences');
    // This platform sends no e-mail (no GOVSHARE_SMTP_URL); the preference is kept all the same.
    expect(r.json()).toEqual({ email: true, emailAddress: null, emailAvailable: false });
    r = await call(reviewer, 'PUT', '/notifications/preferences', { email: false });
    expect(r.json()).toMatchObject({ email: false });
    expect((await call(reviewer, 'GET', '/notifications/preferences')).json()).toMatchObject({ email: false });
    expect((await call(homeAdmin, 'GET', '/notifications/preferences')).json()).toMatchObject({ email: true });
    r = await call(reviewer, 'PUT', '/notifications/preferences', { email: 'no' });
    expect(r.statusCode).toBe(400);
  });
});
