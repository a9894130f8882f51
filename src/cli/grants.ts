import type { Command } from 'commander';
import type { Grant, GrantEvent } from '../modules/grants/schemas.js';
import { GRANT_STATUS_ZH } from '../modules/grants/vocabulary.js';
import type { ShareRequest } from '../modules/requests/schemas.js';
import { action, chinaTime, configFrom, limitOf, listOf, print, runOperation, table } from './context.js';

/** The terms of a grant, as rows of a field/value table (also under `requests show`). */
export function grantRows(g: Grant): string[][] {
  const masking = Object.entries(g.masking).map(([item, kind]) => `${item}: ${kind}`);
  const quota = [g.ratePerMinute === null ? '' : `${g.ratePerMinute}/min`, g.volumePerDay === null ? '' : `${g.volumePerDay}/day`].filter(Boolean);
  return [
    ['grant', g.id],
    ['grant status', `${g.status} ${GRANT_STATUS_ZH[g.status]}${g.statusReason ? ` — ${g.statusReason}` : ''}${g.statusChangedBy && g.statusChangedAt ? ` (${g.statusChangedBy}, ${chinaTime(g.statusChangedAt)})` : ''}`],
    ['granted items', g.items.join('、')],
    ['row filter', g.rowFilterText || 'every row (全部)'],
    ['masking', masking.length > 0 ? masking.join('; ') : '-'],
    ['quota', quota.length > 0 ? quota.join(', ') : '-'],
    ['in force', `${chinaTime(g.validFrom)} … ${g.validUntil}`],
    ['conditions', g.conditions ?? '-'],
  ];
}

function eventsTable(events: readonly GrantEvent[]): string {
  return table(
    ['at (China time)', 'actor', 'action', 'status', 'reason'],
    events.map((e) => [chinaTime(e.at), e.actor, e.action, e.statusFrom === null || e.statusFrom === e.statusTo ? (e.statusTo ?? '') : `${e.statusFrom} → ${e.statusTo ?? ''}`, e.reason ?? '']),
  );
}

function changed(g: Grant): string {
  return `govshare: grant ${g.id} (${g.resourceCode}, ${g.system.name}) is now ${g.status} ${GRANT_STATUS_ZH[g.status]}.`;
}

export function registerGrants(program: Command): void {
  const grants = program.command('grants').description('grants (授权): what a business system may receive of a resource, and until when');

  grants
    .command('list')
    .description('grants, newest first')
    .option('--agency <codeOrId>', 'grants this agency holds or gave')
    .option('--side <side>', 'with --agency: consumer (it holds) or provider (it gave)')
    .option('--system <id>', 'grants of this business system')
    .option('--resource <code>', 'grants of this resource (资源代码)')
    .option('--method <method>', 'push | pull | comparison | file')
    .option('--status <status...>', 'active, suspended, revoked, expired (several, or comma-separated)')
    .option('--ending-by <date>', 'in force and ending on or before this day')
    .option('--limit <n>', 'at most this many (1–500)', '50')
    .action(
      action(async (opts: { agency?: string; side?: string; system?: string; resource?: string; method?: string; status?: string[]; endingBy?: string; limit: string }, command: Command) => {
        const items = await runOperation(configFrom(command), 'grantList', {
          ...(opts.agency ? { agency: opts.agency } : {}),
          ...(opts.side ? { side: opts.side as 'consumer' | 'provider' } : {}),
          ...(opts.system ? { system: opts.system } : {}),
          ...(opts.resource ? { resource: opts.resource } : {}),
          ...(opts.method ? { method: opts.method as Grant['shareMethod'] } : {}),
          ...(opts.status ? { status: listOf(opts.status) as Grant['status'][] } : {}),
          ...(opts.endingBy ? { endingBy: opts.endingBy } : {}),
          limit: limitOf(opts.limit),
        });
        print(command, items, () =>
          items.length === 0
            ? '(no grants)'
            : table(
                ['id', 'status', '状态', 'resource', 'consumer', 'system', 'provider', 'method', 'items', 'valid until'],
                items.map((g) => [g.id, g.status, GRANT_STATUS_ZH[g.status], g.resourceCode, `${g.consumer.code} ${g.consumer.name}`, g.system.name, `${g.provider.code} ${g.provider.name}`, g.shareMethod, String(g.items.length), g.validUntil]),
              ),
        );
      }),
    );

  grants
    .command('show <id>')
    .description('one grant: its terms and everything that happened to it')
    .action(
      action(async (id: string, _opts: unknown, command: Command) => {
        const r = await runOperation(configFrom(command), 'grantShow', { id });
        const g = r.grant;
        print(command, r, () =>
          [
            table(
              ['field', 'value'],
              [
                ['resource', g.resourceCode],
                ['consumer', `${g.consumer.code} ${g.consumer.name}`],
                ['system', `${g.system.name} (${g.system.id})`],
                ['provider', `${g.provider.code} ${g.provider.name}`],
                ['method', g.shareMethod],
                ['purpose', g.purpose],
                ['share request', g.requestId],
                ...grantRows(g),
                ['version', String(g.version)],
              ],
            ),
            '',
            eventsTable(r.events),
          ].join('\n'),
        );
      }),
    );

  for (const [name, description] of [
    ['suspend', 'suspend a grant (the exchange refuses it at once); the reason is shown to both agencies'],
    ['reinstate', 'put a suspended grant back in force'],
    ['revoke', 'revoke a grant for good'],
  ] as const) {
    grants
      .command(`${name} <id>`)
      .description(description)
      .requiredOption('--reason <text>', 'why; shown to both agencies')
      .action(
        action(async (id: string, opts: { reason: string }, command: Command) => {
          const op = name === 'suspend' ? 'grantSuspend' : name === 'reinstate' ? 'grantReinstate' : 'grantRevoke';
          const g = await runOperation(configFrom(command), op, { id, reason: opts.reason });
          print(command, g, () => changed(g));
        }),
      );
  }

  grants
    .command('check')
    .description('what the exchange decides now for a business system, resource and method: the grant in force, or the refusal and its code (exit 7)')
    .requiredOption('--system <id>', 'the business system (its id)')
    .requiredOption('--resource <code>', 'the resource code (资源代码)')
    .requiredOption('--method <method>', 'push | pull | comparison | file')
    .action(
      action(async (opts: { system: string; resource: string; method: string }, command: Command) => {
        const g = await runOperation(configFrom(command), 'grantCheck', { system: opts.system, resource: opts.resource, method: opts.method as Grant['shareMethod'] });
        print(command, g, () =>
          table(
            ['field', 'value'],
            [
              ['decision', 'allowed 准予'],
              ['grant', g.grantId],
              ['share request', g.requestId],
              ['granted items', g.items.join('、')],
              ['row filter', g.rowFilter.length === 0 ? 'every row (全部)' : g.rowFilter.map((c) => `${c.item} ${c.op} ${c.values.join(',')}`).join('; ')],
              ['masking', Object.keys(g.masking).length === 0 ? '-' : Object.entries(g.masking).map(([item, kind]) => `${item}: ${kind}`).join('; ')],
              ['quota', [g.ratePerMinute === null ? '' : `${g.ratePerMinute}/min`, g.volumePerDay === null ? '' : `${g.volumePerDay}/day`].filter(Boolean).join(', ') || '-'],
              ['purpose', g.purpose],
              ['in force until', g.validUntil],
            ],
          ),
        );
      }),
    );

  grants
    .command('renew <id>')
    .description('ask to renew an active grant: a new share request with its terms and a later end, reviewed like any other')
    .requiredOption('--until <date>', 'the new last day wanted (YYYY-MM-DD)')
    .option('--comment <text>', 'a note for the reviewers')
    .action(
      action(async (id: string, opts: { until: string; comment?: string }, command: Command) => {
        const r: ShareRequest = await runOperation(configFrom(command), 'grantRenew', { id, until: opts.until, ...(opts.comment ? { comment: opts.comment } : {}) });
        print(command, r, () => `govshare: renewal filed as share request ${r.number}: ${r.status} ${r.statusZh}${r.deadline ? `, due ${r.deadline.dueOn}` : ''} (id ${r.id}).`);
      }),
    );
}
