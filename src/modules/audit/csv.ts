import type { AuditRow } from './store.js';

/** The columns of an audit CSV export, in order (docs/operations.md). */
export const CSV_COLUMNS = ['seq', 'at', 'actorType', 'actorId', 'actorName', 'actorAgencyId', 'action', 'targetType', 'targetId', 'outcome', 'requestId', 'ip', 'details', 'hash'] as const;

/**
 * One cell: quoted when it holds a comma, quote or line break (RFC 4180). A text starting with
 * `=`, `+`, `-`, `@`, tab or carriage return gets a leading `'` so a spreadsheet shows it instead
 * of evaluating it as a formula.
 */
function cell(value: string | number | null): string {
  if (value === null) return '';
  let text = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** UTF-8 with a byte-order mark (so spreadsheet programs read Chinese text), CRLF line ends. */
export function auditCsv(rows: readonly AuditRow[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of rows) {
    lines.push(
      [r.seq, r.at.toISOString(), r.actorType, r.actorId, r.actorName, r.actorAgencyId, r.action, r.targetType, r.targetId, r.outcome, r.requestId, r.ip, JSON.stringify(r.details), r.hash]
        .map(cell)
        .join(','),
    );
  }
  return `\ufeff${lines.join('\r\n')}\r\n`;
}
