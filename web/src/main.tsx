import { cspNonce as nonce } from './csp-nonce';
import { App as AntApp, ConfigProvider } from 'antd';
import enUS from 'antd/locale/en_US';
import zhCN from 'antd/locale/zh_CN';
import { StrictMode, useCallback, useEffect, useMemo, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import './styles.css';
import { I18nContext, type I18n } from './i18n/context';
import { DEFAULT_LANGUAGE, isLanguage, translate, type Language } from './i18n/i18n';

const LANG_KEY = 'govshare.lang';

function storedLanguage(): Language {
  try {
    const v = window.localStorage.getItem(LANG_KEY);
    return isLanguage(v) ? v : DEFAULT_LANGUAGE;
  } catch {
    return DEFAULT_LANGUAGE;
  }
}

function Root() {
  const [lang, setLangState] = useState<Language>(storedLanguage);
  const setLang = useCallback((l: Language) => {
    setLangState(l);
    try {
      window.localStorage.setItem(LANG_KEY, l);
    } catch {
      // private mode: the choice lasts for this page only
    }
  }, []);
  useEffect(() => {
    document.documentElement.lang = lang;
    document.title = translate(lang, 'app.title');
  }, [lang]);
  const i18n = useMemo<I18n>(() => ({ lang, setLang, t: (key, params) => translate(lang, key, params) }), [lang, setLang]);
  return (
    <I18nContext.Provider value={i18n}>
      <ConfigProvider locale={lang === 'zh-CN' ? zhCN : enUS} csp={nonce ? { nonce } : undefined}>
        <AntApp>
          <App />
        </AntApp>
      </ConfigProvider>
    </I18nContext.Provider>
  );
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <Root />
  </StrictMode>,
);
