import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { GsError } from '../lib/errors.js';
import { isUuid } from '../lib/secrets.js';
import { archiveSeriesProblem, verifyArchiveFile, type ArchiveVerification } from '../modules/audit/archive-file.js';
import { AUDIT_OUTCOMES, type AuditVerification } from '../modules/audit/service.js';
import type { AuditExportInput } from '../server/admin-operations.js';
import { action, configFrom, print, runOperation, table } from './context.js';

function invalid(field: string, rule: string, message: string): GsError {
  return new GsError('GS_ERR_REQUEST_INVALID', { summary: `${field}: ${message}`, summaryZh: `${field}：${message}` }, [{ field, rule, message }]);
}

function isoDate(field: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const d = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(d.getTime())) throw invalid(field, 'date-time', `${JSON.stringify(value)} is not a date (use 2026-01-31 or 2026-01-31T08:00:00Z)`);
  return d.toISOString();
}

interface ExportOptions {
  readonly out: string;
  readonly from?: string;
  readonly to?: string;
  readonly action?: string;
  readonly actorId?: string;
  readonly actor?: string;
  readonly agency?: string;
  readonly targetType?: string;
  readonly targetId?: string;
  readonly outcome?: string;
}

function exportInput(o: ExportOptions): AuditExportInput {
  if (o.actorId !== undefined && !isUuid(o.actorId)) throw invalid('--actor-id', 'uuid', `${JSON.stringify(o.actorId)} is not an account id (UUID)`);
  if (o.outcome !== undefined && !(AUDIT_OUTCOMES as readonly string[]).includes(o.outcome)) throw invalid('--outcome', 'enum', `must be one of ${AUDIT_OUTCOMES.join(', ')}`);
  const from = isoDate('--from', o.from);
  const to = isoDate('--to', o.to);
  const entries = { from, to, action: o.action, actorId: o.actorId, actorName: o.actor, agency: o.agency, targetType: o.targetType, targetId: o.targetId, outcome: o.outcome };
  return Object.fromEntries(Object.entries(entries).filter(([, v]) => v !== undefined)) as AuditExportInput;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** The PEM public keys in the files given (a file may hold several, e.g. the output of `audit public-key`). */
function publicKeysFrom(files: readonly string[]): string[] {
  return files.flatMap((file) => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new GsError('GS_ERR_AUDIT_ARCHIVE_FILE', { path: file, reason: (e as Error).message });
    }
    const pems = text.match(/-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/g);
    if (!pems) throw new GsError('GS_ERR_AUDIT_ARCHIVE_FILE', { path: file, reason: 'it holds no PEM public key (-----BEGIN PUBLIC KEY-----)' });
    return pems.map((p) => `${p}\n`);
  });
}

function liveSummary(r: AuditVerification): string {
  if (!r.ok) return `govshare: audit trail BROKEN at seq ${r.firstBadSeq ?? '-'}: ${r.problem ?? ''}`;
  const a = r.archives;
  const archived =
    a.lastSeq > 0 && a.newest
      ? `events 1…${a.lastSeq} are archived (${a.count} archive file${a.count === 1 ? '' : 's'}, the newest ${a.newest.fileName}, archive sha256 ${a.newest.fileSha256}); ` +
        `${r.events} events ${a.lastSeq + 1}…${r.lastSeq} in the database verified`
      : `${r.events} events`;
  return (
    `govshare: audit trail intact: ${archived}, ${r.checkpoints} signed checkpoints` +
    (r.lastCheckpoint ? `; last checkpoint at seq ${r.lastCheckpoint.seq} (${r.lastCheckpoint.at}, hash ${r.lastCheckpoint.hash})` : '') +
    (r.unsignedTail > 0 ? `; ${r.unsignedTail} newer events await the next checkpoint` : '')
  );
}

function archiveSummary(r: ArchiveVerification): string {
  if (!r.ok) return `govshare: archive ${r.file} BROKEN${r.firstBadLine !== null ? ` at line ${r.firstBadLine}` : ''}${r.firstBadSeq !== null ? ` (seq ${r.firstBadSeq})` : ''}: ${r.problem ?? ''}`;
  const pin = r.pinned === null ? "not pinned: compare the key id with the platform's published key (govshare audit public-key), or pass it with --public-key" : 'the pinned public key';
  return (
    `govshare: archive ${r.file} intact: events ${r.firstSeq ?? '-'}…${r.lastSeq ?? '-'} (${r.events} events, ${r.checkpoints} signed checkpoints), last hash ${r.lastHash ?? '-'}; ` +
    `signed ${r.signedAt ?? '-'} with key ${r.keyId ?? '-'} (${pin}); file sha256 ${r.fileSha256 ?? '-'}`
  );
}

interface VerifyOptions {
  readonly archive: string[];
  readonly publicKey: string[];
}

/** `--archive FILE…`: the files alone, no database and no master key. */
async function verifyArchives(files: readonly string[], publicKeyFiles: readonly string[], command: Command): Promise<void> {
  const publicKeys = publicKeysFrom(publicKeyFiles);
  const results: ArchiveVerification[] = [];
  for (const file of files) results.push(await verifyArchiveFile(resolve(file), { publicKeys }));
  const bad = results.find((r) => !r.ok);
  const series = bad ? null : archiveSeriesProblem(results);
  print(command, { ok: !bad && !series, archives: results, series }, () =>
    [...results.map(archiveSummary), ...(series ? [`govshare: the archives do not follow each other: ${series.problem}`] : [])].join('\n'),
  );
  if (bad) {
    throw new GsError('GS_ERR_AUDIT_CHAIN_BROKEN', { seq: bad.firstBadSeq ?? '-', problem: `${bad.file}: ${bad.problem ?? ''}` });
  }
  if (series) throw new GsError('GS_ERR_AUDIT_CHAIN_BROKEN', { seq: series.firstBadSeq ?? '-', problem: series.problem });
}

/** The event filters `search` and `export` share (see exportInput). */
function withFilters(command: Command): Command {
  return command
    .option('--from <date>', 'events at or after this time (ISO 8601)')
    .option('--to <date>', 'events before this time (ISO 8601)')
    .option('--action <id>', 'action id, e.g. user.set-roles')
    .option('--actor-id <uuid>', 'the acting account')
    .option('--actor <name>', 'the actor name as recorded (user name, cli:<os user>, govshare)')
    .option('--agency <codeOrId>', "the actor's agency")
    .option('--target-type <type>', 'target type, e.g. user, agency')
    .option('--target-id <id>', 'target id')
    .option('--outcome <outcome>', AUDIT_OUTCOMES.join(' | '));
}

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('the tamper-evident audit trail: verify it, export it, archive its oldest events');

  audit
    .command('verify')
    .description(
      'check the hash chain and every signed checkpoint (from the newest archive on); with --archive, check archive files offline instead. Exit 8 naming the first bad sequence when it fails',
    )
    .option('--archive <file>', 'an archive file to check offline, without database or master key (repeatable: consecutive archives must follow each other)', collect, [])
    .option('--public-key <pem-file>', "with --archive: the platform's published audit public key; every signature must be made with it (repeatable)", collect, [])
    .action(
      action(async (opts: VerifyOptions, command: Command) => {
        if (opts.archive.length > 0) return verifyArchives(opts.archive, opts.publicKey, command);
        if (opts.publicKey.length > 0) throw invalid('--public-key', 'requires', 'is used with --archive');
        const r = await runOperation(configFrom(command), 'auditVerify', {});
        print(command, r, () => liveSummary(r));
        if (!r.ok) throw new GsError('GS_ERR_AUDIT_CHAIN_BROKEN', { seq: r.firstBadSeq ?? '-', problem: r.problem ?? '' });
      }),
    );

  audit
    .command('archive')
    .description(
      'move the oldest events, up to --before (at least 180 days ago), to a signed archive file and remove them from the database; audited',
    )
    .requiredOption('--before <date>', 'archive the events older than this (ISO 8601); at most now − 180 days')
    .requiredOption('--out <file>', 'the archive file to create (never overwritten); with a running embedded server, a path on the server’s machine, written by the server')
    .action(
      action(async (opts: { before: string; out: string }, command: Command) => {
        const before = isoDate('--before', opts.before)!;
        const r = await runOperation(configFrom(command), 'auditArchive', { before, out: resolve(opts.out) });
        print(command, r, () =>
          r.archived
            ? `govshare: events ${r.firstSeq}…${r.lastSeq} (${r.events} events, ${r.firstAt} – ${r.lastAt}) archived to ${r.file} and removed from the database; ` +
              `sha256 ${r.fileSha256}. Keep the file and a copy apart; check it with: govshare audit verify --archive ${r.file}`
            : `govshare: nothing to archive: ${r.reason}`,
        );
      }),
    );

  audit
    .command('public-key')
    .description("print the audit signing public key(s), to publish: archive files are checked against it offline")
    .option('--out <file>', 'write them to this new file instead of standard output')
    .action(
      action(async (opts: { out?: string }, command: Command) => {
        const keys = await runOperation(configFrom(command), 'auditPublicKeys', {});
        const text = keys.map((k) => `# govshare audit signing key ${k.id} (${k.algorithm}, created ${k.createdAt})\n${k.publicKey.trimEnd()}\n`).join('');
        if (opts.out) {
          try {
            writeFileSync(opts.out, text, { flag: 'wx', mode: 0o644 });
          } catch (e) {
            throw new GsError('GS_ERR_AUDIT_ARCHIVE_FILE', { path: opts.out, reason: (e as Error).message });
          }
        }
        print(command, keys, () => (opts.out ? `govshare: ${keys.length} public key(s) written to ${opts.out}` : text.trimEnd()));
      }),
    );

  audit
    .command('checkpoint')
    .description('sign a checkpoint of the chain now (serve also does it every N events and T seconds)')
    .action(
      action(async (_opts: Record<string, never>, command: Command) => {
        const c = await runOperation(configFrom(command), 'auditCheckpoint', {});
        print(command, c, () => (c ? `govshare: checkpoint at seq ${c.seq}, hash ${c.hash}, key ${c.keyId}` : 'govshare: the audit trail is empty; nothing to sign.'));
      }),
    );

  withFilters(
    audit.command('search').description('show the matching audit events, newest first (the same filters as export)'),
  )
    .option('--limit <n>', 'at most this many events (1–1000)', '50')
    .option('--before <id>', 'page on: events older than the event with this id (the last id shown)')
    .action(
      action(async (opts: Omit<ExportOptions, 'out'> & { limit: string; before?: string }, command: Command) => {
        const limit = Number(opts.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw invalid('--limit', 'range', 'must be a whole number from 1 to 1000');
        const before = opts.before === undefined ? undefined : Number(opts.before);
        if (before !== undefined && (!Number.isInteger(before) || before < 1)) throw invalid('--before', 'integer', 'must be an event id (a positive whole number)');
        const rows = await runOperation(configFrom(command), 'auditSearch', { ...exportInput({ ...opts, out: '' }), limit, ...(before === undefined ? {} : { before }) });
        print(command, rows, () =>
          rows.length === 0
            ? 'govshare: no matching audit events'
            : table(
                ['id', 'seq', 'at', 'actor', 'action', 'target', 'outcome', 'ip'],
                rows.map((r) => [String(r.id), String(r.seq), r.at, r.actorName, r.action, [r.targetType, r.targetId].filter(Boolean).join(' '), r.outcome, r.ip ?? '']),
              ) + (rows.length === limit ? `\n(more: --before ${rows.at(-1)!.id})` : ''),
        );
      }),
    );

  withFilters(
    audit
      .command('export')
      .description('write the matching audit events, in chain order, to a CSV file (UTF-8 with BOM)')
      .requiredOption('--out <file>', 'the CSV file to create (an existing file is not overwritten)'),
  )
    .action(
      action(async (opts: ExportOptions, command: Command) => {
        const input = exportInput(opts);
        const r = await runOperation(configFrom(command), 'auditExport', input);
        try {
          writeFileSync(opts.out, r.csv, { flag: 'wx', mode: 0o600 });
        } catch (e) {
          // A partly written file is removed; an existing one (EEXIST) was never touched.
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') rmSync(opts.out, { force: true });
          throw new GsError('GS_ERR_AUDIT_EXPORT_FILE', { path: opts.out, reason: (e as Error).message });
        }
        print(command, { out: opts.out, count: r.count }, () => `govshare: ${r.count} audit events written to ${opts.out}`);
      }),
    );
}
