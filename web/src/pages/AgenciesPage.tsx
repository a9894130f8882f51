import { Alert, Button, Card, Form, Input, Select, Space, Table, Tag, Typography } from 'antd';
import { useCallback, useEffect, useState } from 'react';
import { api, type Me } from '../api';
import type { BusinessSystem } from '../api-requests';
import { errorMessage } from '../errors';
import { useI18n } from '../i18n/context';
import { useSubmit } from '../use-submit';

interface AgencyRow {
  readonly id: string;
  readonly code: string;
  readonly nameZh: string;
  readonly uscc: string;
  readonly regionCode: string;
  readonly level: string;
  readonly active: boolean;
}

const LEVELS = ['province', 'prefecture', 'county'] as const;

/** 单位与业务系统 (operator): the agencies of the platform and the business systems that connect for them. */
export function AgenciesPage({ me }: { readonly me: Me }) {
  const { t, lang } = useI18n();
  const [agencies, setAgencies] = useState<readonly AgencyRow[] | null>(null);
  const [systems, setSystems] = useState<readonly (BusinessSystem & { readonly purpose?: string })[]>([]);
  const [error, setError] = useState<unknown>(null);
  const canAgencies = me.permissions.includes('agency:manage');
  const canSystems = me.permissions.includes('system:register');
  const load = useCallback(async () => {
    const [a, s] = await Promise.all([api<{ items: AgencyRow[] }>('GET', '/agencies?limit=200'), api<{ items: BusinessSystem[] }>('GET', '/systems?limit=200')]);
    setAgencies(a.items);
    setSystems(s.items);
  }, []);
  useEffect(() => {
    load().catch((e: unknown) => setError(e));
  }, [load]);
  const name = (id: string) => agencies?.find((a) => a.id === id)?.nameZh ?? id;
  return (
    <Space orientation="vertical" size="middle" style={{ width: '100%' }}>
      <Typography.Title level={2}>{t('admin.agencies.title')}</Typography.Title>
      {error ? <Alert type="error" showIcon role="alert" title={errorMessage(lang, error)} /> : null}
      {canAgencies ? <CreateAgency onCreated={() => void load()} /> : null}
      <Table<AgencyRow>
        data-testid="agency-list"
        rowKey="id"
        size="small"
        loading={agencies === null && !error}
        dataSource={agencies ? [...agencies] : []}
        pagination={{ pageSize: 20, hideOnSinglePage: true }}
        columns={[
          { title: t('admin.agencies.code'), dataIndex: 'code' },
          { title: t('admin.agencies.name'), dataIndex: 'nameZh' },
          { title: t('admin.agencies.uscc'), dataIndex: 'uscc' },
          { title: t('admin.agencies.region'), dataIndex: 'regionCode' },
          { title: t('admin.agencies.level'), render: (_, a) => t(`admin.level.${a.level}`) },
          { title: t('admin.users.state'), render: (_, a) => (!a.active ? <Tag>{t('admin.users.inactive')}</Tag> : <Tag color="green">{t('admin.users.active')}</Tag>) },
        ]}
      />
      <Typography.Title level={3}>{t('admin.systems.title')}</Typography.Title>
      {canSystems && agencies ? <RegisterSystem agencies={agencies} onCreated={() => void load()} /> : null}
      <Table
        data-testid="system-list"
        rowKey="id"
        size="small"
        dataSource={[...systems]}
        pagination={{ pageSize: 20, hideOnSinglePage: true }}
        columns={[
          { title: t('admin.systems.name'), dataIndex: 'name' },
          { title: t('header.agency'), render: (_, s: BusinessSystem) => name(s.agencyId) },
          { title: t('admin.systems.purpose'), dataIndex: 'purpose' },
          { title: t('admin.users.state'), render: (_, s: BusinessSystem) => <Tag>{t(`admin.systems.status.${s.status}`)}</Tag> },
        ]}
      />
    </Space>
  );
}

interface AgencyForm {
  code: string;
  nameZh: string;
  uscc: string;
  regionCode: string;
  level: string;
}

function CreateAgency({ onCreated }: { readonly onCreated: () => void }) {
  const { t, lang } = useI18n();
  const [form] = Form.useForm<AgencyForm>();
  const { busy, error, submit } = useSubmit<AgencyForm>(async (v) => {
    await api('POST', '/agencies', { code: v.code.trim(), nameZh: v.nameZh.trim(), uscc: v.uscc.trim().toUpperCase(), regionCode: v.regionCode.trim(), level: v.level });
    form.resetFields();
    onCreated();
  });
  const required = [{ required: true, whitespace: true, message: t('requests.required') }];
  return (
    <Card size="small" title={t('admin.agencies.create')}>
      <Form form={form} layout="inline" onFinish={(v) => void submit(v)} disabled={busy} initialValues={{ level: 'prefecture' }}>
        <Form.Item name="code" label={t('admin.agencies.code')} rules={[...required, { pattern: /^[A-Za-z0-9][A-Za-z0-9_-]{1,31}$/, message: t('admin.agencies.codeRule') }]}>
          <Input style={{ width: 120 }} />
        </Form.Item>
        <Form.Item name="nameZh" label={t('admin.agencies.name')} rules={required}>
          <Input style={{ width: 220 }} />
        </Form.Item>
        <Form.Item name="uscc" label={t('admin.agencies.uscc')} rules={[...required, { pattern: /^[0-9A-HJ-NPQRTUWXYa-hj-npqrtuwxy]{18}$/, message: t('admin.agencies.usccRule') }]}>
          <Input style={{ width: 200 }} />
        </Form.Item>
        <Form.Item name="regionCode" label={t('admin.agencies.region')} rules={[...required, { pattern: /^[0-9]{6}$/, message: t('admin.agencies.regionRule') }]}>
          <Input style={{ width: 100 }} />
        </Form.Item>
        <Form.Item name="level" label={t('admin.agencies.level')}>
          <Select style={{ width: 100 }} options={LEVELS.map((l) => ({ value: l, label: t(`admin.level.${l}`) }))} />
        </Form.Item>
        <Button type="primary" htmlType="submit" loading={busy} data-testid="create-agency">
          {t('admin.agencies.createButton')}
        </Button>
      </Form>
      {error ? <Alert type="error" showIcon role="alert" data-testid="agency-error" title={errorMessage(lang, error)} style={{ marginTop: 12 }} /> : null}
    </Card>
  );
}

interface SystemForm {
  agencyId: string;
  name: string;
  purpose: string;
  owner: string;
}

function RegisterSystem({ agencies, onCreated }: { readonly agencies: readonly AgencyRow[]; readonly onCreated: () => void }) {
  const { t, lang } = useI18n();
  const [form] = Form.useForm<SystemForm>();
  const { busy, error, submit } = useSubmit<SystemForm>(async (v) => {
    await api('POST', '/systems', { agencyId: v.agencyId, name: v.name.trim(), purpose: v.purpose.trim(), ownerContact: { name: v.owner.trim() } });
    form.resetFields();
    onCreated();
  });
  const required = [{ required: true, whitespace: true, message: t('requests.required') }];
  return (
    <Card size="small" title={t('admin.systems.register')}>
      <Form form={form} layout="inline" onFinish={(v) => void submit(v)} disabled={busy}>
        <Form.Item name="agencyId" label={t('header.agency')} rules={[{ required: true, message: t('requests.required') }]}>
          <Select style={{ width: 220 }} options={agencies.map((a) => ({ value: a.id, label: a.nameZh }))} showSearch={{ optionFilterProp: 'label' }} data-testid="system-agency" />
        </Form.Item>
        <Form.Item name="name" label={t('admin.systems.name')} rules={required}>
          <Input style={{ width: 160 }} />
        </Form.Item>
        <Form.Item name="purpose" label={t('admin.systems.purpose')} rules={required}>
          <Input style={{ width: 220 }} />
        </Form.Item>
        <Form.Item name="owner" label={t('admin.systems.owner')} rules={required}>
          <Input style={{ width: 100 }} />
        </Form.Item>
        <Button type="primary" htmlType="submit" loading={busy} data-testid="register-system">
          {t('admin.systems.registerButton')}
        </Button>
      </Form>
      {error ? <Alert type="error" showIcon role="alert" title={errorMessage(lang, error)} style={{ marginTop: 12 }} /> : null}
    </Card>
  );
}
