import { Alert, Badge, Button, Layout, Menu, Space, Spin, Typography } from 'antd';
import { useCallback, useEffect, useState } from 'react';
import { api, onSessionEnd, type Agency, type Me } from './api';
import { errorMessage } from './errors';
import { useI18n } from './i18n/context';
import { contentLanguage } from './i18n/i18n';
import { LanguageSelect } from './i18n/LanguageSelect';
import { LoginPage } from './pages/LoginPage';
import { allowed, NAV } from './pages/nav';
import { resolve } from './pages/registry';
import { SetupPage } from './pages/SetupPage';
import { navigate, useLocation } from './router';

type Session = { readonly state: 'loading' } | { readonly state: 'out'; readonly notice?: { readonly type: 'info' | 'warning'; readonly text: string } } | { readonly state: 'in'; readonly me: Me };

export function App() {
  const { t, lang } = useI18n();
  const [session, setSession] = useState<Session>({ state: 'loading' });
  const loc = useLocation();
  const [unread, setUnread] = useState<number | null>(null);
  const [unreadTick, setUnreadTick] = useState(0);
  const signedIn = session.state === 'in' && session.me.setupRequired.length === 0 && session.me.permissions.includes('notification:read');

  // The unread count is fetched when the page changes, never on a timer: a timer would keep an
  // idle session alive for ever and defeat the idle timeout.
  useEffect(() => {
    if (!signedIn) return;
    let live = true;
    api<{ unread: number }>('GET', '/notifications/unread-count')
      .then((r) => live && setUnread(r.unread))
      .catch(() => live && setUnread(null));
    return () => {
      live = false;
    };
  }, [signedIn, loc.path, unreadTick]);

  const refresh = useCallback(async () => {
    try {
      setSession({ state: 'in', me: await api<Me>('GET', '/auth/me', undefined, { quiet: true }) });
    } catch {
      setSession({ state: 'out' });
    }
  }, []);

  useEffect(() => {
    void refresh();
  }, [refresh]);

  // A call that finds the session gone (idle timeout, …) brings the person back to the login page
  // with the reason. Only a live session ends so: a page's call still in flight when the person
  // logs out must not replace "you have logged out" with "the session ended".
  useEffect(() => onSessionEnd((e) => setSession((s) => (s.state === 'in' ? { state: 'out', notice: { type: 'warning', text: errorMessage(lang, e) } } : s))), [lang]);

  if (session.state === 'loading') {
    return (
      <div className="gs-center">
        <Spin tip={t('app.loading')} />
      </div>
    );
  }
  if (session.state === 'out') {
    return <LoginPage notice={session.notice} onLoggedIn={refresh} />;
  }
  const { me } = session;
  if (me.setupRequired.length > 0) {
    return <SetupPage me={me} onDone={refresh} onLogout={() => setSession({ state: 'out' })} />;
  }

  const pages = NAV.filter((p) => allowed(me, p.permissions));
  if ((loc.path === '/' || loc.path === '/login') && pages[0]) navigate(pages[0].path, { replace: true });

  const logout = async () => {
    try {
      await api('POST', '/auth/logout', undefined, { quiet: true });
    } finally {
      navigate('/', { replace: true });
      setSession({ state: 'out', notice: { type: 'info', text: t('login.loggedOut') } });
    }
  };

  const page = resolve(loc.path, me);
  const content = page ? page.route.render({ me, params: page.params, query: loc.query, onInboxChange: () => setUnreadTick((n) => n + 1) }) : <Alert type="info" showIcon title={t('home.noPages')} />;

  return (
    <Layout className="gs-shell">
      <Layout.Header className="gs-header">
        <Typography.Title level={1} className="gs-brand">
          <a
            href="/"
            onClick={(e) => {
              e.preventDefault();
              navigate('/');
            }}
          >
            {t('app.title')}
          </a>
        </Typography.Title>
        <Space size="middle" wrap>
          <span data-testid="current-user">
            {t('header.user')}: <strong>{me.user.displayName}</strong> ({me.user.roles.map((r) => t(`role.${r}`)).join('、')})
          </span>
          <AgencyName agencyId={me.user.agencyId} canRead={me.permissions.includes('agency:read')} />
          <LanguageSelect />
          <Button onClick={() => void logout()}>{t('header.logout')}</Button>
        </Space>
      </Layout.Header>
      <Layout>
        <Layout.Sider width={200} theme="light" className="gs-sider">
          <nav aria-label={t('nav.label')}>
            <Menu
              mode="inline"
              selectedKeys={pages.filter((p) => loc.path === p.path || loc.path.startsWith(`${p.path}/`)).map((p) => p.key)}
              items={pages.map((p) => ({
                key: p.key,
                label:
                  p.key === 'inbox' && unread ? (
                    <Space>
                      {t(p.label)}
                      <Badge count={unread} aria-label={t('inbox.unreadCount', { count: unread })} data-testid="unread-count" />
                    </Space>
                  ) : (
                    t(p.label)
                  ),
              }))}
              onClick={({ key }) => {
                const p = pages.find((x) => x.key === key);
                if (p) navigate(p.path);
              }}
            />
          </nav>
        </Layout.Sider>
        <Layout.Content className="gs-content">
          <main>{content}</main>
        </Layout.Content>
      </Layout>
    </Layout>
  );
}

function AgencyName({ agencyId, canRead }: { readonly agencyId: string | null; readonly canRead: boolean }) {
  const { t, lang } = useI18n();
  const [name, setName] = useState<string | null>(null);
  useEffect(() => {
    if (!agencyId || !canRead) return;
    let live = true;
    api<Agency & { name: string }>('GET', `/agencies/${agencyId}?lang=${contentLanguage(lang)}`)
      .then((a) => live && setName(a.name))
      .catch(() => live && setName(null));
    return () => {
      live = false;
    };
  }, [agencyId, canRead, lang]);
  return (
    <span data-testid="current-agency">
      {t('header.agency')}: {agencyId ? (name ?? '…') : t('header.platform')}
    </span>
  );
}
