import { rmSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { GsError } from '../lib/errors.js';
import { isUuid } from '../lib/secrets.js';
import { AUDIT_OUTCOMES } from '../modules/audit/service.js';
import type { AuditExportInput } from '../server/admin-operations.js';
import { action, configFrom, print, runOperation } from './context.js';

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

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('the tamper-evident audit trail: verify it, export it');

  audit
    .command('verify')
    .description('check the whole hash chain and every signed checkpoint; exit 8 naming the first bad sequence when it fails')
    .action(
      action(async (_opts: Record<string, never>, command: Command) => {
        const r = await runOperation(configFrom(command), 'auditVerify', {});
        print(command, r, () =>
          r.ok
            ? `govshare: audit trail intact: ${r.events} events, ${r.checkpoints} signed checkpoints` +
              (r.lastCheckpoint ? `; last checkpoint at seq ${r.lastCheckpoint.seq} (${r.lastCheckpoint.at}, hash ${r.lastCheckpoint.hash})` : '') +
              (r.unsignedTail > 0 ? `; ${r.unsignedTail} newer events await the next checkpoint` : '')
            : `govshare: audit trail BROKEN at seq ${r.firstBadSeq ?? '-'}: ${r.problem ?? ''}`,
        );
        if (!r.ok) throw new GsError('GS_ERR_AUDIT_CHAIN_BROKEN', { seq: r.firstBadSeq ?? '-', problem: r.problem ?? '' });
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

  audit
    .command('export')
    .description('write the matching audit events, in chain order, to a CSV file (UTF-8 with BOM)')
    .requiredOption('--out <file>', 'the CSV file to create (an existing file is not overwritten)')
    .option('--from <date>', 'events at or after this time (ISO 8601)')
    .option('--to <date>', 'events before this time (ISO 8601)')
    .option('--action <id>', 'action id, e.g. user.set-roles')
    .option('--actor-id <uuid>', 'the acting account')
    .option('--actor <name>', 'the actor name as recorded (user name, cli:<os user>, govshare)')
    .option('--agency <codeOrId>', "the actor's agency")
    .option('--target-type <type>', 'target type, e.g. user, agency')
    .option('--target-id <id>', 'target id')
    .option('--outcome <outcome>', AUDIT_OUTCOMES.join(' | '))
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
