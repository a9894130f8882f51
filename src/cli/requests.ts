import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { GsError } from '../lib/errors.js';
import type { AgencyStatistics, HistoryEntry, ShareRequest } from '../modules/requests/schemas.js';
import { ATTACHMENT_KINDS, type AttachmentKind, type RequestStatus } from '../modules/requests/vocabulary.js';
import { action, chinaTime, configFrom, limitOf, listOf, print, runOperation, table, usage } from './context.js';
import { grantRows } from './grants.js';

function fileError(path: string, reason: string, reasonZh: string): GsError {
  return new GsError('GS_ERR_SHARE_REQUEST_FILE', { path, reason, reasonZh });
}

/** `ID` or `ID:kind` of `--attachment`. */
function attachmentRef(command: Command, raw: string): { id: string; kind: AttachmentKind } {
  const [id, kind = 'other', ...rest] = raw.split(':');
  if (rest.length > 0 || !id || !(ATTACHMENT_KINDS as readonly string[]).includes(kind)) usage(command, `--attachment ${raw}: give ID or ID:kind, kind one of ${ATTACHMENT_KINDS.join(', ')}`);
  return { id, kind: kind as AttachmentKind };
}

/** A JSON object from a file (a request body, grant terms); what is inside is checked by the platform, which names each bad field. */
function readJsonObject(file: string): Record<string, unknown> {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    throw fileError(path, missing ? 'no such file' : (e as Error).message, missing ? '文件不存在' : (e as Error).message);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (e) {
    throw fileError(path, `not valid JSON (${(e as Error).message})`, `不是合法的 JSON（${(e as Error).message}）`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw fileError(path, 'it must hold one JSON object', '文件内容应为一个 JSON 对象');
  return parsed as Record<string, unknown>;
}

function due(r: ShareRequest): string {
  if (r.deadline) return `${r.deadline.dueOn}${r.deadline.stage === 'conformance' ? ' (符合性审查)' : ''}${r.deadline.overdue ? ' 逾期 OVERDUE' : ''}`;
  if (r.clock.paused) return `paused 暂停 (${r.clock.reviewDaysLeft ?? 0} working days left)`;
  return '-';
}

const agency = (a: ShareRequest['consumer']): string => `${a.code} ${a.name}`;

function listTable(items: readonly ShareRequest[]): string {
  if (items.length === 0) return '(no share requests)';
  return table(
    ['number', 'status', '状态', 'resource', '资源名称', 'consumer', 'provider', 'method', 'due'],
    items.map((r) => [String(r.number), r.status, r.statusZh, r.resource.resourceCode, r.resource.name, agency(r.consumer), agency(r.provider), r.shareMethod, due(r)]),
  );
}

function showTable(r: ShareRequest, grant: Parameters<typeof grantRows>[0] | null): string {
  const d = r.deadline;
  const rows: string[][] = [
    ['number', String(r.number)],
    ['id', r.id],
    ['status', `${r.status} ${r.statusZh}`],
    ['resource', `${r.resource.resourceCode} ${r.resource.name} (version ${r.resource.version}, ${r.shareType === 'conditional' ? '有条件共享 conditional' : '无条件共享 unconditional'})`],
    ['consumer', agency(r.consumer)],
    ['system', `${r.system.name} (${r.system.id})`],
    ['provider', agency(r.provider)],
    ['method', r.shareMethod],
    ['items', r.items.join('、')],
    ['sensitive items', r.sensitiveItems.length > 0 ? r.sensitiveItems.join('、') : '-'],
    ['purpose', r.purpose.business],
    ['basis', r.purpose.basis],
    ['data users', r.dataUsers],
    ['valid until', r.validUntil],
    ['volume', r.expectedVolume ?? '-'],
    ['frequency', r.frequency ?? '-'],
    ['deadline', d ? `${d.stage} due ${due(r)}${d.remindedAt ? ` · reminded ${chinaTime(d.remindedAt)}` : ''}${d.escalatedAt ? ` · escalated ${chinaTime(d.escalatedAt)}` : ''}` : '-'],
    ['clock', `${r.clock.mode}${r.clock.paused ? `, paused with ${r.clock.reviewDaysLeft ?? 0} working days left` : ''}`],
  ];
  if (r.infoRequest) rows.push(['info asked', `${r.infoRequest.question} (${chinaTime(r.infoRequest.at)})`]);
  if (r.decision) {
    const basis = r.decision.legalBasis ? ` · legal basis ${r.decision.legalBasis.law} ${r.decision.legalBasis.article}` : '';
    rows.push(['decision', `${r.decision.kind} by ${r.decision.by}, ${chinaTime(r.decision.at)}${r.decision.comment ? ` — ${r.decision.comment}` : ''}${basis}`]);
  }
  if (r.dispute) rows.push(['dispute', `${r.dispute.reason} (${r.dispute.by}, ${chinaTime(r.dispute.at)})`]);
  if (r.arbitration) rows.push(['arbitration', `${r.arbitration.outcome} — ${r.arbitration.comment} (${r.arbitration.by}, ${chinaTime(r.arbitration.at)})`]);
  if (r.renewsGrantId) rows.push(['renews grant', r.renewsGrantId]);
  if (grant) rows.push(...grantRows(grant));
  rows.push(['attachments', r.attachments.length === 0 ? '-' : r.attachments.map((a) => `${a.kind}: ${a.fileName} (${a.bytes} bytes, sha256 ${a.sha256.slice(0, 12)}…, ${a.id})`).join('\n')]);
  rows.push(['filed', `${r.createdBy}, ${chinaTime(r.createdAt)} · updated ${chinaTime(r.updatedAt)} · version ${r.version}`]);
  // Multi-line values (attachments) continue under the value column.
  return table(['field', 'value'], rows.flatMap(([k = '', v = '']) => v.split('\n').map((line, i) => [i === 0 ? k : '', line])));
}

function detailsText(details: Readonly<Record<string, unknown>>): string {
  return Object.entries(details)
    .filter(([, v]) => v !== null && v !== undefined && typeof v !== 'object')
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');
}

function historyTable(entries: readonly HistoryEntry[]): string {
  if (entries.length === 0) return '(no history)';
  return table(
    ['at (China time)', 'actor', 'action', 'status', 'comment', 'details'],
    entries.map((e) => [chinaTime(e.at), e.actor, e.action, e.statusFrom === null || e.statusFrom === e.statusTo ? (e.statusTo ?? '') : `${e.statusFrom} → ${e.statusTo ?? ''}`, e.comment ?? '', detailsText(e.details)]),
  );
}

const percent = (rate: number | null): string => (rate === null ? '-' : `${(rate * 100).toFixed(1)}%`);
const days = (n: number | null): string => (n === null ? '-' : String(n));

function statsTable(title: string, lines: readonly AgencyStatistics[]): string {
  if (lines.length === 0) return `${title}: (none)`;
  return `${title}:\n${table(
    ['agency', 'name', 'total', 'pending', 'granted', 'narrowed', 'refused', 'overdue', 'approval', 'median days', 'p95 days'],
    lines.map((s) => [s.agency.code, s.agency.name, String(s.total), String(s.pending), String(s.granted), String(s.narrowed), String(s.refused), String(s.overdue), percent(s.approvalRate), days(s.reviewWorkingDays.median), days(s.reviewWorkingDays.p95)]),
  )}`;
}

function filedLine(r: ShareRequest): string {
  const next = r.grantId ? `granted at once, grant ${r.grantId}` : r.deadline ? `due ${r.deadline.dueOn}` : '';
  return `govshare: share request ${r.number} filed: ${r.status} ${r.statusZh}${next ? `, ${next}` : ''} (id ${r.id}).`;
}

function stepLine(r: ShareRequest): string {
  const decision = r.decision ? `, decision ${r.decision.kind}` : '';
  return `govshare: share request ${r.number} (${r.resource.resourceCode}) is now ${r.status} ${r.statusZh}${decision}${r.grantId ? `; grant ${r.grantId}` : ''}.`;
}

/** Exactly one of two flags, or a usage error naming both. */
function oneOf(command: Command, a: [string, boolean | undefined], b: [string, boolean | undefined]): boolean {
  if (Boolean(a[1]) === Boolean(b[1])) usage(command, `give exactly one of ${a[0]} and ${b[0]}`);
  return Boolean(a[1]);
}

export function registerRequests(program: Command): void {
  const requests = program.command('requests').description('share requests (申请共享): filing, review, disputes, arbitration, deadlines (docs/requests.md)');

  requests
    .command('list')
    .description('share requests, newest first')
    .option('--status <status...>', 'conformance, review, infoRequested, granted, refused, nonConforming, disputed, withdrawn (several, or comma-separated)')
    .option('--overdue', 'only pending requests past their deadline')
    .option('--agency <codeOrId>', 'requests this agency filed or was asked')
    .option('--side <side>', 'with --agency: consumer (it filed) or provider (made of its resources)')
    .option('--resource <code>', 'requests for this resource (资源代码)')
    .option('--limit <n>', 'at most this many (1–500)', '50')
    .action(
      action(async (opts: { status?: string[]; overdue?: boolean; agency?: string; side?: string; resource?: string; limit: string }, command: Command) => {
        const items = await runOperation(configFrom(command), 'requestList', {
          ...(opts.status ? { status: listOf(opts.status) as RequestStatus[] } : {}),
          ...(opts.overdue ? { overdue: true } : {}),
          ...(opts.agency ? { agency: opts.agency } : {}),
          ...(opts.side ? { side: opts.side as 'consumer' | 'provider' } : {}),
          ...(opts.resource ? { resource: opts.resource } : {}),
          limit: limitOf(opts.limit),
        });
        print(command, items, () => listTable(items));
      }),
    );

  requests
    .command('show <idOrNumber>')
    .description('one share request: its terms, deadline, clock, decision, dispute, arbitration, grant and attachments')
    .action(
      action(async (id: string, _opts: unknown, command: Command) => {
        const r = await runOperation(configFrom(command), 'requestShow', { id });
        print(command, r, () => showTable(r.request, r.grant));
      }),
    );

  requests
    .command('history <idOrNumber>')
    .description('every step of a request and of the grants it produced, oldest first')
    .action(
      action(async (id: string, _opts: unknown, command: Command) => {
        const entries = await runOperation(configFrom(command), 'requestHistory', { id });
        print(command, entries, () => historyTable(entries));
      }),
    );

  requests
    .command('file')
    .description('file a share request from a JSON file: the body of POST /api/v1/share-requests (docs/requests.md)')
    .requiredOption('--file <file>', 'the request, as JSON')
    .option('--consumer <codeOrId>', 'the consumer agency (instead of consumerAgencyId in the file)')
    .action(
      action(async (opts: { file: string; consumer?: string }, command: Command) => {
        const body = readJsonObject(opts.file);
        const r = await runOperation(configFrom(command), 'requestFile', { body, ...(opts.consumer ? { consumer: opts.consumer } : {}) });
        print(command, r, () => filedLine(r));
      }),
    );

  requests
    .command('conformance <idOrNumber>')
    .description("the supervisor's conformance check: pass the request on to the provider, or end it (with --comment saying why)")
    .option('--pass', 'it conforms: the provider reviews it')
    .option('--fail', 'it does not conform (needs --comment)')
    .option('--comment <text>', 'shown to the consumer')
    .action(
      action(async (id: string, opts: { pass?: boolean; fail?: boolean; comment?: string }, command: Command) => {
        const conforms = oneOf(command, ['--pass', opts.pass], ['--fail', opts.fail]);
        const r = await runOperation(configFrom(command), 'requestConformance', { id, conforms, ...(opts.comment ? { comment: opts.comment } : {}) });
        print(command, r, () => stepLine(r));
      }),
    );

  requests
    .command('approve <idOrNumber>')
    .description('approve as asked, or narrower with --terms (fewer items, a row filter, masking, a quota, an earlier end, conditions)')
    .option('--terms <file>', 'the grant terms, as JSON (docs/requests.md#deciding)')
    .option('--comment <text>', 'shown to the consumer')
    .action(
      action(async (id: string, opts: { terms?: string; comment?: string }, command: Command) => {
        const terms = opts.terms ? readJsonObject(opts.terms) : undefined;
        const r = await runOperation(configFrom(command), 'requestApprove', { id, ...(terms ? { terms } : {}), ...(opts.comment ? { comment: opts.comment } : {}) });
        print(command, r, () => stepLine(r));
      }),
    );

  requests
    .command('refuse <idOrNumber>')
    .description('refuse, with the reasons and the legal basis (000 §20: both required)')
    .requiredOption('--reason <text>', 'why (不予共享理由)')
    .requiredOption('--law <text>', 'the law, regulation or rule (法律法规规章)')
    .requiredOption('--article <text>', 'the article (条款)')
    .action(
      action(async (id: string, opts: { reason: string; law: string; article: string }, command: Command) => {
        const r = await runOperation(configFrom(command), 'requestRefuse', { id, reason: opts.reason, law: opts.law, article: opts.article });
        print(command, r, () => stepLine(r));
      }),
    );

  requests
    .command('ask-info <idOrNumber>')
    .description('ask the consumer for more information (the deadline then follows GOVSHARE_REQUEST_INFO_CLOCK)')
    .requiredOption('--question <text>', 'what the consumer must add')
    .action(
      action(async (id: string, opts: { question: string }, command: Command) => {
        const r = await runOperation(configFrom(command), 'requestAskInfo', { id, question: opts.question });
        print(command, r, () => stepLine(r));
      }),
    );

  requests
    .command('reply <idOrNumber>')
    .description("give the information the provider asked for; the review goes on")
    .requiredOption('--answer <text>', 'the answer')
    .option('--attachment <idAndKind...>', `attachments to add (from \`govshare attachments upload --agency CONSUMER\`); kind ${ATTACHMENT_KINDS.join(' or ')}, default other`)
    .action(
      action(async (id: string, opts: { answer: string; attachment?: string[] }, command: Command) => {
        const attachments = opts.attachment ? listOf(opts.attachment).map((a) => attachmentRef(command, a)) : undefined;
        const r = await runOperation(configFrom(command), 'requestReply', { id, answer: opts.answer, ...(attachments ? { attachments } : {}) });
        print(command, r, () => stepLine(r));
      }),
    );

  for (const [name, description] of [
    ['withdraw', 'withdraw a pending request'],
    ['dispute', 'dispute a refusal or a narrowing before the supervisor (once)'],
  ] as const) {
    requests
      .command(`${name} <idOrNumber>`)
      .description(description)
      .requiredOption('--reason <text>', 'why')
      .action(
        action(async (id: string, opts: { reason: string }, command: Command) => {
          const r = await runOperation(configFrom(command), name === 'withdraw' ? 'requestWithdraw' : 'requestDispute', { id, reason: opts.reason });
          print(command, r, () => stepLine(r));
        }),
      );
  }

  requests
    .command('arbitrate <idOrNumber>')
    .description("the supervisor decides a dispute, finally (000 §21): uphold the provider's decision, or overrule it and grant (as asked, or on --terms)")
    .option('--uphold', "the provider's decision stands")
    .option('--overrule', 'grant, as asked or on --terms')
    .requiredOption('--comment <text>', 'the reasons; shown to both agencies')
    .option('--terms <file>', 'with --overrule: the grant terms, as JSON')
    .action(
      action(async (id: string, opts: { uphold?: boolean; overrule?: boolean; comment: string; terms?: string }, command: Command) => {
        const upheld = oneOf(command, ['--uphold', opts.uphold], ['--overrule', opts.overrule]);
        const terms = opts.terms ? readJsonObject(opts.terms) : undefined;
        const r = await runOperation(configFrom(command), 'requestArbitrate', { id, outcome: upheld ? 'upheld' : 'overruled', comment: opts.comment, ...(terms ? { terms } : {}) });
        print(command, r, () => stepLine(r));
      }),
    );

  requests
    .command('sweep')
    .description('run one deadline sweep now: remind reviewers, escalate overdue requests, expire ended grants, remind consumers to renew')
    .action(
      action(async (_opts: unknown, command: Command) => {
        const r = await runOperation(configFrom(command), 'requestSweep', {});
        print(command, r, () => `govshare: deadline sweep: ${r.reminded} reviewers' deadlines reminded, ${r.escalated} overdue requests escalated; ${r.grantsExpired} grants expired, ${r.grantsReminded} consumers reminded to renew.`);
      }),
    );

  requests
    .command('stats')
    .description('per provider and consumer agency: counts, approval rate, median and 95th-percentile review time in working days')
    .option('--from <date>', 'requests filed on or after this day (YYYY-MM-DD)')
    .option('--to <date>', '… and on or before this day')
    .option('--agency <codeOrId>', "only this agency's lines")
    .action(
      action(async (opts: { from?: string; to?: string; agency?: string }, command: Command) => {
        const s = await runOperation(configFrom(command), 'requestStats', { ...(opts.from ? { from: opts.from } : {}), ...(opts.to ? { to: opts.to } : {}), ...(opts.agency ? { agency: opts.agency } : {}) });
        print(command, s, () =>
          [`share requests filed ${s.from ?? 'from the start'} … ${s.to ?? 'today'}`, statsTable('providers (提供方)', s.providers), statsTable('consumers (使用方)', s.consumers)].join('\n\n'),
        );
      }),
    );
}
