import { Alert, Button, Segmented, Space, Table, Tag, Typography } from 'antd';
import { useEffect, useState, type HTMLAttributes } from 'react';
import { api, queryString } from '../api';
import type { RequestStatus, ShareRequest } from '../api-requests';
import { errorMessage } from '../errors';
import { useI18n } from '../i18n/context';
import { contentLanguage, formatDate, formatDateTime } from '../i18n/i18n';
import { navigate } from '../router';
import { byDeadline, chinaToday, deadlineState } from './request-logic';

/** Which list: the agency's own requests, the provider's review queue, or the supervisor's queues. */
export type RequestListKind = 'mine' | 'reviews' | 'arbitration';

const QUEUES: Readonly<Record<RequestListKind, { readonly title: string; readonly filters: readonly { readonly key: string; readonly query: Record<string, string | boolean | readonly string[]> }[] }>> = {
  mine: {
    title: 'requests.mineTitle',
    filters: [
      { key: 'requests.filter.all', query: { side: 'consumer' } },
      { key: 'requests.filter.pending', query: { side: 'consumer', status: ['conformance', 'review', 'infoRequested'] } },
      { key: 'requests.filter.decided', query: { side: 'consumer', status: ['granted', 'refused', 'nonConforming', 'disputed', 'withdrawn'] } },
    ],
  },
  reviews: {
    title: 'requests.reviewsTitle',
    filters: [
      { key: 'requests.filter.toReview', query: { side: 'provider', status: ['review', 'infoRequested'] } },
      { key: 'requests.filter.overdue', query: { side: 'provider', overdue: true } },
      { key: 'requests.filter.all', query: { side: 'provider' } },
    ],
  },
  arbitration: {
    title: 'requests.arbitrationTitle',
    filters: [
      { key: 'requests.filter.disputed', query: { status: ['disputed'] } },
      { key: 'requests.filter.conformance', query: { status: ['conformance'] } },
      { key: 'requests.filter.overdue', query: { overdue: true } },
      { key: 'requests.filter.all', query: {} },
    ],
  },
};

export function RequestListPage({ kind }: { readonly kind: RequestListKind }) {
  const { t, lang } = useI18n();
  const queue = QUEUES[kind];
  const [filter, setFilter] = useState(queue.filters[0]!.key);
  const [rows, setRows] = useState<readonly ShareRequest[] | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    let live = true;
    setRows(null);
    setError(null);
    const f = queue.filters.find((x) => x.key === filter) ?? queue.filters[0]!;
    api<{ items: ShareRequest[] }>('GET', `/share-requests${queryString({ ...f.query, lang: contentLanguage(lang), limit: 200 })}`)
      .then((r) => live && setRows(kind === 'mine' ? r.items : byDeadline(r.items)))
      .catch((e: unknown) => live && setError(e));
    return () => {
      live = false;
    };
  }, [filter, kind, lang, queue]);

  const today = chinaToday();
  return (
    <Space orientation="vertical" size="middle" style={{ width: '100%' }}>
      <Typography.Title level={2}>{t(queue.title)}</Typography.Title>
      <Space wrap>
        <Segmented value={filter} onChange={(v) => setFilter(String(v))} options={queue.filters.map((f) => ({ value: f.key, label: t(f.key) }))} aria-label={t('requests.filter.label')} />
        {kind === 'mine' ? (
          <Button onClick={() => navigate('/catalog')} data-testid="find-resource">
            {t('requests.findResource')}
          </Button>
        ) : null}
      </Space>
      {error ? <Alert type="error" showIcon role="alert" title={errorMessage(lang, error)} /> : null}
      <Table<ShareRequest>
        data-testid="request-list"
        rowKey="id"
        size="small"
        loading={rows === null && !error}
        dataSource={rows ? [...rows] : []}
        pagination={{ pageSize: 20, hideOnSinglePage: true }}
        rowClassName={(r) => (deadlineState(r, today) === 'overdue' ? 'gs-row-overdue' : '')}
        onRow={(r) => ({ 'data-testid': 'request-row', 'data-number': r.number }) as HTMLAttributes<HTMLElement>}
        columns={[
          { title: t('requests.number'), dataIndex: 'number', width: 90, render: (n: number, r) => <a href={`/requests/${r.id}`} onClick={(e) => { e.preventDefault(); navigate(`/requests/${r.id}`); }}>{n}</a> },
          { title: t('requests.resource'), render: (_, r) => r.resource.name },
          { title: kind === 'mine' ? t('catalog.provider') : t('requests.consumer'), render: (_, r) => (kind === 'mine' ? r.provider.name : `${r.consumer.name} · ${r.system.name}`) },
          { title: t('requests.status'), dataIndex: 'status', render: (s: RequestStatus) => <Tag>{t(`requestStatus.${s}`)}</Tag> },
          {
            title: t('requests.deadline'),
            render: (_, r) => {
              const state = deadlineState(r, today);
              if (!r.deadline) return '—';
              return (
                <Space>
                  {formatDate(lang, r.deadline.dueOn)}
                  {state === 'overdue' ? <Tag color="red">{t('requests.overdue')}</Tag> : state === 'dueSoon' ? <Tag color="orange">{t('requests.dueSoon')}</Tag> : null}
                </Space>
              );
            },
          },
          { title: t('requests.filedAt'), dataIndex: 'createdAt', render: (at: string) => formatDateTime(lang, at) },
        ]}
      />
    </Space>
  );
}
