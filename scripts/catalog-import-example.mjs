// Writes docs/catalog-import-example.xlsx and its CSV twin: the import template with a few
// resources (several rows each, a not-shared one, a file resource, language and extension
// columns). Run with `npm run docs:import-example` (builds first: the headers come from the code).
import { Buffer } from 'node:buffer';
import { writeFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import ExcelJS from 'exceljs';
import { TEMPLATE_COLUMNS } from '../dist/src/modules/catalog/import-template.js';

const headers = [...TEMPLATE_COLUMNS.map((c) => c.header), '资源名称@ug', '资源名称@en', '信息项名称@en', '数据分级'];
const row = (cells) => headers.map((h) => cells[h] ?? '');

const resource = (cells) => ({ 类: '1', 项: '01', 目: '001', 资源格式: '数据库/kingbase', 是否向社会开放: '否', 更新周期: '每日', ...cells });
const rows = [
  row({
    ...resource({ 资源名称: '人口基本信息', 提供方: 'HY-GA', 资源摘要: '本市户籍人口和常住人口的基本信息', 共享类型: '有条件共享', 共享条件: '用于社会救助、行政审批的身份核验，须经市公安局审核', 共享方式: '库表、接口', 更新周期: '实时' }),
    '资源名称@ug': 'نوپۇس ئاساسىي ئۇچۇرى',
    '资源名称@en': 'Basic population data',
    数据分级: '重要',
    信息项名称: '公民身份号码', 数据类型: '字符型', 数据长度: '18', 是否敏感: '是', 格式校验: '公民身份号码', 是否主键: '是', '信息项名称@en': 'Identity number',
  }),
  row({ 信息项名称: '姓名', 数据类型: '字符型', 数据长度: '50', 是否敏感: '是', 是否主键: '否', '信息项名称@en': 'Name' }),
  row({ 信息项名称: '出生日期', 数据类型: '日期型', 是否敏感: '否', 是否主键: '否' }),
  row({ 信息项名称: '户籍地行政区划代码', 数据类型: '字符型', 数据长度: '6', 格式校验: '行政区划代码', 是否主键: '否' }),
  row({
    ...resource({ 类: '1', 项: '02', 目: '001', 资源名称: '企业登记信息', 提供方: 'HY-SCJG', 资源摘要: '本市登记注册的企业基本信息', 共享类型: '无条件共享', 共享方式: '库表', 是否向社会开放: '是', 开放条件: '仅公开企业名称、信用代码和登记状态' }),
    数据分级: '一般',
    信息项名称: '统一社会信用代码', 数据类型: '字符型', 数据长度: '18', 格式校验: '统一社会信用代码', 是否主键: '是',
  }),
  row({ 信息项名称: '企业名称', 数据类型: '字符型', 数据长度: '200' }),
  row({ 信息项名称: '注册资本', 数据类型: '数值型', 数据长度: '18', 小数位数: '2', 信息项描述: '万元' }),
  row({ 信息项名称: '成立日期', 数据类型: '日期型' }),
  row({
    ...resource({ 类: '3', 项: '05', 目: '003', 资源名称: '涉密人员名单', 提供方: 'HY-GA', 资源摘要: '涉及国家秘密岗位的人员名单', 资源格式: '电子文件/ofd', 共享类型: '不予共享', 不予共享依据: '中华人民共和国保守国家秘密法', 不予共享条款: '第九条', 更新周期: '不定期' }),
    数据分级: '重要',
  }),
  row({
    ...resource({ 类: '2', 项: '03', 目: '012', 细目: '01', 资源名称: '不动产登记簿', 提供方: '衡阳市自然资源和规划局', 资源摘要: '不动产权利及其变动情况', 资源格式: '电子表格/xlsx', 共享类型: '有条件共享', 共享条件: '依申请共享，用于不动产交易和税费征收', 共享方式: '文件', 更新周期: '每月' }),
    数据分级: '一般',
    信息项名称: '不动产单元号', 数据类型: '字符型', 数据长度: '28', 是否主键: '是',
  }),
  row({ 信息项名称: '权利人', 数据类型: '字符型', 数据长度: '100', 是否敏感: '是' }),
  row({ 信息项名称: '登记时间', 数据类型: '日期时间型' }),
];

const out = new PassThrough();
const chunks = [];
out.on('data', (c) => chunks.push(c));
const ended = new Promise((resolve) => out.on('end', resolve));
const wb = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: out, useSharedStrings: false, useStyles: true });
const sheet = wb.addWorksheet('政务信息资源目录');
const header = sheet.addRow(headers);
header.font = { bold: true };
header.commit();
for (const r of rows) sheet.addRow(r).commit();
sheet.commit();
await wb.commit();
await ended;
writeFileSync('docs/catalog-import-example.xlsx', Buffer.concat(chunks));

const cell = (c) => (/[",\r\n]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c);
writeFileSync('docs/catalog-import-example.csv', `\ufeff${[headers, ...rows].map((r) => r.map(cell).join(',')).join('\r\n')}\r\n`);
console.log(`docs/catalog-import-example.xlsx and .csv: ${rows.length} rows`);
