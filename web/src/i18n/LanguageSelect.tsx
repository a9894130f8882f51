import { Select } from 'antd';
import type { CSSProperties } from 'react';
import { useI18n } from './context';
import { LANGUAGES, isLanguage } from './i18n';

/** 中文 / English: the language switch of the header and of the sign-in page. */
export function LanguageSelect({ style }: { readonly style?: CSSProperties }) {
  const { t, lang, setLang } = useI18n();
  return (
    <Select
      aria-label={t('lang.switch')}
      data-testid="language"
      value={lang}
      onChange={(v: string) => isLanguage(v) && setLang(v)}
      options={LANGUAGES.map((l) => ({ value: l, label: t(`lang.${l}`) }))}
      style={{ width: 110, ...style }}
    />
  );
}
