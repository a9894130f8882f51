import { Alert, Button, Card, Form, Input, Space, Typography } from 'antd';
import { api, ApiError } from '../api';
import { errorMessage } from '../errors';
import { useI18n } from '../i18n/context';
import { LanguageSelect } from '../i18n/LanguageSelect';
import { useSubmit } from '../use-submit';
import { isTotpCode } from '../validation';

interface LoginForm {
  readonly username: string;
  readonly password: string;
  readonly totpCode?: string;
}

export function LoginPage({ notice, onLoggedIn }: { readonly notice?: { readonly type: 'info' | 'warning'; readonly text: string }; readonly onLoggedIn: () => Promise<void> }) {
  const { t, lang } = useI18n();
  // The code field is always offered: the API says when it is required (an enrolled account).
  const { busy, error, submit } = useSubmit(async (v: LoginForm) => {
    await api('POST', '/auth/login', { username: v.username.trim(), password: v.password, ...(v.totpCode ? { totpCode: v.totpCode } : {}) }, { quiet: true });
    await onLoggedIn();
  });
  return (
    <div className="gs-center gs-login">
      <Card className="gs-login-card">
        <Space orientation="vertical" size="middle" style={{ width: '100%' }}>
          <Space style={{ width: '100%', justifyContent: 'space-between' }}>
            <Typography.Title level={1} className="gs-login-title">
              {t('app.title')}
            </Typography.Title>
          </Space>
            <LanguageSelect style={{ alignSelf: 'flex-end' }} />
          <Typography.Title level={2}>{t('login.title')}</Typography.Title>
          {notice && !error ? <Alert type={notice.type} showIcon title={notice.text} data-testid="login-notice" /> : null}
          {error ? <Alert type={error instanceof ApiError && error.code === 'GS_ERR_AUTH_LOCKED' ? 'error' : 'warning'} showIcon title={errorMessage(lang, error)} role="alert" data-testid="login-error" /> : null}
          <Form<LoginForm> layout="vertical" onFinish={(v) => void submit(v)} requiredMark={false}>
            <Form.Item label={t('login.username')} name="username" rules={[{ required: true, message: t('validation.required', { field: t('login.username') }) }]}>
              <Input autoComplete="username" autoFocus />
            </Form.Item>
            <Form.Item label={t('login.password')} name="password" rules={[{ required: true, message: t('validation.required', { field: t('login.password') }) }]}>
              <Input.Password autoComplete="current-password" />
            </Form.Item>
            <Form.Item
              label={t('login.totp')}
              name="totpCode"
              extra={t('login.totpHint')}
              rules={[{ validator: async (_r, v: string | undefined) => (!v || isTotpCode(v) ? undefined : Promise.reject(new Error(t('validation.totpFormat')))) }]}
            >
              <Input inputMode="numeric" autoComplete="one-time-code" maxLength={6} />
            </Form.Item>
            <Button type="primary" htmlType="submit" loading={busy} block>
              {t('login.submit')}
            </Button>
          </Form>
        </Space>
      </Card>
    </div>
  );
}
