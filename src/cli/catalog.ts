import { writeFileSync } from 'node:fs';
import { loadExcelJs } from '../lib/exceljs.js';
import { resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import type { Command } from 'commander';
import { GsError } from '../lib/errors.js';
import { EXPORT_FORMATS, type ExportFormat } from '../modules/catalog/export.js';
import type { ImportProgress, ImportReport } from '../modules/catalog/import-file.js';
import { IMPORT_FORMATS, type ImportFormat } from '../modules/catalog/import-reader.js';
import type { ImportProblem } from '../modules/catalog/import-rows.js';
import { isOneOf } from '../modules/catalog/vocabulary.js';
import { action, configFrom, print, runOperation, table } from './context.js';
import { EXIT } from './exit-codes.js';

const PHASE_ZH: Readonly<Record<ImportProgress['phase'], string>> = { reading: '读取行 rows read', validating: '校验 resources checked', writing: '写入 resources written' };

/** A progress bar on standard error, redrawn in place; only on a terminal (logs stay clean). */
export function progressBar(stream: NodeJS.WriteStream = process.stderr): ((p: ImportProgress) => void) | undefined {
  if (!stream.isTTY) return undefined;
  let last = 0;
  return (p) => {
    const now = Date.now();
    if (now - last < 100 && p.done !== p.total) return;
    last = now;
    const width = 30;
    const label = `${PHASE_ZH[p.phase]} ${p.done.toLocaleString('en')}${p.total === null ? '' : `/${p.total.toLocaleString('en')}`}`;
    const bar = p.total ? `[${'#'.repeat(Math.round((p.done / Math.max(p.total, 1)) * width)).padEnd(width, '.')}] ${Math.floor((p.done / Math.max(p.total, 1)) * 100)}% ` : '';
    stream.write(`\r\x1b[2K${bar}${label}`);
    if (p.phase === 'writing' && p.done === p.total) stream.write('\n');
  };
}

const REPORT_HEADERS = ['行号 row', '列 column', '取值 value', '规则 rule', '错误说明', 'error'];
const reportRow = (e: ImportProblem): string[] => [String(e.row), e.column, e.value ?? '', e.rule, e.messageZh, e.message];

/** The errors as a file: XLSX when the name ends in .xlsx, else CSV (UTF-8 with BOM, so spreadsheet software reads it). */
async function writeReport(path: string, errors: readonly ImportProblem[]): Promise<void> {
  if (path.toLowerCase().endsWith('.xlsx')) {
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    const ended = new Promise<void>((done) => out.on('end', () => done()));
    const ExcelJS = await loadExcelJs();
    const wb = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: out, useSharedStrings: false });
    const sheet = wb.addWorksheet('导入错误');
    sheet.addRow(REPORT_HEADERS).commit();
    for (const e of errors) sheet.addRow(reportRow(e)).commit();
    sheet.commit();
    await wb.commit();
    await ended;
    writeFileSync(path, Buffer.concat(chunks));
    return;
  }
  const cell = (c: string): string => (/[",\r\n]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c);
  writeFileSync(path, `\ufeff${[REPORT_HEADERS, ...errors.map(reportRow)].map((r) => r.map(cell).join(',')).join('\r\n')}\r\n`);
}

const SHOWN = 50;

function summary(r: ImportReport): string {
  const what = { imported: '已导入 imported', partial: '部分导入 partly imported', rejected: '未导入 nothing imported', checked: '已校验（未写入） checked, nothing written' }[r.outcome];
  const lines = [
    `govshare: ${what}: ${r.imported} of ${r.resources} resources (${r.rows} rows, ${r.format}${r.encoding ? `, ${r.encoding}` : ''}, ${r.mode === 'publish' ? 'published directly' : 'as drafts'}); import ${r.importId}`,
  ];
  if (r.errors.length > 0) {
    lines.push(`${r.errors.length} errors in ${r.failedResources} resources:`);
    lines.push(table(['row', 'column', 'rule', '说明', 'message'], r.errors.slice(0, SHOWN).map((e) => [String(e.row), e.column, e.rule, e.messageZh, e.message])));
    if (r.errors.length > SHOWN) lines.push(`… and ${r.errors.length - SHOWN} more (write them all with --report FILE)`);
  }
  return lines.join('\n');
}

export function registerCatalog(program: Command): void {
  const catalog = program.command('catalog').description('the catalog (目录系统): import and export');

  catalog
    .command('import <file>')
    .description('import catalog entries from an XLSX or CSV file in the national template (docs/catalog-import.md)')
    .option('--format <format>', 'xlsx | csv (default: from the file’s bytes)')
    .option('--agency <code>', 'provider of rows whose 提供方 is empty')
    .option('--partial', 'import the good resources even if others fail (default: nothing if any row fails)')
    .option('--publish', 'publish directly, keeping codes and publish dates: migrating an already-approved catalog (audited as such)')
    .option('--dry-run', 'check every row, write nothing')
    .option('--report <file>', 'write the errors to a CSV or XLSX file')
    .action(
      action(async (file: string, opts: { format?: string; agency?: string; partial?: boolean; publish?: boolean; dryRun?: boolean; report?: string }, command: Command) => {
        if (opts.format !== undefined && !isOneOf(IMPORT_FORMATS, opts.format)) {
          throw new GsError('GS_ERR_CATALOG_IMPORT_OPTION_INVALID', { reason: `--format must be xlsx or csv, not ${opts.format}`, reasonZh: `--format 须为 xlsx 或 csv，而不是 ${opts.format}` });
        }
        const onProgress = progressBar();
        const report = await runOperation(configFrom(command), 'catalogImport', {
          file: resolve(file),
          ...(opts.format ? { format: opts.format as ImportFormat } : {}),
          ...(opts.agency ? { agency: opts.agency } : {}),
          partial: opts.partial ?? false,
          publish: opts.publish ?? false,
          dryRun: opts.dryRun ?? false,
          ...(onProgress ? { onProgress } : {}),
        });
        if (opts.report) await writeReport(resolve(opts.report), report.errors);
        print(command, report, () => summary(report));
        if (report.errors.length > 0) process.exitCode = EXIT.refused;
      }),
    );

  catalog
    .command('export')
    .description('export the published catalog: xlsx (the import template), json, or dcat (DCAT-AP 3 JSON-LD, docs/dcat.md)')
    .requiredOption('--out <file>', 'the file to write')
    .option('--format <format>', 'xlsx | json | dcat', 'xlsx')
    .option('--base-url <url>', 'the platform’s public address, for the DCAT identifiers')
    .action(
      action(async (opts: { out: string; format: string; baseUrl?: string }, command: Command) => {
        if (!isOneOf(EXPORT_FORMATS, opts.format)) throw new GsError('GS_ERR_CATALOG_EXPORT_FORMAT', { format: opts.format });
        const config = configFrom(command);
        const baseUrl = (opts.baseUrl ?? `http://${config.host}:${config.port}`).replace(/\/$/, '');
        const r = await runOperation(config, 'catalogExport', { format: opts.format as ExportFormat, out: resolve(opts.out), baseUrl });
        print(command, r, () => `govshare: ${r.count} published entries written to ${r.out} (${r.format}).`);
      }),
    );
}
