import { createContext, useContext } from 'react';
import { DEFAULT_LANGUAGE, translate, type Language, type Params } from './i18n';

export interface I18n {
  readonly lang: Language;
  readonly setLang: (lang: Language) => void;
  readonly t: (key: string, params?: Params) => string;
}

export const I18nContext = createContext<I18n>({ lang: DEFAULT_LANGUAGE, setLang: () => undefined, t: (k, p) => translate(DEFAULT_LANGUAGE, k, p) });

export function useI18n(): I18n {
  return useContext(I18nContext);
}
