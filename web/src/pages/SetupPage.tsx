import { Alert, Button, Card, Form, Image, Input, Space, Steps, Typography } from 'antd';
import QRCode from 'qrcode';
import { useEffect, useState } from 'react';
import { api, type Me } from '../api';
import { errorMessage } from '../errors';
import { useI18n } from '../i18n/context';
import { useSubmit } from '../use-submit';
import { isTotpCode, passwordProblems } from '../validation';

/** First login: change the generated password, then enrol an authenticator where required. */
export function SetupPage({ me, onDone, onLogout }: { readonly me: Me; readonly onDone: () => Promise<void>; readonly onLogout: () => void }) {
  const { t } = useI18n();
  const steps = me.setupRequired;
  const step = steps[0];
  const needsTotp = me.totpRequired || steps.includes('enrolTotp');
  const logout = async () => {
    try {
      await api('POST', '/auth/logout', undefined, { quiet: true });
    } finally {
      onLogout();
    }
  };
  return (
    <div className="gs-center">
      <Card className="gs-setup-card">
        <Space orientation="vertical" size="middle" style={{ width: '100%' }}>
          <Typography.Title level={1}>{t('setup.title')}</Typography.Title>
          <Typography.Paragraph>{t('setup.intro', { totp: needsTotp ? t('setup.introTotp') : '' })}</Typography.Paragraph>
          <Steps
            current={step === 'enrolTotp' && needsTotp && !steps.includes('changePassword') ? 1 : 0}
            items={[{ title: t('setup.password.title') }, ...(needsTotp ? [{ title: t('setup.totp.title') }] : [])]}
          />
          {step === 'changePassword' ? <PasswordStep me={me} onDone={onDone} /> : null}
          {step === 'enrolTotp' ? <TotpStep onDone={onDone} /> : null}
          <Button onClick={() => void logout()}>{t('header.logout')}</Button>
        </Space>
      </Card>
    </div>
  );
}

interface PasswordForm {
  readonly currentPassword: string;
  readonly newPassword: string;
  readonly repeat: string;
}

function PasswordStep({ me, onDone }: { readonly me: Me; readonly onDone: () => Promise<void> }) {
  const { t, lang } = useI18n();
  const { busy, error, submit } = useSubmit(async (v: PasswordForm) => {
    await api('POST', '/auth/password', { currentPassword: v.currentPassword, newPassword: v.newPassword });
    await onDone();
  });
  return (
    <Form<PasswordForm> layout="vertical" onFinish={(v) => void submit(v)} requiredMark={false}>
      <Typography.Title level={2}>{t('setup.password.title')}</Typography.Title>
      {error ? <Alert type="error" showIcon title={errorMessage(lang, error)} role="alert" style={{ marginBottom: 16 }} /> : null}
      <Form.Item label={t('setup.password.current')} name="currentPassword" rules={[{ required: true, message: t('validation.required', { field: t('setup.password.current') }) }]}>
        <Input.Password autoComplete="current-password" autoFocus />
      </Form.Item>
      <Form.Item
        label={t('setup.password.new')}
        name="newPassword"
        extra={t('setup.password.rule')}
        rules={[
          {
            validator: async (_r, v: string | undefined) => {
              const problems = passwordProblems(v ?? '', me.user.username);
              if (problems.length > 0) throw new Error(problems.map((p) => t(p)).join('；'));
            },
          },
        ]}
      >
        <Input.Password autoComplete="new-password" />
      </Form.Item>
      <Form.Item
        label={t('setup.password.repeat')}
        name="repeat"
        dependencies={['newPassword']}
        rules={[
          ({ getFieldValue }) => ({
            validator: async (_r, v: string | undefined) => {
              if (v !== getFieldValue('newPassword')) throw new Error(t('validation.passwordMismatch'));
            },
          }),
        ]}
      >
        <Input.Password autoComplete="new-password" />
      </Form.Item>
      <Button type="primary" htmlType="submit" loading={busy}>
        {t('setup.password.submit')}
      </Button>
    </Form>
  );
}

function TotpStep({ onDone }: { readonly onDone: () => Promise<void> }) {
  const { t, lang } = useI18n();
  const [enrolment, setEnrolment] = useState<{ secret: string; qr: string } | null>(null);
  const { busy, error, setError, submit } = useSubmit(async (v: { code: string }) => {
    await api('POST', '/auth/totp/confirm', { code: v.code });
    await onDone();
  });
  useEffect(() => {
    let live = true;
    api<{ secret: string; otpauthUri: string }>('POST', '/auth/totp/enrol')
      .then(async (r) => {
        const qr = await QRCode.toDataURL(r.otpauthUri, { margin: 1, width: 200 });
        if (live) setEnrolment({ secret: r.secret, qr });
      })
      .catch((e: unknown) => live && setError(e));
    return () => {
      live = false;
    };
  }, []);
  return (
    <Form<{ code: string }> layout="vertical" onFinish={(v) => void submit(v)} requiredMark={false}>
      <Typography.Title level={2}>{t('setup.totp.title')}</Typography.Title>
      <Typography.Paragraph>{t('setup.totp.intro')}</Typography.Paragraph>
      {error ? <Alert type="error" showIcon title={errorMessage(lang, error)} role="alert" style={{ marginBottom: 16 }} /> : null}
      {enrolment ? (
        <Space orientation="vertical" style={{ marginBottom: 16 }}>
          <Image src={enrolment.qr} alt={t('setup.totp.qr')} width={200} height={200} preview={false} data-testid="totp-qr" />
          <span>
            {t('setup.totp.secret')}:{' '}
            <Typography.Text code copyable data-testid="totp-secret">
              {enrolment.secret}
            </Typography.Text>
          </span>
        </Space>
      ) : null}
      <Form.Item label={t('setup.totp.code')} name="code" rules={[{ validator: async (_r, v: string | undefined) => (isTotpCode(v ?? '') ? undefined : Promise.reject(new Error(t('validation.totpFormat')))) }]}>
        <Input inputMode="numeric" autoComplete="one-time-code" maxLength={6} />
      </Form.Item>
      <Button type="primary" htmlType="submit" loading={busy} disabled={!enrolment}>
        {t('setup.totp.submit')}
      </Button>
    </Form>
  );
}
