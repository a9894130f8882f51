import en from './en.json';
import zhCN from './zh-CN.json';

// Each area of the console keeps its labels in its own file, `zh-CN/<area>.json` and
// `en/<area>.json`, merged here with the shared labels of `zh-CN.json` and `en.json`.
const AREAS_ZH = import.meta.glob<Messages>('./zh-CN/*.json', { eager: true, import: 'default' });
const AREAS_EN = import.meta.glob<Messages>('./en/*.json', { eager: true, import: 'default' });

/** The console's languages; Chinese is the default and the fallback for every missing label. */
export const LANGUAGES = ['zh-CN', 'en'] as const;
export type Language = (typeof LANGUAGES)[number];
export const DEFAULT_LANGUAGE: Language = 'zh-CN';

export type Messages = { readonly [key: string]: string };
/** Every label of a language: the shared file and the area files (a key defined twice is a mistake a test catches). */
export const CATALOGS: Record<Language, Messages> = { 'zh-CN': merge(zhCN, AREAS_ZH), en: merge(en, AREAS_EN) };

function merge(shared: Messages, areas: Record<string, Messages>): Messages {
  return Object.assign({}, shared, ...Object.keys(areas).sort().map((k) => areas[k]));
}

/** The label files of a language, by name, for the test that checks they agree. */
export const LABEL_FILES: Record<Language, Record<string, Messages>> = {
  'zh-CN': { 'zh-CN.json': zhCN, ...AREAS_ZH },
  en: { 'en.json': en, ...AREAS_EN },
};

export function isLanguage(v: unknown): v is Language {
  return typeof v === 'string' && (LANGUAGES as readonly string[]).includes(v);
}

export type Params = Readonly<Record<string, string | number>>;

/** Fills `{name}` placeholders; a placeholder without a value stays as written, so a gap is visible. */
export function interpolate(template: string, params: Params = {}): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (name in params ? String(params[name]) : whole));
}

/**
 * The label for `key` in `lang`, falling back to Chinese and then to the key itself (a missing
 * label shows its key rather than nothing).
 */
export function translate(lang: Language, key: string, params?: Params, catalogs: Record<Language, Messages> = CATALOGS): string {
  const template = catalogs[lang][key] ?? catalogs[DEFAULT_LANGUAGE][key] ?? key;
  return interpolate(template, params);
}

/** The language asked of the API's `lang` parameter for catalog content. */
export function contentLanguage(lang: Language): string {
  return lang === 'zh-CN' ? 'zh' : lang;
}

/** Date and time as people in the language expect them; the platform's clock is China's. */
export function formatDateTime(lang: Language, iso: string): string {
  return new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short', timeZone: 'Asia/Shanghai' }).format(new Date(iso));
}

export function formatDate(lang: Language, isoDate: string): string {
  // A plain YYYY-MM-DD is a calendar day: format it as that day, whatever the browser's zone.
  const d = /^\d{4}-\d{2}-\d{2}$/.test(isoDate) ? new Date(`${isoDate}T00:00:00Z`) : new Date(isoDate);
  return new Intl.DateTimeFormat(lang, { dateStyle: 'long', timeZone: /^\d{4}-\d{2}-\d{2}$/.test(isoDate) ? 'UTC' : 'Asia/Shanghai' }).format(d);
}

export function formatNumber(lang: Language, n: number): string {
  return new Intl.NumberFormat(lang).format(n);
}
