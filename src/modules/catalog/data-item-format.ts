import { checkIdCard } from '../../lib/id-card.js';
import { checkUscc } from '../../lib/uscc.js';
import type { DataItemFormat } from './vocabulary.js';

/**
 * Whether a value fits a data item's declared format; the exchange checks every incoming value
 * with it. Returns the reason in both languages, or undefined when the value fits.
 */
export function formatProblem(format: DataItemFormat, value: string): { readonly message: string; readonly messageZh: string } | undefined {
  switch (format) {
    case 'idCard': {
      const r = checkIdCard(value);
      if (r.ok) return undefined;
      return r.problem === 'checkCharacter'
        ? { message: `not a GB 11643 identity number: the check character should be ${r.expected ?? '?'}`, messageZh: `不是合法的公民身份号码：校验码应为 ${r.expected ?? '?'}` }
        : { message: `not a GB 11643 identity number (${r.problem})`, messageZh: '不是合法的公民身份号码' };
    }
    case 'uscc': {
      const r = checkUscc(value);
      if (r.ok) return undefined;
      return { message: `not a GB 32100 unified social credit code (${r.problem})`, messageZh: '不是合法的统一社会信用代码' };
    }
    case 'regionCode':
      return /^[1-8]\d{5}$/.test(value) ? undefined : { message: 'not a GB/T 2260 region code (6 digits)', messageZh: '不是合法的行政区划代码（6 位数字）' };
  }
}
