import type * as ExcelJs from 'exceljs';

/**
 * exceljs, loaded when a workbook is written: imported at the top it costs every process (each
 * CLI command, every server start) about half a second. It is CommonJS, so the module object is
 * the import's `default`.
 */
export async function loadExcelJs(): Promise<typeof ExcelJs> {
  const m = await import('exceljs');
  return (m as unknown as { default?: typeof ExcelJs }).default ?? m;
}
