import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { AttachmentView } from '../modules/attachments/schemas.js';
import { action, chinaTime, configFrom, print, runOperation, table, usage } from './context.js';

function attachmentRows(a: AttachmentView): string[][] {
  return [
    ['id', a.id],
    ['file name', a.fileName],
    ['type', a.contentType],
    ['bytes', a.bytes.toLocaleString('en')],
    ['sha256', a.sha256],
    ['agency', a.agency ? `${a.agency.code} ${a.agency.name}` : 'platform (平台)'],
    ['uploaded', `${chinaTime(a.createdAt)} by ${a.uploadedBy}`],
  ];
}

/** `govshare attachments …` (docs/attachments.md). */
export function registerAttachments(program: Command): void {
  const attachments = program.command('attachments').description('files attached to share requests (the security agreement, 保密协议), stored by their SHA-256 (docs/attachments.md)');

  attachments
    .command('upload <file>')
    .description('store a file; its id goes into a request (`attachments` in the request file, or `requests reply --attachment ID`)')
    .option('--agency <codeOrId>', 'upload it for this agency, so that the agency can attach it to its own requests (default: the platform)')
    .option('--type <mediaType>', 'its media type (default: from the extension, else application/octet-stream)')
    .option('--name <fileName>', 'the name to keep (default: the file\'s own)')
    .action(
      action(async (file: string, opts: { agency?: string; type?: string; name?: string }, command: Command) => {
        const path = resolve(file);
        if (!existsSync(path)) usage(command, `${file}: no such file`);
        const a = await runOperation(configFrom(command), 'attachmentUpload', { file: path, ...(opts.agency ? { agency: opts.agency } : {}), ...(opts.type ? { contentType: opts.type } : {}), ...(opts.name ? { fileName: opts.name } : {}) });
        print(command, a, () => `govshare: attachment ${a.id} stored (${a.fileName}, ${a.bytes.toLocaleString('en')} bytes, sha256 ${a.sha256}).`);
      }),
    );

  attachments
    .command('show <id>')
    .description('what is known of one attachment')
    .action(
      action(async (id: string, _opts: unknown, command: Command) => {
        const a = await runOperation(configFrom(command), 'attachmentShow', { id });
        print(command, a, () => table(['field', 'value'], attachmentRows(a)));
      }),
    );

  attachments
    .command('download <id>')
    .description('write an attachment to a new file, checked against its SHA-256 (audited)')
    .requiredOption('--out <file>', 'the file to write (must not exist)')
    .action(
      action(async (id: string, opts: { out: string }, command: Command) => {
        const out = resolve(opts.out);
        if (existsSync(out)) usage(command, `${opts.out} exists; give a new file name`);
        const r = await runOperation(configFrom(command), 'attachmentDownload', { id, out });
        print(command, r, () => `govshare: ${r.attachment.fileName} written to ${r.out} (${r.attachment.bytes.toLocaleString('en')} bytes, sha256 ${r.attachment.sha256}).`);
      }),
    );
}
