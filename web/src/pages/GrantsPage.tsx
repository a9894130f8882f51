import { Alert, Button, Card, DatePicker, Descriptions, Form, Input, Segmented, Space, Spin, Table, Tag, Timeline, Typography } from 'antd';
import { useCallback, useEffect, useState } from 'react';
import { api, queryString, type Me } from '../api';
import type { Grant, GrantEvent, GrantStatus, ShareRequest } from '../api-requests';
import { errorMessage } from '../errors';
import { useI18n } from '../i18n/context';
import { contentLanguage, formatDate, formatDateTime } from '../i18n/i18n';
import { navigate } from '../router';
import { useSubmit } from '../use-submit';

const SIDES = ['consumer', 'provider', 'all'] as const;

const statusColour: Readonly<Record<GrantStatus, string | undefined>> = { active: 'green', suspended: 'orange', revoked: 'red', expired: undefined };

/** 授权: the grants the agency holds (as consumer) or gave (as provider); the supervisor sees all. */
export function GrantsPage({ me }: { readonly me: Me }) {
  const { t, lang } = useI18n();
  const [side, setSide] = useState<(typeof SIDES)[number]>(me.user.agencyId ? 'consumer' : 'all');
  const [rows, setRows] = useState<readonly Grant[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    let live = true;
    setRows(null);
    api<{ items: Grant[] }>('GET', `/grants${queryString({ side: side === 'all' ? undefined : side, lang: contentLanguage(lang), limit: 200 })}`)
      .then((r) => live && setRows(r.items))
      .catch((e: unknown) => live && setError(e));
    return () => {
      live = false;
    };
  }, [side, lang]);
  return (
    <Space orientation="vertical" size="middle" style={{ width: '100%' }}>
      <Typography.Title level={2}>{t('grants.title')}</Typography.Title>
      {me.user.agencyId ? <Segmented value={side} onChange={(v) => setSide(v as (typeof SIDES)[number])} options={SIDES.map((s) => ({ value: s, label: t(`grants.side.${s}`) }))} aria-label={t('grants.side.label')} /> : null}
      {error ? <Alert type="error" showIcon role="alert" title={errorMessage(lang, error)} /> : null}
      <Table<Grant>
        data-testid="grant-list"
        rowKey="id"
        size="small"
        loading={rows === null && !error}
        dataSource={rows ? [...rows] : []}
        pagination={{ pageSize: 20, hideOnSinglePage: true }}
        columns={[
          {
            title: t('grants.resource'),
            dataIndex: 'resourceCode',
            render: (code: string, g) => (
              <a
                href={`/grants/${g.id}`}
                data-testid="grant-link"
                onClick={(e) => {
                  e.preventDefault();
                  navigate(`/grants/${g.id}`);
                }}
              >
                {code}
              </a>
            ),
          },
          { title: t('grants.consumer'), render: (_, g) => `${g.consumer.name} · ${g.system.name}` },
          { title: t('catalog.provider'), render: (_, g) => g.provider.name },
          { title: t('requests.method'), render: (_, g) => t(`grantMethod.${g.shareMethod}`) },
          { title: t('grants.items'), render: (_, g) => g.items.join('、') },
          { title: t('grants.validUntil'), render: (_, g) => formatDate(lang, g.validUntil) },
          { title: t('grants.status'), render: (_, g) => <Tag color={statusColour[g.status]}>{t(`grantStatus.${g.status}`)}</Tag> },
        ]}
      />
    </Space>
  );
}

/** One grant: its terms, its events, and suspend / reinstate / revoke (provider or supervisor) or renewal (consumer). */
export function GrantPage({ id, me }: { readonly id: string; readonly me: Me }) {
  const { t, lang } = useI18n();
  const [grant, setGrant] = useState<Grant | null>(null);
  const [events, setEvents] = useState<readonly GrantEvent[]>([]);
  const [error, setError] = useState<unknown>(null);
  const load = useCallback(async () => {
    const [g, e] = await Promise.all([api<Grant>('GET', `/grants/${encodeURIComponent(id)}?lang=${contentLanguage(lang)}`), api<{ items: GrantEvent[] }>('GET', `/grants/${encodeURIComponent(id)}/events`)]);
    setGrant(g);
    setEvents(e.items);
  }, [id, lang]);
  useEffect(() => {
    load().catch((e: unknown) => setError(e));
  }, [load]);
  if (error) return <Alert type="error" showIcon role="alert" title={errorMessage(lang, error)} />;
  if (!grant) return <Spin />;
  const g = grant;
  const mine = me.user.agencyId;
  const canManage = me.permissions.includes('grant:manage') && (mine === null || g.provider.id === mine) && (g.status === 'active' || g.status === 'suspended');
  const canRenew = me.permissions.includes('request:file') && mine !== null && g.consumer.id === mine && g.status !== 'revoked';
  return (
    <Space orientation="vertical" size="middle" style={{ width: '100%' }}>
      <Button onClick={() => window.history.back()}>{t('entry.back')}</Button>
      <Typography.Title level={2}>
        {t('grants.detailTitle')} · {g.resourceCode}
      </Typography.Title>
      <Descriptions bordered size="small" column={2} data-testid="grant-detail">
        <Descriptions.Item label={t('grants.status')}>
          <Tag color={statusColour[g.status]} data-testid="grant-status">
            {t(`grantStatus.${g.status}`)}
          </Tag>
          {g.statusReason ? ` ${g.statusReason}` : ''}
        </Descriptions.Item>
        <Descriptions.Item label={t('requests.method')}>{t(`grantMethod.${g.shareMethod}`)}</Descriptions.Item>
        <Descriptions.Item label={t('grants.consumer')}>
          {g.consumer.name} · {g.system.name}
        </Descriptions.Item>
        <Descriptions.Item label={t('catalog.provider')}>{g.provider.name}</Descriptions.Item>
        <Descriptions.Item label={t('grants.items')} span={2}>
          <span data-testid="grant-items">
            {g.items.map((i) => (
              <Tag key={i}>
                {i}
                {g.masking[i] ? `（${t(`mask.${g.masking[i]}`)}）` : ''}
              </Tag>
            ))}
          </span>
        </Descriptions.Item>
        <Descriptions.Item label={t('requests.rowFilter')}>{g.rowFilterText || t('grants.allRows')}</Descriptions.Item>
        <Descriptions.Item label={t('requests.ratePerMinute')}>{g.ratePerMinute ?? '—'}</Descriptions.Item>
        <Descriptions.Item label={t('grants.validity')}>
          {formatDateTime(lang, g.validFrom)} — {formatDate(lang, g.validUntil)}
        </Descriptions.Item>
        <Descriptions.Item label={t('requests.conditions')}>{g.conditions ?? '—'}</Descriptions.Item>
        <Descriptions.Item label={t('grants.request')} span={2}>
          <a
            href={`/requests/${g.requestId}`}
            onClick={(e) => {
              e.preventDefault();
              navigate(`/requests/${g.requestId}`);
            }}
          >
            {t('grants.viewRequest')}
          </a>
        </Descriptions.Item>
      </Descriptions>
      {canManage ? <GrantStatusForm grant={g} onDone={load} /> : null}
      {canRenew ? <RenewForm grant={g} /> : null}
      <Card title={t('grants.events')} size="small">
        <Timeline
          data-testid="grant-events"
          items={events.map((e) => ({
            key: `${e.at}-${e.action}`,
            content: `${formatDateTime(lang, e.at)} · ${e.actor} · ${t(`grantAction.${e.action}`)}${e.statusTo ? ` → ${t(`grantStatus.${e.statusTo}`)}` : ''}${e.reason ? `：${e.reason}` : ''}`,
          }))}
        />
      </Card>
    </Space>
  );
}

function GrantStatusForm({ grant, onDone }: { readonly grant: Grant; readonly onDone: () => Promise<void> }) {
  const { t, lang } = useI18n();
  const [form] = Form.useForm<{ reason: string }>();
  const [step, setStep] = useState<'suspend' | 'reinstate' | 'revoke'>(grant.status === 'suspended' ? 'reinstate' : 'suspend');
  const { busy, error, submit } = useSubmit<{ reason: string }>(async (v) => {
    await api('POST', `/grants/${grant.id}/${step}?lang=${contentLanguage(lang)}`, { reason: v.reason, expectedVersion: grant.version });
    form.resetFields();
    await onDone();
  });
  const steps = grant.status === 'suspended' ? (['reinstate', 'revoke'] as const) : (['suspend', 'revoke'] as const);
  return (
    <Card title={t('grants.manage')} size="small" data-testid="grant-manage">
      <Form form={form} layout="vertical" onFinish={(v) => void submit(v)} disabled={busy}>
        <Segmented value={step} onChange={(v) => setStep(v as typeof step)} options={steps.map((s) => ({ value: s, label: t(`grants.step.${s}`) }))} style={{ marginBottom: 12 }} />
        <Form.Item name="reason" label={t('grants.reason')} rules={[{ required: true, whitespace: true, message: t('requests.required') }]}>
          <Input.TextArea rows={2} />
        </Form.Item>
        {step === 'revoke' ? <Alert type="warning" showIcon title={t('grants.revokeWarning')} style={{ marginBottom: 12 }} /> : null}
        {error ? <Alert type="error" showIcon role="alert" title={errorMessage(lang, error)} style={{ marginBottom: 12 }} /> : null}
        <Button type="primary" danger={step === 'revoke'} htmlType="submit" loading={busy} data-testid="grant-step-submit">
          {t(`grants.step.${step}`)}
        </Button>
      </Form>
    </Card>
  );
}

function RenewForm({ grant }: { readonly grant: Grant }) {
  const { t, lang } = useI18n();
  const { busy, error, submit } = useSubmit<{ validUntil: { format: (f: string) => string }; comment?: string }>(async (v) => {
    const made = await api<ShareRequest>('POST', `/grants/${grant.id}/renew?lang=${contentLanguage(lang)}`, { validUntil: v.validUntil.format('YYYY-MM-DD'), comment: v.comment?.trim() || undefined });
    navigate(`/requests/${made.id}`);
  });
  return (
    <Card title={t('grants.renew')} size="small">
      <Form layout="inline" onFinish={(v) => void submit(v)} disabled={busy}>
        <Form.Item name="validUntil" label={t('grants.newValidUntil')} rules={[{ required: true, message: t('requests.required') }]}>
          <DatePicker />
        </Form.Item>
        <Form.Item name="comment" label={t('requests.comment')}>
          <Input style={{ width: 300 }} />
        </Form.Item>
        <Button htmlType="submit" loading={busy}>
          {t('grants.renew')}
        </Button>
      </Form>
      {error ? <Alert type="error" showIcon role="alert" title={errorMessage(lang, error)} style={{ marginTop: 12 }} /> : null}
    </Card>
  );
}
