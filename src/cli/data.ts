import { resolve } from 'node:path';
import type { Command } from 'commander';
import { invalidField } from '../lib/errors.js';
import { isOneOf } from '../modules/catalog/vocabulary.js';
import { CSV_ENCODINGS, INGEST_POLICIES, LOAD_FORMATS, type CsvEncoding, type IngestPolicy, type LoadFormat } from '../modules/exchange/vocabulary.js';
import { action, configFrom, print, runOperation, table } from './context.js';
import { EXIT } from './exit-codes.js';

type LoadProgress = { readonly rows: number; readonly bytes: number; readonly totalBytes: number };

/** A progress bar on standard error by bytes of the file read, redrawn in place; only on a terminal. */
export function loadProgressBar(stream: NodeJS.WriteStream = process.stderr): ((p: LoadProgress) => void) | undefined {
  if (!stream.isTTY) return undefined;
  let last = 0;
  return (p) => {
    const now = Date.now();
    const done = p.bytes >= p.totalBytes;
    if (now - last < 100 && !done) return;
    last = now;
    const width = 30;
    const share = p.totalBytes > 0 ? Math.min(1, p.bytes / p.totalBytes) : 1;
    stream.write(`\r\x1b[2K[${'#'.repeat(Math.round(share * width)).padEnd(width, '.')}] ${Math.floor(share * 100)}% 读取行 rows read ${p.rows.toLocaleString('en')}`);
    if (done) stream.write('\n');
  };
}

const SHOWN = 50;

function option<const T extends readonly string[]>(values: T, name: string, raw: string | undefined): T[number] | undefined {
  if (raw === undefined) return undefined;
  if (!isOneOf(values, raw)) throw invalidField(name, 'enum', `must be one of ${values.join(', ')}, not ${raw}`);
  return raw;
}

export function registerData(program: Command): void {
  const data = program.command('data').description("the exchange's shared tables: load a provider's data (docs/exchange.md)");

  data
    .command('load <resource> <file>')
    .description('load a CSV (UTF-8 or GB18030/GBK), NDJSON or XLSX file into the shared table of a table resource, whole or not at all')
    .option('--format <format>', 'csv | ndjson | xlsx (default: from the file name, else csv)')
    .option('--encoding <encoding>', 'CSV: utf-8 | gb18030 (default: detected)')
    .option('--policy <policy>', 'reject (default: any invalid row refuses the file) | quarantine (load the valid rows, keep the others for fixing)')
    .option('--idempotency-key <key>', "default: the file's SHA-256, so loading the same file again changes nothing")
    .action(
      action(async (resource: string, file: string, opts: { format?: string; encoding?: string; policy?: string; idempotencyKey?: string }, command: Command) => {
        const format = option(LOAD_FORMATS, '--format', opts.format) as LoadFormat | undefined;
        const encoding = option(CSV_ENCODINGS, '--encoding', opts.encoding) as CsvEncoding | undefined;
        const policy = option(INGEST_POLICIES, '--policy', opts.policy) as IngestPolicy | undefined;
        const onProgress = loadProgressBar();
        const r = await runOperation(configFrom(command), 'dataLoad', {
          resource,
          file: resolve(file),
          ...(format ? { format } : {}),
          ...(encoding ? { encoding } : {}),
          ...(policy ? { policy } : {}),
          ...(opts.idempotencyKey ? { idempotencyKey: opts.idempotencyKey } : {}),
          ...(onProgress ? { onProgress } : {}),
        });
        print(command, r, () => {
          const what = { applied: '已装载 loaded', replayed: '已装载过，本次未改变 already loaded, nothing changed', rejected: '未装载 nothing loaded' }[r.status];
          const lines = [
            `govshare: ${what}: ${r.rows} rows of ${r.format}${r.encoding ? ` (${r.encoding})` : ''} into ${r.resourceCode}: ${r.upserted} upserted, ${r.deleted} deleted, ${r.quarantined} quarantined${r.firstSeq === null ? '' : `, sequence ${r.firstSeq}–${r.lastSeq}`}; key ${r.idempotencyKey}`,
          ];
          if (r.problems.length > 0) {
            lines.push(`${r.problemCount} problems in ${r.invalid} rows:`);
            lines.push(table(['row', 'item', 'rule', '说明', 'message'], r.problems.slice(0, SHOWN).map((p) => [String(p.row), p.item ?? '', p.rule, p.messageZh, p.message])));
            if (r.problems.length > SHOWN) lines.push(`… and ${r.problemCount - SHOWN} more (--json lists them)`);
          }
          return lines.join('\n');
        });
        if (r.status === 'rejected') process.exitCode = EXIT.refused;
      }),
    );

  data
    .command('retire-table <resource>')
    .description('the explicit migration for an incompatible catalog change: rename the shared table aside so that publishing the new version creates a new one (then load the data again)')
    .requiredOption('--reason <text>', 'why (audited)')
    .action(
      action(async (resource: string, opts: { reason: string }, command: Command) => {
        const r = await runOperation(configFrom(command), 'dataRetireTable', { resource, reason: opts.reason });
        print(command, r, () => `govshare: the shared table of ${r.resourceCode} was renamed to shared.${r.retiredAs}; publish the new version, then load the data again.`);
      }),
    );
}
