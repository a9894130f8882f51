// BCP 47 language tags for multilingual names (e.g. Uyghur, Kazakh, Mongolian, Tibetan).

// Deliberately narrower than full BCP 47: no extlang, extensions, private use or
// grandfathered tags, since names only need language[-script][-region][-variant]*.
const TAG_PATTERN =
  /^([a-z]{2,3})(?:-([a-z]{4}))?(?:-([a-z]{2}|\d{3}))?((?:-(?:[a-z0-9]{5,8}|\d[a-z0-9]{3}))*)$/i;

/**
 * Returns the canonical form of a well-formed tag (language lowercase, Script titlecase,
 * REGION uppercase), or undefined if malformed. Intl also maps deprecated aliases to
 * their preferred values (e.g. iw → he, cmn → zh), so equal languages get equal keys.
 */
export function normaliseLanguageTag(tag: string): string | undefined {
  const match = TAG_PATTERN.exec(tag);
  if (!match) return undefined;
  const [, language = '', script, region, variants = ''] = match;
  let cased = language.toLowerCase();
  if (script) cased += `-${script.charAt(0).toUpperCase()}${script.slice(1).toLowerCase()}`;
  if (region) cased += `-${region.toUpperCase()}`;
  cased += variants.toLowerCase();
  try {
    return Intl.getCanonicalLocales(cased)[0];
  } catch (err) {
    // RangeError means ICU rejects the tag (e.g. a repeated variant); anything else is a bug.
    if (err instanceof RangeError) return undefined;
    throw err;
  }
}

/**
 * True for `zh` and any `zh-*` tag. Judged on the canonical form so the decision agrees
 * with the key a name would be stored under (e.g. `cmn` → `zh` is Chinese).
 */
export function isChineseTag(tag: string): boolean {
  const normalised = normaliseLanguageTag(tag);
  if (normalised === undefined) return false;
  return normalised === 'zh' || normalised.startsWith('zh-');
}

/**
 * The text in `lang` from `texts` (keyed by canonical BCP 47 tag: the exact tag, then its
 * language subtag), else the Chinese text: what every multilingual name and abstract shows.
 */
export function localisedText(zh: string, texts: Readonly<Record<string, string>>, lang: string | undefined): string {
  if (!lang) return zh;
  const tag = normaliseLanguageTag(lang);
  if (!tag || isChineseTag(tag)) return zh;
  return texts[tag] ?? texts[tag.split('-')[0]!] ?? zh;
}
