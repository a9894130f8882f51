import { describe, expect, it } from 'vitest';
import { catalogContent } from '../../../test/helpers/catalog.js';
import { blocking, conformanceFindings, type ConformanceContext } from './conformance.js';
import type { EntryContent } from './content.js';
import { formatProblem } from './data-item-format.js';
import { normaliseContent } from './normalise.js';
import type { EntryContentInput } from './schemas.js';

const ctx: ConformanceContext = { relatedCodes: new Map(), ownCode: null, extensionFields: [] };
const content = (over: Partial<EntryContentInput> = {}): EntryContent => normaliseContent(catalogContent(over), []);
const rules = (c: EntryContent, context: ConformanceContext = ctx): string[] => conformanceFindings(c, context).map((f) => `${f.severity} ${f.rule} ${f.field}`);

describe('conformance findings', () => {
  it('finds nothing wrong with a complete entry', () => {
    expect(conformanceFindings(content(), ctx)).toEqual([]);
  });

  it('lists every missing core element of a bare draft as an error', () => {
    const bare = normaliseContent({ nameZh: '只有名称' }, []);
    expect(rules(bare)).toEqual([
      'error element.missing content.classification',
      'error element.missing content.abstractZh',
      'error element.missing content.format',
      'error element.missing content.shareType',
      'error element.missing content.openness',
      'error element.missing content.updateCycle',
    ]);
    expect(conformanceFindings(bare, ctx)[0]?.messageZh).toBe('缺少资源分类（类/项/目）');
  });

  it('flags bad classification codes', () => {
    expect(rules(content({ classification: { category: '1', group: '00', subgroup: '000' } }))).toEqual([
      'error classification.code content.classification.group',
      'error classification.code content.classification.subgroup',
    ]);
  });

  it('needs a condition for a conditional share and a legal basis for none, and nothing shared for none', () => {
    expect(rules(content({ shareCondition: undefined }))).toEqual(['error shareCondition.missing content.shareCondition']);
    expect(rules(content({ shareType: 'none', shareCondition: undefined, openness: { open: true } }))).toEqual([
      'error legalBasis.missing content.legalBasis',
      'error shareMethods.not-shared content.shareMethods',
      'error openness.not-shared content.openness.open',
    ]);
    expect(rules(content({ shareType: 'unconditional', legalBasis: { law: '某法', article: '第一条' } }))).toEqual([
      'warning shareCondition.unexpected content.shareCondition',
      'warning legalBasis.unexpected content.legalBasis',
      'warning shareType.sensitive-unconditional content.shareType',
    ]);
  });

  it('finds share methods the format cannot carry', () => {
    expect(rules(content({ format: { type: 'spreadsheet', subtype: 'xlsx' }, shareMethods: ['api', 'file'] }))).toEqual(['error shareMethods.format-mismatch content.shareMethods']);
    expect(rules(content({ format: { type: 'serviceInterface', subtype: 'rest' }, shareMethods: ['table'] }))).toEqual(['error shareMethods.format-mismatch content.shareMethods']);
    expect(rules(content({ format: { type: 'database', subtype: 'foxpro' } }))).toEqual(['warning format.subtype-unknown content.format.subtype']);
  });

  it('needs key data items for a table, and data items for structured resources', () => {
    const noKey = catalogContent().dataItems!.map((d) => ({ ...d, key: false }));
    expect(rules(content({ dataItems: noKey }))).toEqual(['error dataItems.key-missing content.dataItems']);
    expect(rules(content({ dataItems: [] }))).toEqual(['error element.missing content.dataItems']);
    // A file resource may have none.
    expect(rules(content({ format: { type: 'electronicFile', subtype: 'ofd' }, shareMethods: ['file'], dataItems: [] }))).toEqual([]);
  });

  it('checks that a declared value format fits the data type', () => {
    const items = [{ nameZh: '身份证号', dataType: 'string' as const, length: 15, format: 'idCard' as const, key: true }, { nameZh: '区划', dataType: 'integer' as const, format: 'regionCode' as const }];
    expect(rules(content({ dataItems: items }))).toEqual(['error dataItems.format-type content.dataItems.0.format', 'error dataItems.format-type content.dataItems.1.format']);
  });

  it('checks related codes against the catalog', () => {
    const c = content({ relatedCodes: ['301001/000001', '301001/000002', '301001/000003', '301002/000009'] });
    const known: ConformanceContext = {
      ...ctx,
      ownCode: '301002/000009',
      relatedCodes: new Map([
        ['301001/000001', 'published'],
        ['301001/000002', 'withdrawn'],
      ]),
    };
    expect(rules(c, known)).toEqual([
      'warning relatedCodes.withdrawn content.relatedCodes.1',
      'error relatedCodes.unknown content.relatedCodes.2',
      'warning relatedCodes.self content.relatedCodes.3',
    ]);
  });

  it('reports required extension fields left empty; only errors block', () => {
    const findings = conformanceFindings(content({ shareType: 'unconditional', shareCondition: undefined }), { ...ctx, extensionFields: [{ key: 'level', labelZh: '级别', required: true }] });
    expect(findings.map((f) => f.rule)).toEqual(['shareType.sensitive-unconditional', 'extension.required']);
    expect(blocking(findings).map((f) => f.field)).toEqual(['content.extensions.level']);
  });
});

describe('declared value formats', () => {
  it('checks identity numbers, credit codes and region codes', () => {
    expect(formatProblem('idCard', '11010519491231002X')).toBeUndefined();
    expect(formatProblem('idCard', '110105194912310021')?.messageZh).toBe('不是合法的公民身份号码：校验码应为 X');
    expect(formatProblem('uscc', '91350100M000100Y43')).toBeUndefined();
    expect(formatProblem('uscc', '91350100M000100Y44')).toBeDefined();
    expect(formatProblem('regionCode', '430400')).toBeUndefined();
    expect(formatProblem('regionCode', '43040')).toBeDefined();
  });
});
