import type { Command } from 'commander';
import type { Delivery, Webhook } from '../modules/notifications/schemas.js';
import { DELIVERY_CHANNELS, DELIVERY_STATUSES, NOTICE_KINDS } from '../modules/notifications/vocabulary.js';
import { action, chinaTime, configFrom, limitOf, listOf, print, runOperation, table, usage } from './context.js';

const STATUS_ZH: Readonly<Record<Delivery['status'], string>> = { pending: '待投递', delivered: '已投递', failed: '投递失败' };

function kindsOf(command: Command, raw: readonly string[]): (typeof NOTICE_KINDS)[number][] {
  const kinds = listOf(raw);
  const unknown = kinds.find((k) => !(NOTICE_KINDS as readonly string[]).includes(k));
  if (unknown !== undefined) usage(command, `unknown notice kind ${unknown}; one of ${NOTICE_KINDS.join(', ')}`);
  return kinds as (typeof NOTICE_KINDS)[number][];
}

function oneOfList<T extends string>(command: Command, flag: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) usage(command, `${flag} must be one of ${allowed.join(', ')}, not ${value}`);
  return value as T;
}

function webhookRows(w: Webhook): string[][] {
  return [
    ['id', w.id],
    ['url', w.url],
    ['agency', w.agencyId ?? 'platform-level (平台级)'],
    ['kinds', w.kinds ? w.kinds.join(', ') : 'all (全部)'],
    ['active', w.active ? 'yes 启用' : 'no 停用'],
    ['description', w.description || '-'],
    ['created', `${chinaTime(w.createdAt)} by ${w.createdBy}`],
    ['version', String(w.version)],
  ];
}

function deliveriesTable(items: readonly Delivery[]): string {
  if (items.length === 0) return '(no deliveries)';
  return table(
    ['id', 'created (China time)', 'kind', 'channel', 'address', 'status', '状态', 'attempts', 'last error'],
    items.map((d) => [d.id, chinaTime(d.createdAt), d.kind, d.channel, d.address, d.status, STATUS_ZH[d.status], String(d.attempts), d.lastError ?? '']),
  );
}

function deliveryText(d: Delivery): string {
  const head = table(
    ['field', 'value'],
    [
      ['id', d.id],
      ['kind', d.kind],
      ['channel', d.channel],
      ['address', d.address],
      ['status', `${d.status} ${STATUS_ZH[d.status]}`],
      ['attempts', String(d.attempts)],
      ['next attempt', d.nextAttemptAt ? chinaTime(d.nextAttemptAt) : '-'],
      ['delivered', d.deliveredAt ? chinaTime(d.deliveredAt) : '-'],
      ['last error', d.lastError ?? '-'],
    ],
  );
  const history =
    d.history.length === 0
      ? '(no attempts yet)'
      : table(
          ['#', 'started (China time)', 'worker', 'outcome', 'HTTP', 'SMTP', 'error'],
          d.history.map((a) => [String(a.attempt), chinaTime(a.startedAt), a.worker, a.outcome, a.httpStatus === null ? '' : String(a.httpStatus), a.smtpResponse ?? '', a.error ?? '']),
        );
  return `${head}\n\n${history}`;
}

/** `govshare webhooks …` and `govshare deliveries …` (docs/notifications.md). */
export function registerNotifications(program: Command): void {
  const webhooks = program.command('webhooks').description("webhooks: where the platform POSTs agencies' and the supervisor's notices, signed (docs/notifications.md)");

  webhooks
    .command('list')
    .description('webhooks of every agency and the platform-level ones')
    .option('--agency <codeOrId>', "only this agency's")
    .option('--platform', 'only the platform-level ones (the supervisor\'s notices)')
    .option('--limit <n>', 'at most this many (1–500)', '50')
    .action(
      action(async (opts: { agency?: string; platform?: boolean; limit: string }, command: Command) => {
        const items = await runOperation(configFrom(command), 'webhookList', { ...(opts.agency ? { agency: opts.agency } : {}), ...(opts.platform ? { platform: true } : {}), limit: limitOf(opts.limit) });
        print(command, items, () =>
          items.length === 0
            ? '(no webhooks)'
            : table(
                ['id', 'agency', 'url', 'kinds', 'active'],
                items.map((w) => [w.id, w.agencyId ?? 'platform', w.url, w.kinds ? w.kinds.join(',') : 'all', w.active ? 'yes' : 'no']),
              ),
        );
      }),
    );

  webhooks
    .command('add <url>')
    .description('register a webhook; its signing secret is printed this once')
    .option('--agency <codeOrId>', "the agency whose notices it receives (default: platform-level, the supervisor's notices)")
    .option('--kinds <kind...>', `only these notice kinds (several, or comma-separated): ${NOTICE_KINDS.join(', ')}`)
    .option('--description <text>', 'what it is for')
    .option('--inactive', 'register it switched off')
    .action(
      action(async (url: string, opts: { agency?: string; kinds?: string[]; description?: string; inactive?: boolean }, command: Command) => {
        const r = await runOperation(configFrom(command), 'webhookAdd', {
          url,
          ...(opts.agency ? { agency: opts.agency } : {}),
          ...(opts.kinds ? { kinds: kindsOf(command, opts.kinds) } : {}),
          ...(opts.description !== undefined ? { description: opts.description } : {}),
          ...(opts.inactive ? { active: false } : {}),
        });
        print(command, r, () =>
          [
            `govshare: webhook ${r.webhook.id} registered for ${r.webhook.url}.`,
            `signing secret (shown this once; keep it with the receiver): ${r.secret}`,
            'The receiver checks X-Govshare-Signature against it (docs/notifications.md).',
          ].join('\n'),
        );
      }),
    );

  webhooks
    .command('show <id>')
    .description('one webhook and its latest deliveries')
    .option('--limit <n>', 'deliveries shown (1–500)', '10')
    .action(
      action(async (id: string, opts: { limit: string }, command: Command) => {
        const r = await runOperation(configFrom(command), 'webhookShow', { id, limit: limitOf(opts.limit) });
        print(command, r, () => `${table(['field', 'value'], webhookRows(r.webhook))}\n\n${deliveriesTable(r.deliveries)}`);
      }),
    );

  webhooks
    .command('update <id>')
    .description("change a webhook's address, kinds, description, or switch it on or off")
    .option('--url <url>', 'the new address')
    .option('--kinds <kind...>', 'only these notice kinds from now on')
    .option('--all-kinds', 'every notice kind from now on')
    .option('--description <text>', 'what it is for')
    .option('--activate', 'switch it on')
    .option('--deactivate', 'switch it off (nothing is sent while it is off)')
    .action(
      action(async (id: string, opts: { url?: string; kinds?: string[]; allKinds?: boolean; description?: string; activate?: boolean; deactivate?: boolean }, command: Command) => {
        if (opts.kinds && opts.allKinds) usage(command, 'give --kinds or --all-kinds, not both');
        if (opts.activate && opts.deactivate) usage(command, 'give --activate or --deactivate, not both');
        const patch = {
          ...(opts.url !== undefined ? { url: opts.url } : {}),
          ...(opts.kinds ? { kinds: kindsOf(command, opts.kinds) } : opts.allKinds ? { kinds: null } : {}),
          ...(opts.description !== undefined ? { description: opts.description } : {}),
          ...(opts.activate ? { active: true } : opts.deactivate ? { active: false } : {}),
        };
        if (Object.keys(patch).length === 0) usage(command, 'nothing to change: give --url, --kinds, --all-kinds, --description, --activate or --deactivate');
        const w = await runOperation(configFrom(command), 'webhookUpdate', { id, ...patch });
        print(command, w, () => table(['field', 'value'], webhookRows(w)));
      }),
    );

  webhooks
    .command('remove <id>')
    .description('delete a webhook; its pending deliveries are given up')
    .action(
      action(async (id: string, _opts: unknown, command: Command) => {
        const r = await runOperation(configFrom(command), 'webhookRemove', { id });
        print(command, r, () => `govshare: webhook ${id} removed; its pending deliveries were given up.`);
      }),
    );

  webhooks
    .command('test <id>')
    .description('queue a test delivery (kind webhook.test) to the webhook; `govshare deliveries show ID` follows it')
    .action(
      action(async (id: string, _opts: unknown, command: Command) => {
        const d = await runOperation(configFrom(command), 'webhookTest', { id });
        print(command, d, () => `govshare: test delivery ${d.id} queued for ${d.address} (${d.status} ${STATUS_ZH[d.status]}).`);
      }),
    );

  const deliveries = program.command('deliveries').description('e-mail and webhook deliveries of notifications, with every attempt (docs/notifications.md)');

  deliveries
    .command('list')
    .description('deliveries, newest first')
    .option('--status <status>', DELIVERY_STATUSES.join(' | '))
    .option('--channel <channel>', DELIVERY_CHANNELS.join(' | '))
    .option('--webhook <id>', 'only the deliveries to this webhook')
    .option('--limit <n>', 'at most this many (1–500)', '50')
    .action(
      action(async (opts: { status?: string; channel?: string; webhook?: string; limit: string }, command: Command) => {
        const status = oneOfList(command, '--status', opts.status, DELIVERY_STATUSES);
        const channel = oneOfList(command, '--channel', opts.channel, DELIVERY_CHANNELS);
        const page = await runOperation(configFrom(command), 'deliveryList', { ...(status ? { status } : {}), ...(channel ? { channel } : {}), ...(opts.webhook ? { webhook: opts.webhook } : {}), limit: limitOf(opts.limit) });
        print(command, page, () => deliveriesTable(page.items) + (page.next ? `\n(more: there are older deliveries)` : ''));
      }),
    );

  deliveries
    .command('show <id>')
    .description('one delivery with every attempt (time, outcome, HTTP status or SMTP response, error)')
    .action(
      action(async (id: string, _opts: unknown, command: Command) => {
        const d = await runOperation(configFrom(command), 'deliveryShow', { id });
        print(command, d, () => deliveryText(d));
      }),
    );

  deliveries
    .command('retry <id>')
    .description('try a failed (or waiting) delivery again now, with a fresh series of attempts')
    .action(
      action(async (id: string, _opts: unknown, command: Command) => {
        const d = await runOperation(configFrom(command), 'deliveryRetry', { id });
        print(command, d, () => `govshare: delivery ${d.id} queued again for ${d.address} (${d.status} ${STATUS_ZH[d.status]}).`);
      }),
    );
}
