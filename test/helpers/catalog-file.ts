import { PassThrough } from 'node:stream';
import ExcelJS from 'exceljs';
import { TEMPLATE_COLUMNS } from '../../src/modules/catalog/import-template.js';

export const HEADERS: readonly string[] = TEMPLATE_COLUMNS.map((c) => c.header);

/** A template row from the cells named; every other column empty. */
export function row(cells: Readonly<Record<string, string>>, headers: readonly string[] = HEADERS): string[] {
  return headers.map((h) => cells[h] ?? '');
}

/** The resource columns of a complete, conformant table resource (first row). */
export function resourceCells(over: Readonly<Record<string, string>> = {}): Record<string, string> {
  return {
    类: '3',
    项: '01',
    目: '002',
    资源名称: '企业登记信息',
    提供方: 'HOME',
    资源摘要: '本市登记注册的企业基本信息',
    资源格式: '数据库/dm',
    共享类型: '有条件共享',
    共享条件: '用于市场监管和行政审批',
    共享方式: '库表、接口',
    是否向社会开放: '否',
    更新周期: '每日',
    ...over,
  };
}

/** Three data item rows: a key, a name, a decimal. */
export function itemCells(n = 0): Record<string, string>[] {
  return [
    { 信息项名称: '统一社会信用代码', 数据类型: '字符型', 数据长度: '18', 格式校验: '统一社会信用代码', 是否主键: '是', 是否敏感: '否' },
    { 信息项名称: `企业名称${n || ''}`, 数据类型: '字符型', 数据长度: '200' },
    { 信息项名称: '注册资本', 数据类型: '数值型', 数据长度: '18', 小数位数: '2', 信息项描述: '万元' },
  ];
}

/** One resource as rows: the resource columns on the first row with its first data item. */
export function resourceRows(over: Readonly<Record<string, string>> = {}, items: readonly Record<string, string>[] = itemCells(), headers: readonly string[] = HEADERS): string[][] {
  return items.length === 0 ? [row(resourceCells(over), headers)] : items.map((item, i) => row({ ...(i === 0 ? resourceCells(over) : {}), ...item }, headers));
}

export function csv(rows: readonly (readonly string[])[]): string {
  const cell = (c: string): string => (/[",\n\r]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c);
  return `${rows.map((r) => r.map(cell).join(',')).join('\r\n')}\r\n`;
}

/** An XLSX workbook of the rows (first row: headers), written with the streaming writer. */
export async function xlsx(rows: Iterable<readonly string[]>): Promise<Buffer> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((resolve) => out.on('end', () => resolve()));
  const wb = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: out, useSharedStrings: false });
  const sheet = wb.addWorksheet('目录');
  for (const r of rows) sheet.addRow([...r]).commit();
  sheet.commit();
  await wb.commit();
  await done;
  return Buffer.concat(chunks);
}
