import { Alert, Button, DatePicker, Descriptions, Form, Input, Select, Space, Table, Tag, Typography } from 'antd';
import { useCallback, useEffect, useState } from 'react';
import { api, download, queryString } from '../api';
import { errorMessage } from '../errors';
import { useI18n } from '../i18n/context';
import { formatDateTime } from '../i18n/i18n';

interface AuditEvent {
  readonly id: number;
  readonly seq: number;
  readonly at: string;
  readonly actorType: string;
  readonly actorName: string;
  readonly action: string;
  readonly targetType: string | null;
  readonly targetId: string | null;
  readonly outcome: 'success' | 'failure' | 'denied';
  readonly requestId: string | null;
  readonly ip: string | null;
  readonly details: Readonly<Record<string, unknown>>;
  readonly hash: string | null;
}

interface Filters {
  readonly range?: readonly [{ toISOString: () => string } | null, { toISOString: () => string } | null] | null;
  readonly action?: string;
  readonly actorName?: string;
  readonly targetId?: string;
  readonly outcome?: string;
}

const OUTCOMES = ['success', 'failure', 'denied'] as const;
const colour = { success: 'green', failure: 'orange', denied: 'red' } as const;

/** The query of the filters as the audit API takes it; the same for the search and the export. */
function queryOf(f: Filters): Record<string, string | undefined> {
  return {
    from: f.range?.[0]?.toISOString(),
    to: f.range?.[1]?.toISOString(),
    action: f.action?.trim() || undefined,
    actorName: f.actorName?.trim() || undefined,
    targetId: f.targetId?.trim() || undefined,
    outcome: f.outcome || undefined,
  };
}

/** 审计 (auditor): search the audit trail, newest first, page by page; export what the filters match as CSV. */
export function AuditPage() {
  const { t, lang } = useI18n();
  const [filters, setFilters] = useState<Filters>({});
  const [rows, setRows] = useState<readonly AuditEvent[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);

  const search = useCallback(async (f: Filters, before?: string) => {
    setError(null);
    try {
      const r = await api<{ items: AuditEvent[]; next: string | null }>('GET', `/audit/events${queryString({ ...queryOf(f), before, limit: 50 })}`);
      setRows((old) => (before && old ? [...old, ...r.items] : r.items));
      setNext(r.next);
    } catch (e) {
      setError(e);
    }
  }, []);
  useEffect(() => {
    void search({});
  }, [search]);

  return (
    <Space orientation="vertical" size="middle" style={{ width: '100%' }}>
      <Typography.Title level={2}>{t('audit.title')}</Typography.Title>
      <Form<Filters>
        layout="inline"
        onFinish={(v) => {
          setFilters(v);
          setRows(null);
          void search(v);
        }}
      >
        <Form.Item name="range" label={t('audit.range')}>
          <DatePicker.RangePicker showTime />
        </Form.Item>
        <Form.Item name="action" label={t('audit.action')}>
          <Input style={{ width: 180 }} placeholder="user.create" />
        </Form.Item>
        <Form.Item name="actorName" label={t('audit.actor')}>
          <Input style={{ width: 140 }} />
        </Form.Item>
        <Form.Item name="targetId" label={t('audit.target')}>
          <Input style={{ width: 160 }} />
        </Form.Item>
        <Form.Item name="outcome" label={t('audit.outcome')}>
          <Select allowClear style={{ width: 110 }} options={OUTCOMES.map((o) => ({ value: o, label: t(`audit.outcome.${o}`) }))} />
        </Form.Item>
        <Space>
          <Button type="primary" htmlType="submit" data-testid="audit-search">
            {t('audit.search')}
          </Button>
          <Button data-testid="audit-export" onClick={() => void download(`/audit/events/export${queryString(queryOf(filters))}`, 'audit-events.csv').catch((e: unknown) => setError(e))}>
            {t('audit.export')}
          </Button>
        </Space>
      </Form>
      {error ? <Alert type="error" showIcon role="alert" title={errorMessage(lang, error)} /> : null}
      <Table<AuditEvent>
        data-testid="audit-list"
        rowKey="id"
        size="small"
        loading={rows === null && !error}
        dataSource={rows ? [...rows] : []}
        pagination={false}
        expandable={{
          expandedRowRender: (e) => (
            <Descriptions size="small" column={1} bordered>
              <Descriptions.Item label={t('audit.seq')}>{e.seq}</Descriptions.Item>
              <Descriptions.Item label={t('audit.hash')}>
                <Typography.Text code>{e.hash ?? '—'}</Typography.Text>
              </Descriptions.Item>
              <Descriptions.Item label={t('audit.requestId')}>{e.requestId ?? '—'}</Descriptions.Item>
              <Descriptions.Item label={t('audit.ip')}>{e.ip ?? '—'}</Descriptions.Item>
              <Descriptions.Item label={t('audit.details')}>
                <pre style={{ margin: 0, whiteSpace: 'pre-wrap' }}>{JSON.stringify(e.details, null, 2)}</pre>
              </Descriptions.Item>
            </Descriptions>
          ),
        }}
        columns={[
          { title: t('audit.at'), render: (_, e) => formatDateTime(lang, e.at), width: 170 },
          { title: t('audit.actor'), render: (_, e) => `${e.actorName} (${e.actorType})` },
          { title: t('audit.action'), dataIndex: 'action' },
          { title: t('audit.target'), render: (_, e) => (e.targetType ? `${e.targetType} ${e.targetId ?? ''}` : '—') },
          { title: t('audit.outcome'), render: (_, e) => <Tag color={colour[e.outcome]}>{t(`audit.outcome.${e.outcome}`)}</Tag> },
        ]}
      />
      {next ? (
        <Button onClick={() => void search(filters, next)} data-testid="audit-more">
          {t('audit.more')}
        </Button>
      ) : null}
    </Space>
  );
}
