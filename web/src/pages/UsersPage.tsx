import { Alert, Button, Card, Checkbox, Form, Input, Modal, Select, Space, Table, Tag, Typography } from 'antd';
import { useCallback, useEffect, useState, type HTMLAttributes } from 'react';
import { api, queryString, type Agency, type Me } from '../api';
import { errorMessage } from '../errors';
import { useI18n } from '../i18n/context';
import { formatDateTime } from '../i18n/i18n';
import { useSubmit } from '../use-submit';

export const ROLES = ['operator', 'securityAdmin', 'auditor', 'supervisor', 'cataloger', 'requester', 'reviewer', 'serviceAuthoriser', 'viewer', 'nodeAdmin'] as const;

interface Account {
  readonly id: string;
  readonly username: string;
  readonly displayName: string;
  readonly agencyId: string | null;
  readonly email: string | null;
  readonly roles: readonly string[];
  readonly active: boolean;
  readonly totpEnabled: boolean;
  readonly lockedUntil: string | null;
  readonly lastLoginAt: string | null;
}

/** 用户与角色: the operator creates and deactivates accounts; the security administrator sets roles (三权分立: the API refuses two of operator, security admin, auditor on one account). */
export function UsersPage({ me }: { readonly me: Me }) {
  const { t, lang } = useI18n();
  const [rows, setRows] = useState<readonly Account[] | null>(null);
  const [agencies, setAgencies] = useState<readonly Agency[]>([]);
  const [q, setQ] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [oneTime, setOneTime] = useState<{ readonly username: string; readonly password: string } | null>(null);
  const [editing, setEditing] = useState<Account | null>(null);
  const canManage = me.permissions.includes('user:manage');
  const canRoles = me.permissions.includes('user:roles');

  const load = useCallback(async () => {
    const [u, a] = await Promise.all([api<{ items: Account[] }>('GET', `/users${queryString({ q, limit: 200 })}`), api<{ items: Agency[] }>('GET', '/agencies?limit=200')]);
    setRows(u.items);
    setAgencies(a.items);
  }, [q]);
  useEffect(() => {
    load().catch((e: unknown) => setError(e));
  }, [load]);
  const agencyName = (id: string | null) => (id ? (agencies.find((a) => a.id === id)?.nameZh ?? id) : t('header.platform'));

  const act = async (path: string, u: Account) => {
    setError(null);
    try {
      const r = await api<{ oneTimePassword?: string }>('POST', `/users/${u.id}/${path}`);
      if (r.oneTimePassword) setOneTime({ username: u.username, password: r.oneTimePassword });
      await load();
    } catch (e) {
      setError(e);
    }
  };

  return (
    <Space orientation="vertical" size="middle" style={{ width: '100%' }}>
      <Typography.Title level={2}>{t('admin.users.title')}</Typography.Title>
      {canManage ? <CreateUser agencies={agencies} onCreated={(username, password) => { setOneTime({ username, password }); void load(); }} /> : null}
      {oneTime ? (
        <Alert
          type="warning"
          showIcon
          closable
          onClose={() => setOneTime(null)}
          data-testid="one-time-password"
          title={t('admin.users.oneTime', { username: oneTime.username })}
          description={
            <Space>
              <Typography.Text code copyable data-testid="one-time-password-value">
                {oneTime.password}
              </Typography.Text>
              {t('admin.users.oneTimeHint')}
            </Space>
          }
        />
      ) : null}
      <Input.Search placeholder={t('admin.users.search')} allowClear onSearch={(v) => setQ(v)} style={{ width: 320 }} aria-label={t('admin.users.search')} />
      {error ? <Alert type="error" showIcon role="alert" data-testid="users-error" title={errorMessage(lang, error)} /> : null}
      <Table<Account>
        data-testid="user-list"
        rowKey="id"
        size="small"
        loading={rows === null && !error}
        dataSource={rows ? [...rows] : []}
        pagination={{ pageSize: 20, hideOnSinglePage: true }}
        onRow={(u) => ({ 'data-testid': `user-${u.username}` }) as HTMLAttributes<HTMLElement>}
        columns={[
          { title: t('login.username'), dataIndex: 'username' },
          { title: t('admin.users.displayName'), dataIndex: 'displayName' },
          { title: t('header.agency'), render: (_, u) => agencyName(u.agencyId) },
          { title: t('admin.users.roles'), render: (_, u) => u.roles.map((r) => <Tag key={r}>{t(`role.${r}`)}</Tag>) },
          {
            title: t('admin.users.state'),
            render: (_, u) => (
              <Space>
                {u.active ? <Tag color="green">{t('admin.users.active')}</Tag> : <Tag>{t('admin.users.inactive')}</Tag>}
                {u.lockedUntil && new Date(u.lockedUntil) > new Date() ? <Tag color="red">{t('admin.users.locked')}</Tag> : null}
                {u.totpEnabled ? <Tag>{t('admin.users.totp')}</Tag> : null}
              </Space>
            ),
          },
          { title: t('admin.users.lastLogin'), render: (_, u) => (u.lastLoginAt ? formatDateTime(lang, u.lastLoginAt) : '—') },
          {
            title: t('admin.actions'),
            render: (_, u) => (
              <Space wrap>
                {canRoles ? (
                  <Button size="small" onClick={() => setEditing(u)} data-testid="edit-roles">
                    {t('admin.users.editRoles')}
                  </Button>
                ) : null}
                {canManage ? (
                  <>
                    <Button size="small" onClick={() => void act(u.active ? 'deactivate' : 'reactivate', u)}>
                      {t(u.active ? 'admin.users.deactivate' : 'admin.users.reactivate')}
                    </Button>
                    <Button size="small" onClick={() => void act('reset-password', u)}>
                      {t('admin.users.resetPassword')}
                    </Button>
                  </>
                ) : null}
              </Space>
            ),
          },
        ]}
      />
      {editing ? <RolesDialog account={editing} onClose={() => setEditing(null)} onSaved={() => { setEditing(null); void load(); }} /> : null}
    </Space>
  );
}

function CreateUser({ agencies, onCreated }: { readonly agencies: readonly Agency[]; readonly onCreated: (username: string, password: string) => void }) {
  const { t, lang } = useI18n();
  const [form] = Form.useForm<{ username: string; displayName: string; agencyId?: string; email?: string }>();
  const { busy, error, submit } = useSubmit<{ username: string; displayName: string; agencyId?: string; email?: string }>(async (v) => {
    const r = await api<{ user: Account; oneTimePassword: string }>('POST', '/users', { username: v.username.trim(), displayName: v.displayName.trim(), agencyId: v.agencyId ?? null, ...(v.email?.trim() ? { email: v.email.trim() } : {}) });
    form.resetFields();
    onCreated(r.user.username, r.oneTimePassword);
  });
  return (
    <Card size="small" title={t('admin.users.create')}>
      <Form form={form} layout="inline" onFinish={(v) => void submit(v)} disabled={busy}>
        <Form.Item name="username" label={t('login.username')} rules={[{ required: true, whitespace: true, message: t('requests.required') }, { pattern: /^[A-Za-z][A-Za-z0-9._-]{2,63}$/, message: t('admin.users.usernameRule') }]}>
          <Input style={{ width: 160 }} />
        </Form.Item>
        <Form.Item name="displayName" label={t('admin.users.displayName')} rules={[{ required: true, whitespace: true, message: t('requests.required') }]}>
          <Input style={{ width: 140 }} />
        </Form.Item>
        <Form.Item name="agencyId" label={t('header.agency')}>
          <Select allowClear style={{ width: 240 }} placeholder={t('header.platform')} options={agencies.map((a) => ({ value: a.id, label: a.nameZh }))} showSearch={{ optionFilterProp: 'label' }} />
        </Form.Item>
        <Form.Item name="email" label={t('admin.users.email')} rules={[{ type: 'email' }]}>
          <Input style={{ width: 200 }} />
        </Form.Item>
        <Button type="primary" htmlType="submit" loading={busy} data-testid="create-user">
          {t('admin.users.createButton')}
        </Button>
      </Form>
      {error ? <Alert type="error" showIcon role="alert" title={errorMessage(lang, error)} style={{ marginTop: 12 }} /> : null}
    </Card>
  );
}

function RolesDialog({ account, onClose, onSaved }: { readonly account: Account; readonly onClose: () => void; readonly onSaved: () => void }) {
  const { t, lang } = useI18n();
  const [roles, setRoles] = useState<string[]>([...account.roles]);
  const { busy, error, submit } = useSubmit<void>(async () => {
    await api('PUT', `/users/${account.id}/roles`, { roles });
    onSaved();
  });
  return (
    <Modal open title={t('admin.users.rolesOf', { username: account.username })} onCancel={onClose} onOk={() => void submit()} okText={t('admin.save')} confirmLoading={busy} okButtonProps={{ 'data-testid': 'save-roles' } as Record<string, string>}>
      <Typography.Paragraph type="secondary">{t('admin.users.separation')}</Typography.Paragraph>
      <Checkbox.Group value={roles} onChange={(v) => setRoles(v.map(String))} data-testid="role-choices">
        <Space orientation="vertical">
          {ROLES.map((r) => (
            <Checkbox key={r} value={r}>
              {t(`role.${r}`)}
            </Checkbox>
          ))}
        </Space>
      </Checkbox.Group>
      {error ? <Alert type="error" showIcon role="alert" data-testid="roles-error" title={errorMessage(lang, error)} style={{ marginTop: 12 }} /> : null}
    </Modal>
  );
}
